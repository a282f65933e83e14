//! Lockout under racing guesses, on one server and on two sharing PostgreSQL, a lock that lands
//! while a right password's sign-in is still under way, and the lockout of names no user has
//! where the client hides user existence (#18 item 6).
//!
//! The servers run on a manual clock, so the one-second lock that follows the fifth failure
//! cannot run out while the guesses are in flight.

mod common;

use std::sync::Arc;

use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ExplicitAuthFlowsType, LambdaConfigType, PreventUserExistenceErrorTypes,
};
use aws_sdk_cognitoidentityprovider::Client;
use cognate_core::ports::ManualClock;
use common::{confirmed_user, err_of, servers_with, CreatedId};

const PW: &str = "Correct-horse-1";
const WRONG: &str = "Wrong-horse-1";
const GUESSES: usize = 40;
const INCORRECT: &str = "Incorrect username or password.";
const EXCEEDED: &str = "Password attempts exceeded";

/// A pool with a client allowing USER_PASSWORD_AUTH (hiding user existence if `prevent`) and
/// the confirmed user "ana"; returns the pool and client ids.
async fn setup(c: &Client, prevent: bool) -> (String, String) {
    let pool = c.create_user_pool().pool_name("lockout").created_id().await;
    let mut b = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth);
    if prevent {
        b = b.prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled);
    }
    let client = b.created_id().await;
    confirmed_user(c, &pool, "ana", PW).await;
    (pool, client)
}

/// One USER_PASSWORD_AUTH sign-in: Ok, or the error's code and message.
async fn sign_in(c: &Client, client: &str, user: &str, pw: &str) -> Result<(), (String, String)> {
    c.initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", user)
        .auth_parameters("PASSWORD", pw)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| err_of(&e))
}

/// How the racing attempts were answered.
#[derive(Debug, Default)]
struct Tally {
    ok: usize,
    incorrect: usize,
    exceeded: usize,
    /// Whether the attempt with the right password (if any) succeeded.
    right_one_ok: Option<bool>,
}

/// `GUESSES` sign-ins of `user` at once, spread over `clients` in turn; the one numbered
/// `right` (if any) has the right password, the others a wrong one.
async fn race(clients: &[Client], client_id: &str, user: &str, right: Option<usize>) -> Tally {
    let mut tasks = Vec::new();
    for n in 0..GUESSES {
        let c = clients[n % clients.len()].clone();
        let (client_id, user) = (client_id.to_owned(), user.to_owned());
        let pw = if Some(n) == right { PW } else { WRONG };
        tasks.push(tokio::spawn(async move { (n, sign_in(&c, &client_id, &user, pw).await) }));
    }
    let mut tally = Tally::default();
    for t in tasks {
        let (n, outcome) = t.await.unwrap();
        if Some(n) == right {
            tally.right_one_ok = Some(outcome.is_ok());
        }
        match outcome {
            Ok(()) => tally.ok += 1,
            Err((code, msg)) if code == "NotAuthorizedException" && msg == INCORRECT => tally.incorrect += 1,
            Err((code, msg)) if code == "NotAuthorizedException" && msg == EXCEEDED => tally.exceeded += 1,
            Err(other) => panic!("unexpected answer to a racing guess: {other:?}"),
        }
    }
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_parallel_guesses_get_exactly_five_evaluated() {
    let clock = Arc::new(ManualClock::new());
    for server in servers_with(|o| o.clock = clock.clone()).await {
        let backend = server.backend;
        let c = server.cognito();
        let (_pool, client) = setup(&c, false).await;
        let tally = race(std::slice::from_ref(&c), &client, "ana", None).await;
        assert_eq!((tally.incorrect, tally.exceeded, tally.ok), (5, GUESSES - 5, 0), "{backend}: {tally:?}");
        // Locked: the right password is refused too, until the lock runs out.
        assert_eq!(sign_in(&c, &client, "ana", PW).await.unwrap_err().1, EXCEEDED, "{backend}");
        clock.advance(1_100);
        assert!(sign_in(&c, &client, "ana", PW).await.is_ok(), "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_parallel_guesses_on_two_servers_sharing_postgres_get_exactly_five_evaluated() {
    if common::postgres_url().is_none() {
        eprintln!("COGNATE_TEST_DATABASE_URL not set: two servers sharing PostgreSQL not tested");
        return;
    }
    let clock = Arc::new(ManualClock::new());
    for first in servers_with(|o| o.clock = clock.clone()).await {
        if first.backend != "postgres" {
            continue;
        }
        let mut options = first.options();
        options.clock = clock.clone();
        let second = cognate_server::start(options).await.unwrap();
        let clients = [first.cognito(), common::client_for(&second.url())];
        let (_pool, client) = setup(&clients[0], false).await;
        // Each server keeps what it read of ana's sign-in: the guesses start from that.
        for c in &clients {
            sign_in(c, &client, "ana", PW).await.unwrap();
        }
        let tally = race(&clients, &client, "ana", None).await;
        assert_eq!((tally.incorrect, tally.exceeded, tally.ok), (5, GUESSES - 5, 0), "{tally:?}");
        for c in &clients {
            assert_eq!(sign_in(c, &client, "ana", PW).await.unwrap_err().1, EXCEEDED);
        }
        second.shutdown().await;
    }
}

/// The right password racing 39 wrong ones is judged as if the attempts came one at a time:
/// it succeeds only before the fifth failure (forgetting those before it), else it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn right_password_among_parallel_wrong_ones() {
    let clock = Arc::new(ManualClock::new());
    for server in servers_with(|o| o.clock = clock.clone()).await {
        let backend = server.backend;
        let c = server.cognito();
        let (_pool, client) = setup(&c, false).await;
        let tally = race(std::slice::from_ref(&c), &client, "ana", Some(GUESSES / 2)).await;
        assert_eq!(tally.incorrect + tally.exceeded + tally.ok, GUESSES, "{backend}: {tally:?}");
        if tally.right_one_ok == Some(true) {
            // At most four failures before it, five after it.
            assert!((5..=9).contains(&tally.incorrect), "{backend}: {tally:?}");
        } else {
            assert_eq!(tally.incorrect, 5, "{backend}: {tally:?}");
        }
        // Either way the count ended at five failures: locked now.
        assert_eq!(sign_in(&c, &client, "ana", PW).await.unwrap_err().1, EXCEEDED, "{backend}");
    }
}

/// A right password whose sign-in is still under way (here in a PreTokenGeneration handler
/// that takes 700 ms, after the password was checked) when wrong guesses lock the user is
/// refused at its end; with fewer failures than a lock meanwhile, it succeeds and they are
/// forgotten. The sign-in stands on the record as it is when its tokens are issued.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_counted_while_a_right_password_is_answered_decide_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slow.js"),
        "exports.handler = async (event) => { await new Promise((r) => setTimeout(r, 700)); return event; };\n",
    )
    .unwrap();
    let cfg = dir.path().join("cognate.toml");
    std::fs::write(&cfg, "[functions.slow-token]\nruntime = \"node\"\nhandler = \"slow.handler\"\ntimeout_ms = 5000\n")
        .unwrap();
    let clock = Arc::new(ManualClock::new());
    for server in servers_with(|o| {
        o.config = Some(cfg.clone());
        o.clock = clock.clone();
    })
    .await
    {
        let backend = server.backend;
        let c = server.cognito();
        let (pool, client) = setup(&c, false).await;
        let slow = LambdaConfigType::builder()
            .pre_token_generation("arn:aws:lambda:us-east-1:000000000000:function:slow-token")
            .build();
        c.update_user_pool().user_pool_id(&pool).lambda_config(slow).send().await.unwrap();
        confirmed_user(&c, &pool, "bo", PW).await;
        // Signed in once before, so that on PostgreSQL the sign-ins timed below act on what the
        // server kept of that read (the same outcome is due).
        for user in ["ana", "bo"] {
            sign_in(&c, &client, user, PW).await.unwrap_or_else(|e| panic!("{backend}: {e:?}"));
        }

        // Five failures while ana's right password is in the handler: refused at its end.
        let right = right_password_in_the_handler(&c, &client, "ana").await;
        for _ in 0..5 {
            assert_eq!(sign_in(&c, &client, "ana", WRONG).await.unwrap_err().1, INCORRECT, "{backend}");
        }
        assert!(!right.is_finished(), "{backend}: the right sign-in must still be in its handler");
        assert_eq!(right.await.unwrap().unwrap_err().1, EXCEEDED, "{backend}");

        // Two failures while bo's is: it succeeds, and forgets them (four more do not lock).
        let right = right_password_in_the_handler(&c, &client, "bo").await;
        for _ in 0..2 {
            assert_eq!(sign_in(&c, &client, "bo", WRONG).await.unwrap_err().1, INCORRECT, "{backend}");
        }
        assert!(!right.is_finished(), "{backend}: the right sign-in must still be in its handler");
        right.await.unwrap().unwrap_or_else(|e| panic!("{backend}: {e:?}"));
        for _ in 0..4 {
            assert_eq!(sign_in(&c, &client, "bo", WRONG).await.unwrap_err().1, INCORRECT, "{backend}");
        }
        sign_in(&c, &client, "bo", PW).await.unwrap_or_else(|e| panic!("{backend}: {e:?}"));
    }
}

/// Starts `user`'s sign-in with the right password and returns once it is in the 700 ms
/// handler (its password checked).
async fn right_password_in_the_handler(
    c: &Client,
    client: &str,
    user: &str,
) -> tokio::task::JoinHandle<Result<(), (String, String)>> {
    let (c, client, user) = (c.clone(), client.to_owned(), user.to_owned());
    let right = tokio::spawn(async move { sign_in(&c, &client, &user, PW).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    right
}

/// With PreventUserExistenceErrors, a name no user has is answered like a real user's: wrong
/// passwords are incorrect, the sixth attempt (and a racing burst beyond five) is
/// "Password attempts exceeded", and the lock grows the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_user_locks_out_like_a_real_one_when_existence_is_hidden() {
    let clock = Arc::new(ManualClock::new());
    for server in servers_with(|o| o.clock = clock.clone()).await {
        let backend = server.backend;
        let c = server.cognito();
        let (_pool, client) = setup(&c, true).await;
        // The same answers, step by step, for the real user and for a ghost.
        let mut answers = Vec::new();
        for user in ["ana", "ghost"] {
            let mut seen = Vec::new();
            for _ in 0..6 {
                seen.push(sign_in(&c, &client, user, WRONG).await.unwrap_err());
            }
            clock.advance(1_100);
            seen.push(sign_in(&c, &client, user, WRONG).await.unwrap_err());
            seen.push(sign_in(&c, &client, user, WRONG).await.unwrap_err());
            answers.push(seen);
        }
        let na = |m: &str| ("NotAuthorizedException".to_owned(), m.to_owned());
        let expected = [vec![na(INCORRECT); 5], vec![na(EXCEEDED), na(INCORRECT), na(EXCEEDED)]].concat();
        assert_eq!(answers[0], expected, "{backend}: real user");
        assert_eq!(answers[1], expected, "{backend}: unknown user");
        // Names are matched as usernames are (case-insensitively here): GHOST is ghost.
        assert_eq!(sign_in(&c, &client, "GHOST", WRONG).await.unwrap_err(), na(EXCEEDED), "{backend}");

        // A racing burst at another unknown name: exactly five evaluated.
        let tally = race(std::slice::from_ref(&c), &client, "phantom", None).await;
        assert_eq!((tally.incorrect, tally.exceeded, tally.ok), (5, GUESSES - 5, 0), "{backend}: {tally:?}");
    }
}

/// Without PreventUserExistenceErrors an unknown name is simply not found, however often.
#[tokio::test]
async fn unknown_user_is_not_found_when_existence_shows() {
    for server in servers_with(|_| {}).await {
        let c = server.cognito();
        let (_pool, client) = setup(&c, false).await;
        for _ in 0..7 {
            let (code, _) = sign_in(&c, &client, "ghost", WRONG).await.unwrap_err();
            assert_eq!(code, "UserNotFoundException", "{}", server.backend);
        }
    }
}
