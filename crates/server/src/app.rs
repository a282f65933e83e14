//! Assembling and running a server: store, service, configuration, listener, shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt as _;

use cognate_core::ports::{Clock, SystemClock};
use cognate_core::{Service, ServiceConfig};
use cognate_crypto::seal::MasterKey;
use cognate_store::SqlStore;
use rand::RngCore;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinHandle;

use crate::auth::{Mode, Security};
use crate::cli::ServeArgs;
use crate::config::{Config, HttpSettings};
use crate::delivery::{Delivery, DeliveryWorker};
use crate::functions::{FunctionsInvoker, InvokerSettings};
use crate::invocations::InvocationLog;
use crate::limits::{Limits, TimedBody};
use crate::metrics::{MeteredInvoker, Metrics};
use crate::wire::{self, AppState};

/// Everything `serve` needs, whether from the command line or a test.
#[derive(Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub config: Option<PathBuf>,
    pub region: String,
    /// The account id in ARNs.
    pub account_id: String,
    pub public_url: Option<String>,
    /// 32-byte key (base64 or hex) sealing secrets at rest; else `<data-dir>/master.key`.
    pub master_key: Option<String>,
    /// How the user gave `master_key` (`--master-key` or `COGNATE_MASTER_KEY`), for messages.
    pub master_key_origin: &'static str,
    /// The clock; tests substitute one they can move.
    pub clock: Arc<dyn Clock>,
    /// dev (the default) or secure: see [`crate::auth`].
    pub mode: Mode,
}

impl From<ServeArgs> for ServeOptions {
    fn from(a: ServeArgs) -> Self {
        Self {
            listen: a.listen,
            data_dir: a.data_dir,
            database_url: a.database_url,
            config: a.config,
            region: a.region,
            account_id: a.account_id,
            public_url: a.public_url,
            master_key: a.master_key,
            master_key_origin: "--master-key",
            clock: Arc::new(SystemClock),
            mode: a.mode,
        }
    }
}

impl ServeOptions {
    /// Defaults for a server on an ephemeral port with its data in `data_dir`.
    pub fn ephemeral(data_dir: PathBuf) -> Self {
        Self {
            listen: "127.0.0.1:0".parse().expect("literal address"),
            data_dir,
            database_url: None,
            config: None,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            public_url: None,
            master_key: None,
            master_key_origin: "--master-key",
            clock: Arc::new(SystemClock),
            mode: Mode::Dev,
        }
    }
}

/// A running server.
pub struct Running {
    addr: SocketAddr,
    public_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    store: SqlStore,
    invoker: FunctionsInvoker,
    delivery: Option<DeliveryWorker>,
    housekeeping: JoinHandle<()>,
    purging: Option<JoinHandle<()>>,
    imports: Option<crate::imports::ImportWorker>,
    summary: StartSummary,
}

/// What a newcomer wants to see when the server starts: where its data and configuration are
/// and which functions it can run.
#[derive(Debug, Clone)]
pub struct StartSummary {
    /// The SQLite file, or the database URL without its password.
    pub database: String,
    pub data_dir: PathBuf,
    /// The configuration file in use, if any.
    pub config: Option<PathBuf>,
    /// Declared functions: name and how each runs (e.g. `node ./pre-sign-up.mjs`).
    pub functions: Vec<(String, String)>,
    /// dev or secure.
    pub mode: Mode,
    /// In secure mode: how many access keys sign calls, and the origins that get CORS headers.
    pub access_keys: usize,
    pub cors_origins: Vec<String>,
}

impl Running {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL clients use, e.g. `http://127.0.0.1:9229`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn summary(&self) -> &StartSummary {
        &self.summary
    }

    /// The invoker the service runs triggers through (its log is `/_cognate/invocations`).
    pub fn invoker(&self) -> &FunctionsInvoker {
        &self.invoker
    }

    /// Stops accepting, lets in-flight requests finish, then stops delivering messages, stops
    /// the function workers and closes the store.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait().await;
    }

    /// Waits until the server has stopped (after a shutdown signal).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
        self.housekeeping.abort();
        if let Some(purging) = self.purging.take() {
            purging.abort();
        }
        if let Some(imports) = self.imports.take() {
            imports.shutdown().await;
        }
        if let Some(delivery) = self.delivery.take() {
            delivery.shutdown().await;
        }
        self.invoker.shutdown().await;
        self.store.close().await;
    }

    /// A handle that triggers graceful shutdown when sent to.
    pub fn take_stopper(&mut self) -> Option<oneshot::Sender<()>> {
        self.stop.take()
    }
}

/// The access policy: secure mode needs at least one access key to be usable at all.
fn security(opts: &ServeOptions, config: &Config) -> Result<Security, String> {
    let mut security = Security::dev(&opts.region, opts.clock.clone());
    if opts.mode == Mode::Dev {
        return Ok(security);
    }
    if config.access_keys.is_empty() {
        let found = match &config.path {
            Some(path) => format!("{} declares none", path.display()),
            None => "there is no config file (./cognate.toml or --config)".to_owned(),
        };
        return Err(format!(
            "secure mode needs access keys to verify signatures with, and {found}: add \
             [[access_keys]] with id = \"…\" and secret_env = \"NAME_OF_A_VARIABLE_HOLDING_THE_SECRET\" \
             (or secret = \"…\"), or run in dev mode"
        ));
    }
    security.mode = Mode::Secure;
    security.keys = config.access_keys.clone();
    security.cors_origins = config.http.cors_origins.clone();
    Ok(security)
}

fn database_url(opts: &ServeOptions) -> Result<String, String> {
    if let Some(url) = &opts.database_url {
        return Ok(url.clone());
    }
    create_data_dir(&opts.data_dir)?;
    let file = opts.data_dir.join("cognate.db");
    Ok(format!("sqlite://{}?mode=rwc", file.display()))
}

/// Creates the data dir, readable by its owner only (it holds the database and the master key).
fn create_data_dir(dir: &std::path::Path) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| format!("cannot create data dir {}: {e}", dir.display()))
}

/// The data dir as an absolute path: everything under it (deployed functions' packages, say)
/// is handed to processes that run elsewhere, so a relative path must not be joined twice.
fn absolute_data_dir(dir: &std::path::Path) -> Result<PathBuf, String> {
    std::path::absolute(dir).map_err(|e| format!("cannot resolve data dir {}: {e}", dir.display()))
}

fn config_path(opts: &ServeOptions) -> Option<PathBuf> {
    opts.config.clone().or_else(|| {
        let default = PathBuf::from("cognate.toml");
        default.exists().then_some(default)
    })
}

/// The master key: `--master-key` / `COGNATE_MASTER_KEY` (base64 or hex, 32 bytes) when set,
/// else `<data-dir>/master.key`, generated on first start. Servers sharing a database must
/// share it.
fn master_key(opts: &ServeOptions) -> Result<MasterKey, String> {
    if let Some(k) = &opts.master_key {
        return MasterKey::parse(k)
            .map_err(|_| format!("{} must be 32 bytes in base64 or hex", opts.master_key_origin));
    }
    create_data_dir(&opts.data_dir)?;
    let path = opts.data_dir.join("master.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => MasterKey::parse(text.trim()).map_err(|_| format!("{}: not a valid master key", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // The operating system's generator, not aws-lc's: seeding aws-lc's costs tens of
            // milliseconds, which first start-up need not pay.
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let key = MasterKey::from_bytes(&bytes).map_err(|e| format!("cannot create a master key: {e}"))?;
            write_private(&path, &key.export_base64())?;
            tracing::info!(path = %path.display(), "generated a new master key");
            Ok(key)
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn write_private(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Opens the store, applies the configuration and starts listening.
pub async fn start(mut opts: ServeOptions) -> Result<Running, String> {
    let config = match config_path(&opts) {
        Some(path) => Config::load(&path)?,
        None => Config::default(),
    };
    let security = security(&opts, &config)?;
    // Nothing is written (data dir, master key, database) before the port is ours: a second
    // server started by mistake must leave the first one's files alone.
    let listener =
        TcpListener::bind(opts.listen).await.map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
    opts.data_dir = absolute_data_dir(&opts.data_dir)?;
    let master = master_key(&opts)?;
    let db_url = database_url(&opts)?;
    let store = SqlStore::connect(&db_url).await?;
    let summary = StartSummary {
        database: match &opts.database_url {
            Some(url) => cognate_store::redact(url),
            None => opts.data_dir.join("cognate.db").display().to_string(),
        },
        data_dir: opts.data_dir.clone(),
        config: config.path.clone(),
        functions: config.functions.iter().map(|(name, f)| (name.clone(), f.describe())).collect(),
        mode: security.mode,
        access_keys: security.keys.len(),
        cors_origins: security.cors_origins.clone(),
    };
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let public_url = opts.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let settings = InvokerSettings {
        region: opts.region.clone(),
        account_id: opts.account_id.clone(),
        public_url: public_url.clone(),
        clock: opts.clock.clone(),
    };
    let invoker = FunctionsInvoker::from_config(&config, &settings, InvocationLog::default());
    invoker.attach_store(Arc::new(store.clone()), opts.data_dir.join("functions"));
    warn_missing_interpreters(&config);
    if !addr.ip().is_loopback() && security.mode == Mode::Dev {
        tracing::warn!(
            "DEV MODE listening on {addr}, reachable from the network: every API call is open to whoever \
             reaches it (no signatures are checked, CORS answers any origin); the dev endpoints (/_cognate/*, \
             the Lambda API, KMS, SES / SNS capture) are refused to non-loopback peers. Use --mode secure \
             with [[access_keys]] in cognate.toml to expose cognate"
        );
    }
    let delivery =
        Delivery::from_config(&config, Arc::new(store.clone()), opts.clock.clone(), Arc::new(master.clone()))?;
    let metrics = Arc::new(Metrics::new());
    if delivery.is_active() {
        metrics.watch_queue(Arc::new(store.clone()));
    }
    let limits = Arc::new(Limits::new(&config.limits, security.mode));
    let service = Service::new(
        Arc::new(store.clone()),
        opts.clock.clone(),
        ServiceConfig {
            seal_outbox_codes: security.mode == Mode::Secure,
            account_id: opts.account_id.clone(),
            ..ServiceConfig::new(&opts.region, &public_url, master)
        },
    )
    .with_invoker(Arc::new(MeteredInvoker::new(invoker.clone(), metrics.clone())))
    .with_sender(Arc::new(delivery.clone()));
    config.apply(&service).await?;
    // Without a transport nothing is ever queued, so nothing needs polling.
    let delivery = delivery.is_active().then(|| delivery.start());
    let housekeeping = tokio::spawn(housekeeping(service.clone(), opts.clock.clone(), config.delivery));
    let imports = Some(crate::imports::start(service.clone()));
    let purging = limits.start_purging();
    let app = wire::router(AppState {
        service,
        invoker: invoker.clone(),
        trusted_hosts: wire::trusted_hosts(addr, &public_url),
        security,
        limits,
        metrics: metrics.clone(),
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app, config.http.clone(), metrics, stopped));
    Ok(Running {
        addr,
        public_url,
        stop: Some(stop),
        task,
        store,
        invoker,
        delivery,
        housekeeping,
        purging,
        imports,
        summary,
    })
}

/// How long shutdown waits for open connections (a console's live view never ends by itself).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The listener: HTTP/1.1 connections, at most `max_connections` at once, each with a deadline
/// for a request's headers (`header_timeout`, which also ends idle keep-alive connections) and
/// its body (`body_timeout`).
///
/// At the cap, cognate stops accepting: new connections wait in the kernel's listen backlog
/// until a served one closes, rather than being refused. A burst of honest clients is slowed,
/// not failed, and the timeouts bound how long a slow or idle client can hold a slot.
async fn serve(
    listener: TcpListener,
    app: Router,
    http: HttpSettings,
    metrics: Arc<Metrics>,
    mut stopped: oneshot::Receiver<()>,
) {
    let slots = Arc::new(Semaphore::new(http.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut warned: Option<Instant> = None;
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                metrics.connection_cap_reached();
                if warned.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                    warned = Some(Instant::now());
                    tracing::warn!(
                        max_connections = http.max_connections,
                        "connection cap reached: new connections wait until one closes ([http] max_connections)"
                    );
                }
                tokio::select! {
                    permit = slots.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    _ = &mut stopped => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it was accepted: keep
                    // serving the others.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let _ = stream.set_nodelay(true);
        let open = metrics.connection_opened();
        let app = app.clone();
        let body_timeout = http.body_timeout;
        let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let mut req = req.map(|body| Body::new(TimedBody::new(body, body_timeout)));
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req)
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(http.header_timeout);
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Errors here are the client's: it went away, or was too slow with its headers.
            if let Err(e) = connection.await {
                tracing::debug!(peer = %peer, error = %e, "connection ended");
            }
            drop(open);
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("shutdown: connections still open after {SHUTDOWN_GRACE:?}; closing them");
    }
}

/// Hourly upkeep: expired refresh-token lineages are deleted so the table does not grow with
/// every sign-in ever made, outbox messages older than `[delivery] outbox_days`, and the CSV
/// uploads of import jobs that expired without being started. Servers
/// sharing a database may all run it; deleting twice is harmless.
async fn housekeeping(service: Service, clock: Arc<dyn Clock>, delivery: crate::config::DeliverySettings) {
    // Out of start-up's way, then hourly (an interval's first tick is immediate).
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match service.purge_expired_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "housekeeping: deleted expired refresh sessions"),
            Err(e) => tracing::warn!(error = %e, "housekeeping: cannot purge expired refresh sessions"),
        }
        let now = clock.now_millis();
        match crate::delivery::purge_outbox(service.store().as_ref(), now, &delivery).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(purged = n, "housekeeping: deleted outbox messages older than [delivery] outbox_days")
            }
            Err(e) => tracing::warn!(error = %e, "housekeeping: cannot purge old outbox messages"),
        }
        match service.purge_expired_import_uploads().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "housekeeping: deleted the uploads of expired import jobs"),
            Err(e) => tracing::warn!(error = %e, "housekeeping: cannot purge expired import uploads"),
        }
    }
}

/// A declared node or python function whose interpreter is missing fails when invoked, not at
/// start; say so early. Probing runs a process, so it happens off the start path.
fn warn_missing_interpreters(config: &Config) {
    let mut wanted = Vec::new();
    for (runtime, bin) in [("node", &config.runtimes.node), ("python", &config.runtimes.python)] {
        if config.functions.values().any(|f| f.runtime_name() == runtime) {
            wanted.push((runtime, bin.clone()));
        }
    }
    if wanted.is_empty() {
        return;
    }
    tokio::task::spawn_blocking(move || {
        for (runtime, bin) in wanted {
            if !cognate_triggers::runtime_available(&bin) {
                tracing::warn!(
                    runtime,
                    bin,
                    "`{bin} --version` failed: {runtime} functions will fail until it is installed"
                );
            }
        }
    });
}
