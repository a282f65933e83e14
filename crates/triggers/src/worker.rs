//! One node/python worker process and the invocations it runs.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::callers::Callers;
use crate::local::STAND_IN_SESSION_TOKEN;
use crate::protocol::{error_fields, read_frame, request_line, Frame, ReadError, MAX_PAYLOAD};

/// Everything needed to start a worker.
#[derive(Clone)]
pub(crate) struct LaunchPlan {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

/// Per-invocation log buffer with a ceiling, so a chatty handler cannot exhaust memory.
#[derive(Default)]
pub(crate) struct Logs {
    text: String,
    truncated: bool,
}

const MAX_LOGS: usize = 1024 * 1024;
const MAX_STRAY: usize = 64 * 1024;

impl Logs {
    pub fn push(&mut self, s: &str) {
        if self.truncated {
            return;
        }
        let room = MAX_LOGS.saturating_sub(self.text.len());
        if s.len() <= room {
            self.text.push_str(s);
        } else {
            let mut cut = room;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            self.text.push_str(&s[..cut]);
            self.text.push_str("\n[cognate: further output truncated]\n");
            self.truncated = true;
        }
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

/// Why a worker invocation produced no result.
pub(crate) enum Failure {
    Function {
        error_type: Option<String>,
        message: String,
        worker_usable: bool,
    },
    /// The result could not be serialised; the worker itself is fine.
    Invalid(String),
    /// The worker process is gone; the message reads like Lambda's.
    Crashed(String),
    /// The worker broke the protocol; it must be discarded.
    Protocol(String),
}

impl Failure {
    pub fn worker_usable(&self) -> bool {
        match self {
            Failure::Function { worker_usable, .. } => *worker_usable,
            Failure::Invalid(_) => true,
            Failure::Crashed(_) | Failure::Protocol(_) => false,
        }
    }
}

pub(crate) struct Worker {
    child: Child,
    requests: pipe::Sender,
    replies: BufReader<pipe::Receiver>,
    /// What the process wrote to its real stdout/stderr (native code, child processes).
    stray: Arc<Mutex<Vec<u8>>>,
    stray_readers: Vec<JoinHandle<()>>,
    frame: Vec<u8>,
    /// The worker's own session token and where its invocations are recorded, when it runs
    /// with cognate's stand-in credentials (see `callers`).
    session: Option<(String, Callers)>,
}

fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    // SAFETY: fds is a valid array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd"
    )))]
    // SAFETY: fds is a valid array; the descriptors are marked close-on-exec right after.
    let rc = unsafe {
        let rc = libc::pipe(fds.as_mut_ptr());
        if rc == 0 {
            libc::fcntl(fds[0], libc::F_SETFD, libc::FD_CLOEXEC);
            libc::fcntl(fds[1], libc::F_SETFD, libc::FD_CLOEXEC);
        }
        rc
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn collect_stray<R: AsyncRead + Unpin + Send + 'static>(mut from: R, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut stray = into.lock().unwrap_or_else(|e| e.into_inner());
                    let room = MAX_STRAY.saturating_sub(stray.len());
                    stray.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
    })
}

/// Renders an exit status the way Lambda (Go's os/exec) words it.
fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(libc::SIGKILL) => "signal: killed".into(),
        Some(libc::SIGSEGV) => "signal: segmentation fault".into(),
        Some(libc::SIGABRT) => "signal: aborted".into(),
        Some(libc::SIGTERM) => "signal: terminated".into(),
        Some(libc::SIGBUS) => "signal: bus error".into(),
        Some(libc::SIGILL) => "signal: illegal instruction".into(),
        Some(libc::SIGFPE) => "signal: floating point exception".into(),
        Some(sig) => format!("signal: {sig}"),
        None => "unknown exit".into(),
    }
}

impl Worker {
    /// Starts the process. Its handler loads in the background; `wait_ready` collects the verdict.
    pub fn spawn(plan: &LaunchPlan, callers: &Callers) -> io::Result<Worker> {
        let (req_read, req_write) = cloexec_pipe()?;
        let (rep_read, rep_write) = cloexec_pipe()?;
        let child_req = req_read.as_raw_fd();
        let child_rep = rep_write.as_raw_fd();

        let mut cmd = Command::new(&plan.program);
        cmd.args(&plan.args)
            .env_clear()
            .envs(plan.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&plan.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a kill also reaches anything the handler spawned.
            .process_group(0)
            .kill_on_drop(true);
        // SAFETY: only async-signal-safe calls (fcntl, dup2, close) run between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // Lift both ends above 4 first so placing one cannot clobber the other.
                let req = libc::fcntl(child_req, libc::F_DUPFD, 10);
                let rep = libc::fcntl(child_rep, libc::F_DUPFD, 10);
                if req < 0 || rep < 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::dup2(req, 3) < 0 || libc::dup2(rep, 4) < 0 {
                    return Err(io::Error::last_os_error());
                }
                libc::close(req);
                libc::close(rep);
                Ok(())
            });
        }
        // A token of its own tells which invocation an SES or SNS call came from. Only the
        // stand-in credentials are replaced: a function's real identity stays as configured.
        let stand_in = plan.env.iter().any(|(k, v)| k == "AWS_SESSION_TOKEN" && v == STAND_IN_SESSION_TOKEN);
        let session = stand_in.then(|| (format!("cognate-{}", uuid::Uuid::new_v4().simple()), callers.clone()));
        if let Some((token, _)) = &session {
            cmd.env("AWS_SESSION_TOKEN", token);
        }
        let mut child = cmd.spawn()?;
        // The child holds its own copies; ours must close or EOF never arrives.
        drop(req_read);
        drop(rep_write);

        let stray = Arc::new(Mutex::new(Vec::new()));
        let mut stray_readers = Vec::with_capacity(2);
        if let Some(out) = child.stdout.take() {
            stray_readers.push(collect_stray(out, stray.clone()));
        }
        if let Some(err) = child.stderr.take() {
            stray_readers.push(collect_stray(err, stray.clone()));
        }
        Ok(Worker {
            child,
            requests: pipe::Sender::from_owned_fd(req_write)?,
            replies: BufReader::with_capacity(64 * 1024, pipe::Receiver::from_owned_fd(rep_read)?),
            stray,
            stray_readers,
            frame: Vec::new(),
            session,
        })
    }

    /// Records whose invocation the worker runs now, for the SDK calls its handler makes.
    pub fn note_invocation(&self, event: &Value) {
        if let Some((token, callers)) = &self.session {
            callers.set(token, event);
        }
    }

    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until the handler module has loaded.
    pub async fn wait_ready(&mut self, request_id: &str, logs: &mut Logs) -> Result<(), Failure> {
        loop {
            match read_frame(&mut self.replies, &mut self.frame).await {
                Ok(Frame::Ready) => return Ok(()),
                Ok(Frame::Log { d }) => logs.push(&d),
                Ok(Frame::InitError { error }) => {
                    let (error_type, message) = error_fields(&error);
                    return Err(Failure::Function { error_type, message, worker_usable: false });
                }
                Ok(_) => return Err(Failure::Protocol("worker answered before it was ready".into())),
                Err(e) => return Err(self.read_failure(e, request_id, logs).await),
            }
        }
    }

    /// Runs one invocation. The caller bounds it with the deadline and discards the worker
    /// if the future is dropped half-way.
    pub async fn invoke(
        &mut self,
        request_id: &str,
        deadline_epoch_ms: u128,
        event: &Value,
        logs: &mut Logs,
    ) -> Result<Value, Failure> {
        let line = request_line(request_id, deadline_epoch_ms, event)
            .map_err(|e| Failure::Protocol(format!("event is not serialisable: {e}")))?;
        if self.requests.write_all(&line).await.is_err() {
            return Err(self.crashed(request_id, logs).await);
        }
        let outcome = loop {
            match read_frame(&mut self.replies, &mut self.frame).await {
                Ok(Frame::Log { d }) => logs.push(&d),
                Ok(Frame::Result { id, payload }) if id == request_id => break Ok(payload),
                Ok(Frame::Error { id, error, fatal }) if id == request_id => {
                    let (error_type, message) = error_fields(&error);
                    break Err(Failure::Function { error_type, message, worker_usable: !fatal });
                }
                Ok(Frame::Invalid { id, message }) if id == request_id => break Err(Failure::Invalid(message)),
                // A late answer to an earlier invocation that already timed out elsewhere.
                Ok(Frame::Result { .. } | Frame::Error { .. } | Frame::Invalid { .. }) => continue,
                Ok(Frame::Ready | Frame::InitError { .. }) => {
                    break Err(Failure::Protocol("worker sent an unexpected frame".into()))
                }
                Err(e) => break Err(self.read_failure(e, request_id, logs).await),
            }
        };
        self.drain_stray(logs);
        outcome
    }

    async fn read_failure(&mut self, err: ReadError, request_id: &str, logs: &mut Logs) -> Failure {
        match err {
            ReadError::Eof | ReadError::Io => self.crashed(request_id, logs).await,
            ReadError::TooLarge => Failure::Protocol(format!(
                "Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes)."
            )),
            ReadError::Malformed => Failure::Protocol("worker sent a malformed frame".into()),
        }
    }

    /// The reply channel closed: the process is exiting. Collect how it ended.
    async fn crashed(&mut self, request_id: &str, logs: &mut Logs) -> Failure {
        let reason = match tokio::time::timeout(Duration::from_secs(1), self.child.wait()).await {
            Ok(Ok(status)) => format!("Runtime exited with error: {}", describe_exit(status)),
            _ => {
                self.kill().await;
                "Runtime exited without providing a reason".to_string()
            }
        };
        self.finish_stray(logs).await;
        Failure::Crashed(format!("RequestId: {request_id} Error: {reason}"))
    }

    fn drain_stray(&self, logs: &mut Logs) {
        let mut stray = self.stray.lock().unwrap_or_else(|e| e.into_inner());
        if !stray.is_empty() {
            logs.push(&String::from_utf8_lossy(&stray));
            stray.clear();
        }
    }

    /// After the process died, give its stdout/stderr a moment to reach EOF (a grandchild
    /// may still hold them open, hence the bound).
    pub async fn finish_stray(&mut self, logs: &mut Logs) {
        for reader in self.stray_readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_millis(200), reader).await;
        }
        self.drain_stray(logs);
    }

    fn kill_group(&self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: plain syscall; the pid is unreaped, so its group id cannot be recycled yet.
            unsafe {
                libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
            }
        }
    }

    pub async fn kill(&mut self) {
        self.kill_group();
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some((token, callers)) = &self.session {
            callers.remove(token);
        }
        self.kill_group();
        for reader in &self.stray_readers {
            reader.abort();
        }
    }
}
