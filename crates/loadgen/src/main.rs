//! `cognate-loadgen`: sign-in throughput of a local Cognito user-pool server.
//!
//! Sets up a pool, an app client and N users through the Cognito JSON API, then signs them in
//! from `--concurrency` keep-alive connections for `--seconds` (or `--count` sign-ins), checking
//! every answer (HTTP 200 and all three tokens), and prints sign-ins/s, latency percentiles,
//! errors and how much CPU the load generator, the server (`--server-pid`) and the whole machine
//! used. Targets must be http://127.0.0.1.

mod api;
mod cpu;
mod floor;
mod srp_fast;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use serde_json::{json, Value};

use api::{check_tokens, str_at, Api, Fixture};
use srp_fast::{ClientKey, Group, UserSecret};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Flow {
    /// InitiateAuth USER_PASSWORD_AUTH (one request per sign-in).
    Password,
    /// InitiateAuth USER_SRP_AUTH + RespondToAuthChallenge PASSWORD_VERIFIER (two requests).
    Srp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SrpClientKind {
    /// Lean client math (256-bit a, per-user x·k·v cached, aws-lc exponentiation).
    Fast,
    /// cognate_crypto::srp::client::Client::password_claim on every sign-in (much more CPU).
    Reference,
}

#[derive(Parser, Debug)]
#[command(name = "cognate-loadgen", version, about = "Sign-in load generator for local Cognito user-pool servers")]
struct Args {
    /// Server base URL; only http://127.0.0.1:PORT is accepted.
    #[arg(long, default_value = "http://127.0.0.1:9229")]
    url: String,
    #[arg(long, value_enum, default_value = "password")]
    flow: Flow,
    /// Sign-ins in flight at once (one connection each).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Length of the measured phase.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Run exactly this many measured sign-ins instead of a fixed duration.
    #[arg(long)]
    count: Option<u64>,
    /// Unmeasured warm-up before the measured phase, seconds.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Users to create and sign in round-robin.
    #[arg(long, default_value_t = 64)]
    users: usize,
    /// The server's process id: report its CPU time (and its descendants') over the run.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Tokio worker threads of the load generator.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Client-side SRP implementation used in the loop.
    #[arg(long, value_enum, default_value = "fast")]
    srp_client: SrpClientKind,
    /// Distinct client secrets `a` (precomputed before the run), used round-robin.
    #[arg(long, default_value_t = 64)]
    srp_keys: usize,
    /// The users' password.
    #[arg(long, default_value = "Loadgen-pass-1!")]
    password: String,
    /// A name for the target in the report (e.g. cognate, moto).
    #[arg(long)]
    label: Option<String>,
    /// Also print a one-line JSON summary.
    #[arg(long)]
    json: bool,
    /// Leave the pool in place afterwards (default: DeleteUserPool).
    #[arg(long)]
    keep: bool,
    /// Sign in to this existing pool instead of creating one (needs --client-id and
    /// --users-file; nothing is created or deleted).
    #[arg(long, requires_all = ["client_id", "users_file"])]
    pool_id: Option<String>,
    /// The existing pool's app client (public, ALLOW_USER_PASSWORD_AUTH / ALLOW_USER_SRP_AUTH).
    #[arg(long, requires = "pool_id")]
    client_id: Option<String>,
    /// User names to sign in round-robin, one a line; each has --password as its password.
    #[arg(long, requires = "pool_id")]
    users_file: Option<std::path::PathBuf>,
    /// Measure the sign-in floors in-process (CPU time of check_password, one RS256 signature,
    /// three 3072-bit modexps) and exit; no server needed.
    #[arg(long, conflicts_with = "pool_id")]
    floor: bool,
    /// Also sample the flow's floor while the measured phase runs (a thread of this process
    /// does one sign-in's floor crypto every 50 ms on its own CPU clock) and print the server's
    /// CPU per sign-in against it. Its CPU is left out of the load generator's figure.
    #[arg(long, conflicts_with = "floor")]
    floor_during: bool,
}

struct Shared {
    api: Api,
    fx: Fixture,
    flow: Flow,
    password: String,
    srp_client: SrpClientKind,
    group: Group,
    keys: Vec<ClientKey>,
    refs: Vec<cognate_crypto::srp::client::Client>,
}

#[derive(Default)]
struct WorkerOut {
    latencies_us: Vec<u32>,
    in_window: u64,
    total_ok: u64,
    errors: u64,
    error_samples: Vec<String>,
    client_math: Duration,
}

/// When a phase ends: at a deadline, or after a shared number of sign-ins.
#[derive(Clone)]
enum Stop {
    At(Instant),
    After(Arc<AtomicI64>),
}

fn check_url(url: &str) -> Result<(), String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("--url {url}: {e}"))?;
    if u.scheme() != "http" || u.host_str() != Some("127.0.0.1") || u.port().is_none() {
        return Err(format!("--url must be http://127.0.0.1:PORT (got {url})"));
    }
    Ok(())
}

async fn password_sign_in(sh: &Shared, user: &str) -> Result<(), String> {
    let body = json!({
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": sh.fx.client_id,
        "AuthParameters": { "USERNAME": user, "PASSWORD": sh.password },
    });
    let v = sh.api.call("InitiateAuth", &body).await.map_err(|e| e.to_string())?;
    check_tokens(&v)
}

async fn srp_sign_in(
    sh: &Shared,
    user: &str,
    key_idx: usize,
    cache: &mut HashMap<String, UserSecret>,
    math: &mut Duration,
) -> Result<(), String> {
    let key = &sh.keys[key_idx % sh.keys.len()];
    let body = json!({
        "AuthFlow": "USER_SRP_AUTH",
        "ClientId": sh.fx.client_id,
        "AuthParameters": { "USERNAME": user, "SRP_A": key.a_hex },
    });
    let ch = sh.api.call("InitiateAuth", &body).await.map_err(|e| e.to_string())?;
    if str_at(&ch, &["ChallengeName"]) != Some("PASSWORD_VERIFIER") {
        return Err(format!(
            "InitiateAuth: expected PASSWORD_VERIFIER, got {}",
            ch.get("ChallengeName").unwrap_or(&Value::Null)
        ));
    }
    let p =
        |k: &str| str_at(&ch, &["ChallengeParameters", k]).ok_or_else(|| format!("ChallengeParameters.{k} missing"));
    let (salt, srp_b, block, user_id, username) =
        (p("SALT")?, p("SRP_B")?, p("SECRET_BLOCK")?, p("USER_ID_FOR_SRP")?, p("USERNAME")?);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let ts = cognate_crypto::srp::format_timestamp(now);
    let t = Instant::now();
    let claim = match sh.srp_client {
        SrpClientKind::Fast => {
            if !cache.contains_key(user_id) {
                let s =
                    UserSecret::new(&sh.group, &sh.fx.pool_id, user_id, &sh.password, salt).ok_or("SALT is not hex")?;
                cache.insert(user_id.to_owned(), s);
            }
            srp_fast::password_claim(&sh.group, key, &cache[user_id], &sh.fx.pool_id, user_id, srp_b, block, &ts)
                .ok_or("SRP_B out of range or SECRET_BLOCK not base64")?
        }
        SrpClientKind::Reference => sh.refs[key_idx % sh.refs.len()]
            .password_claim(&sh.fx.pool_id, user_id, &sh.password, salt, srp_b, block, &ts)
            .map_err(|e| e.to_string())?,
    };
    *math += t.elapsed();
    let body = json!({
        "ChallengeName": "PASSWORD_VERIFIER",
        "ClientId": sh.fx.client_id,
        "ChallengeResponses": {
            "USERNAME": username,
            "PASSWORD_CLAIM_SECRET_BLOCK": block,
            "PASSWORD_CLAIM_SIGNATURE": claim,
            "TIMESTAMP": ts,
        },
    });
    let v = sh.api.call("RespondToAuthChallenge", &body).await.map_err(|e| e.to_string())?;
    check_tokens(&v)
}

async fn worker(id: usize, concurrency: usize, sh: Arc<Shared>, stop: Stop, window_end: Option<Instant>) -> WorkerOut {
    let mut out = WorkerOut::default();
    let mut cache = HashMap::new();
    let n_users = sh.fx.users.len();
    let mut i = id;
    loop {
        match &stop {
            Stop::At(deadline) if Instant::now() >= *deadline => break,
            Stop::After(left) if left.fetch_sub(1, Ordering::Relaxed) <= 0 => break,
            _ => {}
        }
        let user = &sh.fx.users[i % n_users];
        let t0 = Instant::now();
        let r = match sh.flow {
            Flow::Password => password_sign_in(&sh, user).await,
            Flow::Srp => srp_sign_in(&sh, user, i, &mut cache, &mut out.client_math).await,
        };
        let done = Instant::now();
        match r {
            Ok(()) => {
                out.total_ok += 1;
                if window_end.is_none_or(|end| done <= end) {
                    out.in_window += 1;
                    out.latencies_us.push((done - t0).as_micros().min(u32::MAX as u128) as u32);
                }
            }
            Err(e) => {
                out.errors += 1;
                if out.error_samples.len() < 3 {
                    out.error_samples.push(e);
                }
            }
        }
        i += concurrency;
    }
    out
}

async fn run_phase(sh: &Arc<Shared>, concurrency: usize, stop: Stop, window_end: Option<Instant>) -> WorkerOut {
    let tasks: Vec<_> = (0..concurrency)
        .map(|id| tokio::spawn(worker(id, concurrency, sh.clone(), stop.clone(), window_end)))
        .collect();
    let mut all = WorkerOut::default();
    for t in tasks {
        match t.await {
            Ok(o) => {
                all.latencies_us.extend(o.latencies_us);
                all.in_window += o.in_window;
                all.total_ok += o.total_ok;
                all.errors += o.errors;
                all.client_math += o.client_math;
                for e in o.error_samples {
                    if all.error_samples.len() < 5 {
                        all.error_samples.push(e);
                    }
                }
            }
            Err(e) => {
                all.errors += 1;
                all.error_samples.push(format!("worker panicked: {e}"));
            }
        }
    }
    all
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

/// One SRP sign-in checked against the reference client before the run.
async fn srp_preflight(sh: &Shared) -> Result<(), String> {
    let key = &sh.keys[0];
    let user = &sh.fx.users[0];
    let body = json!({
        "AuthFlow": "USER_SRP_AUTH",
        "ClientId": sh.fx.client_id,
        "AuthParameters": { "USERNAME": user, "SRP_A": key.a_hex },
    });
    let ch = sh.api.call("InitiateAuth", &body).await.map_err(|e| e.to_string())?;
    let p = |k: &str| {
        str_at(&ch, &["ChallengeParameters", k])
            .ok_or_else(|| format!("USER_SRP_AUTH: ChallengeParameters.{k} missing"))
    };
    let (salt, srp_b, block, user_id) = (p("SALT")?, p("SRP_B")?, p("SECRET_BLOCK")?, p("USER_ID_FOR_SRP")?);
    let ts = cognate_crypto::srp::format_timestamp(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() as i64,
    );
    let claim = srp_fast::cross_check(&sh.group, key, &sh.fx.pool_id, user_id, &sh.password, salt, srp_b, block, &ts)?;
    let body = json!({
        "ChallengeName": "PASSWORD_VERIFIER",
        "ClientId": sh.fx.client_id,
        "ChallengeResponses": {
            "USERNAME": p("USERNAME")?, "PASSWORD_CLAIM_SECRET_BLOCK": block,
            "PASSWORD_CLAIM_SIGNATURE": claim, "TIMESTAMP": ts,
        },
    });
    let v = sh.api.call("RespondToAuthChallenge", &body).await.map_err(|e| e.to_string())?;
    check_tokens(&v)
}

async fn run(args: Args) -> Result<bool, String> {
    check_url(&args.url)?;
    if args.concurrency == 0 || args.users == 0 {
        return Err("--concurrency and --users must be at least 1".into());
    }
    if !((0.0..=3600.0).contains(&args.seconds) && args.seconds > 0.0 && (0.0..=600.0).contains(&args.warmup)) {
        return Err("--seconds must be in (0, 3600] and --warmup in [0, 600]".into());
    }
    let label = args.label.clone().unwrap_or_else(|| args.url.clone());
    let api = Api::new(&args.url, args.concurrency)?;

    let existing = args.pool_id.is_some();
    let fx = if let (Some(pool_id), Some(client_id), Some(file)) = (&args.pool_id, &args.client_id, &args.users_file) {
        let text = std::fs::read_to_string(file).map_err(|e| format!("--users-file {}: {e}", file.display()))?;
        let users: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
        if users.is_empty() {
            return Err(format!("--users-file {} names no user", file.display()));
        }
        eprintln!("[{label}] existing pool {pool_id}, client {client_id}, {} users", users.len());
        api::Fixture { pool_id: pool_id.clone(), client_id: client_id.clone(), users }
    } else {
        eprintln!("[{label}] setting up a pool, a client and {} users ...", args.users);
        let t = Instant::now();
        let fx = api::setup(&api, args.users, &args.password, args.concurrency.min(16)).await?;
        eprintln!(
            "[{label}] setup done in {:.1} s (pool {}, client {})",
            t.elapsed().as_secs_f64(),
            fx.pool_id,
            fx.client_id
        );
        fx
    };
    let n_users = fx.users.len();

    let (keys, refs) = if args.flow == Flow::Srp {
        cognate_crypto::srp::warm_up();
        let t = Instant::now();
        let keys: Vec<ClientKey> = (0..args.srp_keys.max(1)).map(|_| ClientKey::random()).collect();
        let refs = if args.srp_client == SrpClientKind::Reference {
            keys.iter().map(ClientKey::reference).collect()
        } else {
            Vec::new()
        };
        eprintln!("[{label}] precomputed {} client values A in {:.0} ms", keys.len(), t.elapsed().as_secs_f64() * 1e3);
        (keys, refs)
    } else {
        (Vec::new(), Vec::new())
    };
    let sh = Arc::new(Shared {
        api: api.clone(),
        fx,
        flow: args.flow,
        password: args.password.clone(),
        srp_client: args.srp_client,
        group: Group::new(),
        keys,
        refs,
    });

    // Every flow is checked once before the clock starts.
    match args.flow {
        Flow::Password => password_sign_in(&sh, &sh.fx.users[0]).await,
        Flow::Srp => srp_preflight(&sh).await,
    }
    .map_err(|e| format!("preflight sign-in failed: {e}"))?;

    if args.warmup > 0.0 {
        let w = run_phase(&sh, args.concurrency, Stop::At(Instant::now() + Duration::from_secs_f64(args.warmup)), None)
            .await;
        if w.errors > 0 {
            eprintln!("[{label}] warm-up had {} errors, e.g. {:?}", w.errors, w.error_samples);
        }
    }

    let sampler = if args.floor_during { Some(floor::Sampler::start(args.flow == Flow::Srp)?) } else { None };
    let load_before = cpu::loadavg();
    let server_before = args.server_pid.map(cpu::tree_ticks);
    let machine_before = cpu::machine();
    let self_before = cpu::self_cpu();
    let start = Instant::now();
    let (stop, window_end) = match args.count {
        Some(n) => (Stop::After(Arc::new(AtomicI64::new(n as i64))), None),
        None => {
            let end = start + Duration::from_secs_f64(args.seconds);
            (Stop::At(end), Some(end))
        }
    };
    let mut out = run_phase(&sh, args.concurrency, stop, window_end).await;
    let elapsed_all = start.elapsed();
    let sampled = sampler.map(floor::Sampler::finish).transpose()?;
    let sampler_cpu = sampled.as_ref().map_or(Duration::ZERO, |s| s.thread_cpu);
    let self_cpu = (cpu::self_cpu() - self_before).saturating_sub(sampler_cpu);
    let machine_busy = cpu::machine_busy(machine_before, cpu::machine());
    let server_cpu = match (args.server_pid, server_before) {
        (Some(pid), Some(before)) => Some(cpu::tree_delta(&before, &cpu::tree_ticks(pid))),
        _ => None,
    };
    let load_after = cpu::loadavg();
    let window = match args.count {
        Some(_) => elapsed_all,
        None => Duration::from_secs_f64(args.seconds),
    };

    out.latencies_us.sort_unstable();
    let rate = out.in_window as f64 / window.as_secs_f64();
    let per = |d: Duration| if out.total_ok > 0 { d.as_secs_f64() * 1e3 / out.total_ok as f64 } else { f64::NAN };
    let cores = |d: Duration| d.as_secs_f64() / elapsed_all.as_secs_f64();
    let flow = match args.flow {
        Flow::Password => "password".to_owned(),
        Flow::Srp => {
            format!("srp ({} client)", if args.srp_client == SrpClientKind::Fast { "fast" } else { "reference" })
        }
    };
    println!("target        {label} ({})", args.url);
    println!(
        "flow          {flow}, concurrency {}, {}, {} users, warm-up {:.1} s",
        args.concurrency,
        match args.count {
            Some(n) => format!("{n} sign-ins"),
            None => format!("{:.1} s", args.seconds),
        },
        n_users,
        args.warmup
    );
    println!("sign-ins      {} in {:.2} s = {:.1} /s", out.in_window, window.as_secs_f64(), rate);
    println!(
        "latency ms    p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        pct(&out.latencies_us, 50.0),
        pct(&out.latencies_us, 90.0),
        pct(&out.latencies_us, 99.0),
        pct(&out.latencies_us, 100.0)
    );
    println!("errors        {}", out.errors);
    for e in &out.error_samples {
        println!("  e.g.        {e}");
    }
    println!(
        "cpu loadgen   {:.2} s = {:.2} cores, {:.3} ms/sign-in{}",
        self_cpu.as_secs_f64(),
        cores(self_cpu),
        per(self_cpu),
        if args.flow == Flow::Srp {
            format!(" (SRP client math {:.3} ms wall/sign-in)", per(out.client_math))
        } else {
            String::new()
        }
    );
    if let Some(s) = server_cpu {
        println!(
            "cpu server    {:.2} s = {:.2} cores, {:.3} ms/sign-in (pid {} and descendants)",
            s.as_secs_f64(),
            cores(s),
            per(s),
            args.server_pid.unwrap_or(0)
        );
    }
    if let Some(m) = machine_busy {
        let other = m.as_secs_f64()
            - self_cpu.as_secs_f64()
            - sampler_cpu.as_secs_f64()
            - server_cpu.map_or(0.0, |s| s.as_secs_f64());
        println!(
            "cpu machine   {:.2} s busy = {:.2} cores (everything else: {:.2} s)",
            m.as_secs_f64(),
            cores(m),
            other.max(0.0)
        );
    }
    let floor_during = sampled.as_ref().filter(|s| !s.samples_ms.is_empty()).map(floor::Sampled::mean_ms);
    if let (Some(f), Some(s)) = (floor_during, &sampled) {
        println!(
            "floor during  {f:.4} ms mean of {} samples taken during the run{}",
            s.samples_ms.len(),
            server_cpu.map_or(String::new(), |c| format!(": the server's CPU per sign-in is {:.3}× it", per(c) / f))
        );
    }
    println!("load average  {load_before} before, {load_after} after");
    if args.json {
        let summary = json!({
            "label": label, "url": args.url, "flow": flow, "concurrency": args.concurrency,
            "users": n_users, "seconds": window.as_secs_f64(), "sign_ins": out.in_window,
            "sign_ins_per_s": (rate * 10.0).round() / 10.0,
            "p50_ms": pct(&out.latencies_us, 50.0), "p99_ms": pct(&out.latencies_us, 99.0),
            "errors": out.errors,
            "loadgen_cpu_s": self_cpu.as_secs_f64(), "loadgen_ms_per_sign_in": per(self_cpu),
            "server_cpu_s": server_cpu.map(|s| s.as_secs_f64()), "server_ms_per_sign_in": server_cpu.map(per),
            "machine_busy_s": machine_busy.map(|m| m.as_secs_f64()),
            "load_before": load_before, "load_after": load_after,
            "floor_during_ms": floor_during, "floor_during_samples": sampled.as_ref().map(|s| s.samples_ms.len()),
        });
        println!("{summary}");
    }

    if !args.keep && !existing {
        if let Err(e) = api::teardown(&api, &sh.fx.pool_id).await {
            eprintln!("[{label}] DeleteUserPool failed (ignored): {e}");
        }
    }
    Ok(out.errors == 0 && out.in_window > 0)
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.floor {
        return floor::run(args.json);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads.max(1)).enable_all().build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cognate-loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("cognate-loadgen: the run had errors (or no successful sign-in)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cognate-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
