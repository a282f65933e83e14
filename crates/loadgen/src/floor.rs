//! `cognate-loadgen --floor`: the cryptographic floor of a sign-in, measured in this process
//! with the same primitives the server calls, so a benchmark can print it beside the server's
//! CPU per sign-in (bench/signin.md defines the floors; `crates/core/benches/signin.rs`
//! measures them with criterion).
//!
//! * password sign-in floor = `srp::check_password` + 2 RS256 signatures (ID and access token);
//! * SRP sign-in floor = 3 constant-time 3072-bit modexps with 256-bit exponents + 2 RS256;
//! * also shown: the server's real SRP arithmetic (`B`, `S`, `K`, proof check), which is cheaper
//!   than three generic modexps.
//!
//! Each figure is CPU time of this process (`CLOCK_PROCESS_CPUTIME_ID`, so a busy machine
//! barely moves it): the median over 7 batches of about 0.3 CPU-seconds, after a warm-up.

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cognate_crypto::jwt::SigningKey;
use cognate_crypto::srp::{self, bench_support};
use serde_json::json;

const BATCHES: usize = 7;
const BATCH_CPU: Duration = Duration::from_millis(300);

fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into `ts`; the clock ids passed are constants.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn cpu_now() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time of the calling thread.
fn thread_cpu_now() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn random32() -> Result<[u8; 32], String> {
    let mut e = [0u8; 32];
    cognate_crypto::random::fill(&mut e).map_err(|e| e.to_string())?;
    Ok(e)
}

/// Median CPU milliseconds per call of `f`.
fn measure(mut f: impl FnMut()) -> f64 {
    // Warm-up, and a first estimate of how many calls fill a batch.
    let t = cpu_now();
    let mut n = 0u64;
    while cpu_now() - t < Duration::from_millis(100) {
        f();
        n += 1;
    }
    let per_call = (cpu_now() - t).as_secs_f64() / n as f64;
    let iters = ((BATCH_CPU.as_secs_f64() / per_call).ceil() as u64).max(1);
    let mut samples: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let t = cpu_now();
            for _ in 0..iters {
                f();
            }
            (cpu_now() - t).as_secs_f64() * 1e3 / iters as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The inputs of the floor's crypto: a signing key, ID-token-sized claims, a stored password
/// verifier and three 3072-bit modexps' operands.
struct Work {
    key: SigningKey,
    claims: serde_json::Value,
    pool_name: String,
    stored: srp::StoredVerifier,
    base: [u8; 384],
    exps: [[u8; 32]; 3],
}

const PASSWORD: &str = "Floor-pass-1!";

impl Work {
    fn new() -> Result<Self, String> {
        srp::warm_up();
        let key = SigningKey::generate().map_err(|e| e.to_string())?;
        let claims = cognate_crypto::jwt::bench_support::id_token_claims();
        key.sign(&claims).map_err(|e| e.to_string())?;
        let pool_name = srp::pool_name("us-east-1_AbCdEfGhI").to_owned();
        let stored = srp::make_verifier(&pool_name, "user01", PASSWORD).map_err(|e| e.to_string())?;
        if !srp::check_password(&pool_name, "user01", PASSWORD, &stored) {
            return Err("check_password refused the right password".into());
        }
        let mut base = [0u8; 384];
        cognate_crypto::random::fill(&mut base).map_err(|e| e.to_string())?;
        base[0] = 0x7f;
        let exps = [random32()?, random32()?, random32()?];
        if bench_support::modexp_awslc(&base, &exps[0]).is_none() {
            return Err("aws-lc modexp unavailable".into());
        }
        Ok(Self { key, claims, pool_name, stored, base, exps })
    }

    fn rs256(&self) {
        black_box(self.key.sign(black_box(&self.claims)).ok());
    }

    fn check_password(&self) {
        black_box(srp::check_password(&self.pool_name, "user01", black_box(PASSWORD), &self.stored));
    }

    fn modexp3(&self) {
        for e in &self.exps {
            black_box(bench_support::modexp_awslc(black_box(&self.base), e));
        }
    }

    /// One password sign-in's floor: check_password and two signatures.
    fn password_floor(&self) {
        self.check_password();
        self.rs256();
        self.rs256();
    }

    /// One SRP sign-in's floor: three modexps and two signatures.
    fn srp_floor(&self) {
        self.modexp3();
        self.rs256();
        self.rs256();
    }
}

fn floors() -> Result<serde_json::Value, String> {
    let w = Work::new()?;
    let rs256 = measure(|| w.rs256());
    let check = measure(|| w.check_password());
    let modexp3 = measure(|| w.modexp3());

    let a_pub = hex::encode(bench_support::pow_g_fixed(&random32()?));
    let block = [0u8; 64];
    let ts = "Tue Jan 2 03:04:05 UTC 2024";
    let srp_math = measure(|| {
        if let Ok(ch) = srp::ServerChallenge::new(&w.stored) {
            if let Ok(k) = srp::session_key(&a_pub, ch.public_b(), ch.secret(), &w.stored) {
                black_box(srp::verify_signature(&k, &w.pool_name, "user01", &block, ts, "AAAA"));
            }
        }
    });

    let r = |x: f64| (x * 1e4).round() / 1e4;
    Ok(json!({
        "rs256_sign_ms": r(rs256),
        "check_password_ms": r(check),
        "modexp3_3072_ms": r(modexp3),
        "srp_server_math_ms": r(srp_math),
        "password_floor_ms": r(check + 2.0 * rs256),
        "srp_floor_ms": r(modexp3 + 2.0 * rs256),
        "srp_real_crypto_ms": r(srp_math + 2.0 * rs256),
        "load_average": crate::cpu::loadavg(),
    }))
}

/// The floor sampled while a run goes on: a thread of the load generator that, every
/// [`SAMPLE_EVERY`], does one sign-in's floor crypto and times it on its own CPU clock. The
/// machine's speed wanders by a fifth within minutes (shared cores), so a floor measured before
/// a run can be off by as much as the server's whole overhead; sampled across the run, it
/// sees the same machine as the server's sign-ins do, both cores busy included.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Sampled>,
}

/// What a [`Sampler`] measured.
pub struct Sampled {
    /// CPU milliseconds of each floor sample.
    pub samples_ms: Vec<f64>,
    /// The sampling thread's CPU time, its warm-up included (not the load generator's own work).
    pub thread_cpu: Duration,
}

impl Sampled {
    pub fn mean_ms(&self) -> f64 {
        self.samples_ms.iter().sum::<f64>() / self.samples_ms.len().max(1) as f64
    }
}

/// Between two password-floor samples (each a warm-up call and a measured one): about 2.5% of
/// a core. SRP's floor is sampled half as often, for about 4.5%.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

impl Sampler {
    /// Starts sampling the password floor (`srp` false) or the SRP floor.
    pub fn start(srp: bool) -> Result<Self, String> {
        let w = Work::new()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("floor-sampler".into())
            .spawn(move || {
                let floor: fn(&Work) = if srp { Work::srp_floor } else { Work::password_floor };
                let pause = if srp { 2 * SAMPLE_EVERY } else { SAMPLE_EVERY };
                // A few unmeasured rounds first, as `measure` warms up.
                for _ in 0..3 {
                    floor(&w);
                }
                let mut samples_ms = Vec::new();
                while !flag.load(Ordering::Relaxed) {
                    // After the pause, caches and branch predictors hold the load's work, not
                    // the floor's: the first call would cost 10-15% more than the same crypto
                    // costs the server, which runs it back to back. One unmeasured call first.
                    floor(&w);
                    let t = thread_cpu_now();
                    floor(&w);
                    samples_ms.push((thread_cpu_now() - t).as_secs_f64() * 1e3);
                    std::thread::sleep(pause);
                }
                Sampled { samples_ms, thread_cpu: thread_cpu_now() }
            })
            .map_err(|e| format!("cannot start the floor sampler: {e}"))?;
        Ok(Self { stop, thread })
    }

    /// Stops sampling; the samples taken since [`Self::start`].
    pub fn finish(self) -> Result<Sampled, String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().map_err(|_| "the floor sampler panicked".to_owned())
    }
}

pub fn run(json_out: bool) -> ExitCode {
    match floors() {
        Ok(v) => {
            let g = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
            println!("rs256_sign        {:.4} ms CPU (one RS256 signature, ID-token claims)", g("rs256_sign_ms"));
            println!("check_password    {:.4} ms CPU (srp::check_password)", g("check_password_ms"));
            println!(
                "modexp3_3072      {:.4} ms CPU (3 constant-time 3072-bit modexps, 256-bit exponents)",
                g("modexp3_3072_ms")
            );
            println!("srp_server_math   {:.4} ms CPU (the server's B, S, K and proof check)", g("srp_server_math_ms"));
            println!("password floor    {:.4} ms = check_password + 2 RS256", g("password_floor_ms"));
            println!("SRP floor         {:.4} ms = 3 modexps + 2 RS256", g("srp_floor_ms"));
            println!("SRP real crypto   {:.4} ms = server SRP math + 2 RS256", g("srp_real_crypto_ms"));
            if json_out {
                println!("{v}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cognate-loadgen --floor: {e}");
            ExitCode::FAILURE
        }
    }
}
