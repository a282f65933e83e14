//! What one sign-in costs the server, through the real `cognate_core::Service` over a SQLite
//! store in a temporary directory, next to the cryptographic floor it cannot go below.
//!
//! ```sh
//! CARGO_TARGET_DIR=/tmp/target-bench cargo bench -p cognate-core --bench signin
//! SIGNIN_BENCH_CLOCK=cpu cargo bench -p cognate-core --bench signin   # cpu | wall | both (default)
//! ```
//!
//! Two clocks: `cpu/…` counts the CPU time of the whole process (every thread, including the
//! SQLite worker threads sqlx runs) via `CLOCK_PROCESS_CPUTIME_ID`, which other processes on a
//! shared machine barely disturb; `wall/…` is criterion's usual wall clock.
//!
//! * `password_signin` — `initiate_auth` USER_PASSWORD_AUTH, tokens included.
//! * `srp_signin` — `initiate_auth` USER_SRP_AUTH + `respond_to_auth_challenge`
//!   PASSWORD_VERIFIER, tokens included; only the two server calls are timed, the client's
//!   math runs between them outside the measurement.
//! * floor: `rs256_sign` (one token signature; a sign-in makes two), `check_password`,
//!   `modexp3_3072_e256` (three 3072-bit exponentiations with 256-bit exponents).
//! * split helpers: `store_password_path` / `store_srp_path` replay the store calls each flow
//!   makes; `srp_server_math` is the server's SRP arithmetic alone (challenge, key, proof).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use cognate_core::api::{InitiateAuthRequest, RespondToAuthChallengeRequest};
use cognate_core::model::RefreshSession;
use cognate_core::ports::{Store, SystemClock};
use cognate_core::{RequestContext, Service, ServiceConfig};
use cognate_crypto::jwt::SigningKey;
use cognate_crypto::seal::MasterKey;
use cognate_crypto::srp::{self, bench_support, client::Client as SrpClient};
use cognate_store::SqlStore;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{black_box, BatchSize, Criterion, Throughput};
use serde_json::{json, Value};
use tokio::runtime::Runtime;

const PASSWORD: &str = "Bench-pass-1!";
const USERS: usize = 16;

// ---------------------------------------------------------------------------------------------
// A process-CPU-time measurement for criterion
// ---------------------------------------------------------------------------------------------

fn cpu_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into `ts`; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "CLOCK_PROCESS_CPUTIME_ID unavailable");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn wall_now() -> Duration {
    static T0: OnceLock<Instant> = OnceLock::new();
    T0.get_or_init(Instant::now).elapsed()
}

/// CPU time of this process (all threads), in nanoseconds like criterion's wall clock.
struct ProcessCpu;

struct NanosFormatter;

impl ValueFormatter for NanosFormatter {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if ns < 1e3 {
            (1.0, "ns")
        } else if ns < 1e6 {
            (1e-3, "µs")
        } else if ns < 1e9 {
            (1e-6, "ms")
        } else {
            (1e-9, "s")
        };
        for v in values {
            *v *= factor;
        }
        unit
    }

    fn scale_throughputs(&self, typical: f64, throughput: &Throughput, values: &mut [f64]) -> &'static str {
        let per = match *throughput {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => n as f64,
        };
        for v in values {
            *v = per * 1e9 / *v;
        }
        let _ = typical;
        " elem/cpu-s"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl Measurement for ProcessCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        cpu_now()
    }
    fn end(&self, i: Duration) -> Duration {
        cpu_now().saturating_sub(i)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NanosFormatter
    }
}

// ---------------------------------------------------------------------------------------------
// Fixture: a service over SQLite with a pool, a client and users
// ---------------------------------------------------------------------------------------------

struct Fixture {
    rt: Runtime,
    svc: Service,
    store: Arc<dyn Store>,
    pool_id: String,
    client_id: String,
    users: Vec<String>,
    next: AtomicUsize,
    _dir: tempfile::TempDir,
    ctx: RequestContext,
}

/// A typed request from its JSON body, as the wire builds it.
fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("a valid request")
}

fn json_of<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("serialisable")
}

impl Fixture {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/db?mode=rwc", dir.path().display());
        let (svc, store, pool_id, client_id, users) = rt.block_on(async {
            let store = SqlStore::connect(&url).await.expect("sqlite store");
            let svc = Service::new(
                Arc::new(store),
                Arc::new(SystemClock),
                ServiceConfig::new("us-east-1", "http://127.0.0.1:9229", MasterKey::generate().expect("master key")),
            );
            let ctx = RequestContext::internal();
            let pool = svc.create_user_pool(&ctx, typed(json!({ "PoolName": "bench" }))).await.expect("pool");
            let pool_id = pool.user_pool.and_then(|p| p.id).expect("pool id");
            let client = svc
                .create_user_pool_client(
                    &ctx,
                    typed(json!({
                        "UserPoolId": pool_id,
                        "ClientName": "bench",
                        "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                    })),
                )
                .await
                .expect("client");
            let client_id = client.user_pool_client.and_then(|c| c.client_id).expect("client id");
            let mut users = Vec::new();
            for i in 0..USERS {
                let name = format!("user{i:02}");
                svc.admin_create_user(&ctx, typed(json!({
                    "UserPoolId": pool_id, "Username": name,
                    "TemporaryPassword": "Temp-pass-123!", "MessageAction": "SUPPRESS",
                })))
                .await
                .expect("user");
                svc.admin_set_user_password(&ctx, typed(json!({
                    "UserPoolId": pool_id, "Username": name, "Password": PASSWORD, "Permanent": true,
                })))
                .await
                .expect("password");
                users.push(name);
            }
            let store = svc.store().clone();
            (svc, store, pool_id, client_id, users)
        });
        srp::warm_up();
        Fixture {
            rt,
            svc,
            store,
            pool_id,
            client_id,
            users,
            next: AtomicUsize::new(0),
            ctx: RequestContext::internal(),
            _dir: dir,
        }
    }

    fn user(&self) -> &str {
        &self.users[self.next.fetch_add(1, Ordering::Relaxed) % self.users.len()]
    }

    fn password_input(&self, user: &str) -> InitiateAuthRequest {
        typed(json!({
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": self.client_id,
            "AuthParameters": { "USERNAME": user, "PASSWORD": PASSWORD },
        }))
    }
}

fn assert_tokens(v: &Value) {
    let r = &v["AuthenticationResult"];
    assert!(
        r["AccessToken"].is_string() && r["IdToken"].is_string() && r["RefreshToken"].is_string(),
        "no tokens: {v}"
    );
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn random32() -> [u8; 32] {
    let mut e = [0u8; 32];
    cognate_crypto::random::fill(&mut e).unwrap();
    e
}

// ---------------------------------------------------------------------------------------------
// The benchmarks, for either clock
// ---------------------------------------------------------------------------------------------

fn benches<M: Measurement<Value = Duration> + 'static>(
    c: &mut Criterion<M>,
    name: &str,
    clock: fn() -> Duration,
    fx: &Fixture,
) {
    let mut g = c.benchmark_group(name);
    g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));

    // (a) USER_PASSWORD_AUTH, one full initiate_auth.
    g.bench_function("password_signin", |b| {
        b.iter_batched(
            || fx.password_input(fx.user()),
            |input| {
                let v = fx.rt.block_on(fx.svc.initiate_auth(&fx.ctx, input)).expect("password sign-in");
                assert_tokens(&json_of(&v));
                v
            },
            BatchSize::SmallInput,
        )
    });

    // (b) USER_SRP_AUTH + PASSWORD_VERIFIER; the client's A values are precomputed and its
    // proof is computed between the two timed calls.
    let clients: Vec<SrpClient> = (0..8).map(|_| SrpClient::random()).collect();
    let a_hex: Vec<String> = clients.iter().map(SrpClient::a_hex).collect();
    let mut k = 0usize;
    g.bench_function("srp_signin", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                k += 1;
                let (client, a) = (&clients[k % clients.len()], &a_hex[k % clients.len()]);
                let user = fx.user();
                let input: InitiateAuthRequest = typed(json!({
                    "AuthFlow": "USER_SRP_AUTH",
                    "ClientId": fx.client_id,
                    "AuthParameters": { "USERNAME": user, "SRP_A": a },
                }));
                let t = clock();
                let ch = fx.rt.block_on(fx.svc.initiate_auth(&fx.ctx, input)).expect("SRP challenge");
                timed += clock() - t;
                let ch = json_of(&ch);
                let p = &ch["ChallengeParameters"];
                let s = |k: &str| p[k].as_str().expect("challenge parameter").to_owned();
                let ts = srp::format_timestamp(now_secs());
                let claim = client
                    .password_claim(
                        &fx.pool_id,
                        &s("USER_ID_FOR_SRP"),
                        PASSWORD,
                        &s("SALT"),
                        &s("SRP_B"),
                        &s("SECRET_BLOCK"),
                        &ts,
                    )
                    .expect("claim");
                let answer: RespondToAuthChallengeRequest = typed(json!({
                    "ChallengeName": "PASSWORD_VERIFIER",
                    "ClientId": fx.client_id,
                    "ChallengeResponses": {
                        "USERNAME": s("USERNAME"), "PASSWORD_CLAIM_SECRET_BLOCK": s("SECRET_BLOCK"),
                        "PASSWORD_CLAIM_SIGNATURE": claim, "TIMESTAMP": ts,
                    },
                }));
                let t = clock();
                let v = fx.rt.block_on(fx.svc.respond_to_auth_challenge(&fx.ctx, answer)).expect("SRP answer");
                timed += clock() - t;
                assert_tokens(&json_of(&v));
            }
            timed
        })
    });

    // Floor: one RS256 signature over ID-token-sized claims.
    let key = SigningKey::generate().unwrap();
    let claims = cognate_crypto::jwt::bench_support::id_token_claims();
    g.bench_function("rs256_sign", |b| b.iter(|| key.sign(black_box(&claims)).unwrap()));

    // Floor: USER_PASSWORD_AUTH's password check (g^x through the fixed-base table).
    let pool_name = srp::pool_name(&fx.pool_id).to_owned();
    let stored = srp::make_verifier(&pool_name, "user01", PASSWORD).unwrap();
    g.bench_function("check_password", |b| {
        b.iter(|| assert!(srp::check_password(&pool_name, "user01", black_box(PASSWORD), &stored)))
    });

    // Floor: three 3072-bit modexps with 256-bit exponents (constant-time aws-lc).
    let mut base = [0u8; 384];
    cognate_crypto::random::fill(&mut base).unwrap();
    base[0] = 0x7f;
    let exps = [random32(), random32(), random32()];
    g.bench_function("modexp3_3072_e256", |b| {
        b.iter(|| {
            for e in &exps {
                black_box(bench_support::modexp_awslc(black_box(&base), e).expect("aws-lc modexp"));
            }
        })
    });

    // Split: the server's SRP arithmetic alone (B, S and K, proof check).
    let a_pub = hex::encode(bench_support::pow_g_fixed(&random32()));
    let block = [0u8; 64];
    let ts = "Tue Jan 2 03:04:05 UTC 2024";
    g.bench_function("srp_server_math", |b| {
        b.iter(|| {
            let ch = srp::ServerChallenge::new(&stored).unwrap();
            let key = srp::session_key(&a_pub, ch.public_b(), ch.secret(), &stored).unwrap();
            srp::verify_signature(&key, &pool_name, "user01", &block, ts, "AAAA")
        })
    });

    // Split: the store calls of a password sign-in (client, pool, user, groups, refresh
    // session; the signing keys are cached after the first use), and of an SRP sign-in.
    let store = fx.store.clone();
    let refresh = |user: &str| RefreshSession {
        token_hash: hex::encode(random32()),
        origin_jti: cognate_core::ids::uuid(),
        pool_id: fx.pool_id.clone(),
        client_id: fx.client_id.clone(),
        username: user.to_owned(),
        auth_time: now_secs(),
        issued_ms: now_secs() * 1000,
        expires_ms: now_secs() * 1000 + 30 * 86_400_000,
        revoked: false,
        replaced_ms: None,
        scopes: None,
    };
    g.bench_function("store_password_path", |b| {
        b.iter_batched(
            || (fx.user().to_owned(), refresh("user00")),
            |(user, session)| {
                fx.rt.block_on(async {
                    let client = store.get_client(&fx.client_id).await.unwrap().unwrap();
                    let pool = store.get_pool(&client.pool_id).await.unwrap().unwrap();
                    let u = store.get_user(&pool.id, &user).await.unwrap().unwrap();
                    store.groups_of_user(&pool.id, &u.username, None, 100).await.unwrap();
                    store.insert_refresh(&RefreshSession { username: u.username.clone(), ..session }).await.unwrap();
                })
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("store_srp_path", |b| {
        b.iter_batched(
            || (fx.user().to_owned(), refresh("user00"), format!("srp:{}", hex::encode(random32()))),
            |(user, session, nonce)| {
                fx.rt.block_on(async {
                    for _ in 0..2 {
                        let client = store.get_client(&fx.client_id).await.unwrap().unwrap();
                        let pool = store.get_pool(&client.pool_id).await.unwrap().unwrap();
                        store.get_user(&pool.id, &user).await.unwrap().unwrap();
                    }
                    assert!(store.consume_nonce(&nonce, now_secs() * 1000 + 300_000).await.unwrap());
                    let u = store.get_user(&fx.pool_id, &user).await.unwrap().unwrap();
                    store.groups_of_user(&fx.pool_id, &u.username, None, 100).await.unwrap();
                    store.insert_refresh(&RefreshSession { username: u.username.clone(), ..session }).await.unwrap();
                })
            },
            BatchSize::SmallInput,
        )
    });
    // Split: the JSON of the documents a password sign-in reads (pool, client and user as
    // stored; the store parses the pool and client again only when their text changed).
    let (pool_text, client_text, user_text) = fx.rt.block_on(async {
        let pool = store.get_pool(&fx.pool_id).await.unwrap().unwrap();
        let client = store.get_client(&fx.client_id).await.unwrap().unwrap();
        let user = store.get_user(&fx.pool_id, &fx.users[0]).await.unwrap().unwrap();
        (
            Value::Object((*pool.doc).clone()).to_string(),
            Value::Object((*client.doc).clone()).to_string(),
            serde_json::to_string(&user).unwrap(),
        )
    });
    g.bench_function("json_docs_password_path", |b| {
        b.iter(|| {
            black_box(serde_json::from_str::<Value>(black_box(&pool_text)).unwrap());
            black_box(serde_json::from_str::<Value>(black_box(&client_text)).unwrap());
            black_box(serde_json::from_str::<cognate_core::model::User>(black_box(&user_text)).unwrap());
        })
    });
    g.finish();
}

fn main() {
    let fx = Fixture::new();
    let which = std::env::var("SIGNIN_BENCH_CLOCK").unwrap_or_else(|_| "both".into());
    if which == "cpu" || which == "both" {
        let mut c = Criterion::default().with_measurement(ProcessCpu).configure_from_args();
        benches(&mut c, "cpu", cpu_now, &fx);
    }
    if which == "wall" || which == "both" {
        let mut c = Criterion::default().with_measurement(WallTime).configure_from_args();
        benches(&mut c, "wall", wall_now, &fx);
    }
    Criterion::default().configure_from_args().final_summary();
}
