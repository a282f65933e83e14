//! Server-side costs of the operations that run per sign-in.
//!
//! `cargo bench -p cognate-crypto`

use std::time::{Duration, Instant};

use cognate_crypto::srp::{self, bench_support};
use cognate_crypto::{jwt, seal};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn random32() -> [u8; 32] {
    let mut e = [0u8; 32];
    cognate_crypto::random::fill(&mut e).unwrap();
    e
}

fn bench_srp(c: &mut Criterion) {
    // First use builds the fixed-base table; report that one-off cost outside criterion.
    let t = Instant::now();
    srp::warm_up();
    eprintln!("fixed-base table build (one-off): {:?}", t.elapsed());

    let mut base = [0u8; 384];
    cognate_crypto::random::fill(&mut base).unwrap();
    base[0] = 0x7f;
    let e = random32();

    c.bench_function("modexp_3072_e256_crypto_bigint", |b| {
        b.iter(|| bench_support::modexp_crypto_bigint(black_box(&base), black_box(&e)))
    });
    c.bench_function("modexp_3072_e256_awslc_consttime", |b| {
        b.iter(|| bench_support::modexp_awslc(black_box(&base), black_box(&e)))
    });
    c.bench_function("modexp_3072_e256_awslc_public", |b| {
        b.iter(|| bench_support::modexp_awslc_public(black_box(&base), black_box(&e)))
    });
    c.bench_function("g_pow_x_fixed_base", |b| b.iter(|| bench_support::pow_g_fixed(black_box(&e))));

    let pool = "AbCdEfGhI";
    let stored = srp::make_verifier(pool, "alice", "correct horse battery").unwrap();
    c.bench_function("check_password", |b| {
        b.iter(|| srp::check_password(pool, "alice", black_box("correct horse battery"), &stored))
    });

    // A client value A = g^a; how it was made does not matter to the server's cost.
    let a_hex = hex::encode(bench_support::pow_g_fixed(&random32()));
    let block = [0u8; 64];
    let ts = "Tue Jan 2 03:04:05 UTC 2024";
    c.bench_function("srp_challenge", |b| b.iter(|| srp::ServerChallenge::new(&stored).unwrap()));
    c.bench_function("srp_server_signin_full", |b| {
        b.iter(|| {
            let ch = srp::ServerChallenge::new(&stored).unwrap();
            let key = srp::session_key(&a_hex, ch.public_b(), ch.secret(), &stored).unwrap();
            srp::verify_signature(&key, pool, "alice", &block, ts, "AAAA")
        })
    });
}

fn bench_other(c: &mut Criterion) {
    let key = jwt::SigningKey::generate().unwrap();
    let claims = serde_json::json!({
        "sub": "3f6e1a2b-0000-4000-8000-1234567890ab",
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI",
        "client_id": "abc", "token_use": "access", "scope": "aws.cognito.signin.user.admin",
        "auth_time": 1_700_000_000, "exp": 1_700_003_600, "iat": 1_700_000_000,
        "jti": "f0e1d2c3-0000-4000-8000-000000000000", "username": "alice"
    });
    c.bench_function("jwt_sign", |b| b.iter(|| key.sign(black_box(&claims)).unwrap()));
    let token = key.sign(&claims).unwrap();
    let pk = key.public_key();
    c.bench_function("jwt_verify", |b| b.iter(|| jwt::verify(black_box(&token), |_| Some(pk)).unwrap()));

    let mk = seal::MasterKey::from_bytes(&[7; 32]).unwrap();
    let state = [1u8; 200];
    c.bench_function("seal_open_200B", |b| {
        b.iter(|| {
            let s = mk.seal(seal::purpose::SESSION, b"client", black_box(&state)).unwrap();
            mk.open(seal::purpose::SESSION, b"client", &s).unwrap()
        })
    });
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! { name = benches; config = config(); targets = bench_srp, bench_other }
criterion_main!(benches);
