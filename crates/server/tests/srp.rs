//! USER_SRP_AUTH and the PASSWORD_VERIFIER challenge, driven with the SDK and a client-side SRP
//! implementation; the SECRET_BLOCK is tamper-proof, expires, and is used up by a right answer
//! (a wrong one may be followed by another); TIMESTAMP is read as Java reads
//! `EEE MMM d HH:mm:ss z yyyy` and signed in its canonical form.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ChallengeNameType, ExplicitAuthFlowsType, MessageActionType, PreventUserExistenceErrorTypes,
};
use aws_sdk_cognitoidentityprovider::Client;
use cognate_core::ports::ManualClock;
use cognate_crypto::srp::client::Client as SrpClient;
use cognate_crypto::srp::format_timestamp;
use common::{confirmed_user, err_of, servers_with, CreatedId};

const PW: &str = "Correct-horse-1";

async fn setup(c: &Client, prevent: bool) -> (String, String) {
    let pool = c.create_user_pool().pool_name("srp").created_id().await;
    let mut b = c.create_user_pool_client().user_pool_id(&pool).client_name("web");
    if prevent {
        b = b.prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled);
    }
    let client = b.created_id().await;
    confirmed_user(c, &pool, "ana", PW).await;
    (pool, client)
}

async fn challenge(
    c: &Client,
    client: &str,
    user: &str,
    srp: &SrpClient,
) -> Result<HashMap<String, String>, (String, String)> {
    let out = c
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", user)
        .auth_parameters("SRP_A", srp.a_hex())
        .send()
        .await
        .map_err(|e| err_of(&e))?;
    assert_eq!(out.challenge_name, Some(ChallengeNameType::PasswordVerifier));
    Ok(out.challenge_parameters.unwrap())
}

/// A PASSWORD_VERIFIER answer's outcome: the output, or the error's code and message.
type Answer = Result<
    aws_sdk_cognitoidentityprovider::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput,
    (String, String),
>;

async fn answer(
    c: &Client,
    pool: &str,
    client: &str,
    params: &HashMap<String, String>,
    srp: &SrpClient,
    password: &str,
    now_secs: i64,
) -> Answer {
    let ts = format_timestamp(now_secs);
    answer_signed(c, pool, client, params, srp, password, &ts, &ts).await
}

/// Answers with `sent` as TIMESTAMP and a signature over `signed`.
#[allow(clippy::too_many_arguments)]
async fn answer_signed(
    c: &Client,
    pool: &str,
    client: &str,
    params: &HashMap<String, String>,
    srp: &SrpClient,
    password: &str,
    sent: &str,
    signed: &str,
) -> Answer {
    let ts = sent;
    let user = &params["USER_ID_FOR_SRP"];
    let sig = srp
        .password_claim(pool, user, password, &params["SALT"], &params["SRP_B"], &params["SECRET_BLOCK"], signed)
        .unwrap();
    c.respond_to_auth_challenge()
        .client_id(client)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .challenge_responses("USERNAME", &params["USERNAME"])
        .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &params["SECRET_BLOCK"])
        .challenge_responses("PASSWORD_CLAIM_SIGNATURE", sig)
        .challenge_responses("TIMESTAMP", ts)
        .send()
        .await
        .map_err(|e| err_of(&e))
}

fn now(clock: &ManualClock) -> i64 {
    use cognate_core::ports::Clock;
    clock.now_millis() / 1000
}

#[tokio::test]
async fn srp_sign_in_and_secret_block_rules() {
    let clock = Arc::new(ManualClock::new());
    for server in servers_with(|o| o.clock = clock.clone()).await {
        let c = server.cognito();
        let (pool, client) = setup(&c, false).await;
        let srp = SrpClient::random();
        let params = challenge(&c, &client, "ana", &srp).await.unwrap();
        assert_eq!(params["USER_ID_FOR_SRP"], "ana");
        assert_eq!(params["USERNAME"], "ana");
        assert!(params["SRP_B"].chars().all(|c| c.is_ascii_hexdigit()));
        let ok = answer(&c, &pool, &client, &params, &srp, PW, now(&clock)).await.unwrap();
        assert!(ok.authentication_result.unwrap().id_token.is_some());

        // Replayed after success.
        let e = answer(&c, &pool, &client, &params, &srp, PW, now(&clock)).await.unwrap_err();
        assert_eq!(e, ("NotAuthorizedException".into(), "Incorrect username or password.".into()));

        // Forged: one flipped byte in the sealed block.
        let srp2 = SrpClient::random();
        let mut p2 = challenge(&c, &client, "ana", &srp2).await.unwrap();
        let mut raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &p2["SECRET_BLOCK"]).unwrap();
        let mid = raw.len() / 2;
        raw[mid] ^= 1;
        p2.insert("SECRET_BLOCK".into(), base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw));
        let e = answer(&c, &pool, &client, &p2, &srp2, PW, now(&clock)).await.unwrap_err();
        assert_eq!(e.0, "NotAuthorizedException");

        // Expired.
        let srp3 = SrpClient::random();
        let p3 = challenge(&c, &client, "ana", &srp3).await.unwrap();
        clock.advance(6 * 60 * 1000);
        let e = answer(&c, &pool, &client, &p3, &srp3, PW, now(&clock)).await.unwrap_err();
        assert_eq!(e, ("NotAuthorizedException".into(), "Invalid session for the user, session is expired.".into()));

        // Wrong password, then the right one with the same SECRET_BLOCK: a retried answer within
        // the challenge succeeds, and only once.
        let srp4 = SrpClient::random();
        let p4 = challenge(&c, &client, "ana", &srp4).await.unwrap();
        let e = answer(&c, &pool, &client, &p4, &srp4, "Wrong-pass-1", now(&clock)).await.unwrap_err();
        assert_eq!(e, ("NotAuthorizedException".into(), "Incorrect username or password.".into()));
        assert!(answer(&c, &pool, &client, &p4, &srp4, PW, now(&clock)).await.is_ok());
        let e = answer(&c, &pool, &client, &p4, &srp4, PW, now(&clock)).await.unwrap_err();
        assert_eq!(e, ("NotAuthorizedException".into(), "Incorrect username or password.".into()));

        // TIMESTAMP forms: a day with a leading zero, other case, GMT, or a wrong day name are
        // read (no InvalidParameterException), but the signature covers the canonical form, so a
        // client that signed what it sent in another form is refused, as AWS does...
        let canonical = format_timestamp(now(&clock));
        let mut fields: Vec<String> = canonical.split(' ').map(str::to_owned).collect();
        let zero_day = format!("{:0>2}", fields[2]);
        let other_day = if fields[0] == "Mon" { "Tue" } else { "Mon" }.to_owned();
        let mut forms = vec![canonical.to_uppercase(), canonical.replace(" UTC ", " GMT ")];
        fields[2] = zero_day;
        forms.push(fields.join(" "));
        let mut wrong_day: Vec<String> = canonical.split(' ').map(str::to_owned).collect();
        wrong_day[0] = other_day;
        forms.push(wrong_day.join(" "));
        for form in &forms {
            let srp_f = SrpClient::random();
            let pf = challenge(&c, &client, "ana", &srp_f).await.unwrap();
            let e = answer_signed(&c, &pool, &client, &pf, &srp_f, PW, form, form).await.unwrap_err();
            assert_eq!(e, ("NotAuthorizedException".into(), "Incorrect username or password.".into()), "{form}");
            // ...and one that signed the canonical form while sending another is signed in.
            let ok = answer_signed(&c, &pool, &client, &pf, &srp_f, PW, form, &canonical).await;
            assert!(ok.is_ok(), "{form}: {ok:?}");
        }
        let other = c.create_user_pool_client().user_pool_id(&pool).client_name("other").created_id().await;
        let srp5 = SrpClient::random();
        let p5 = challenge(&c, &client, "ana", &srp5).await.unwrap();
        let e = answer(&c, &pool, &other, &p5, &srp5, PW, now(&clock)).await.unwrap_err();
        assert_eq!(e.0, "NotAuthorizedException");

        // Bad input: A ≡ 0 (mod N) and a TIMESTAMP that cannot be read.
        let n_hex = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";
        let out = c
            .initiate_auth()
            .client_id(&client)
            .auth_flow(AuthFlowType::UserSrpAuth)
            .auth_parameters("USERNAME", "ana")
            .auth_parameters("SRP_A", n_hex)
            .send()
            .await
            .unwrap();
        let p6 = out.challenge_parameters.unwrap();
        let e = c
            .respond_to_auth_challenge()
            .client_id(&client)
            .challenge_name(ChallengeNameType::PasswordVerifier)
            .challenge_responses("USERNAME", "ana")
            .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &p6["SECRET_BLOCK"])
            .challenge_responses("PASSWORD_CLAIM_SIGNATURE", "AAAA")
            .challenge_responses("TIMESTAMP", format_timestamp(now(&clock)))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err_of(&e), ("NotAuthorizedException".into(), "Incorrect username or password.".into()));
        let srp7 = SrpClient::random();
        let p7 = challenge(&c, &client, "ana", &srp7).await.unwrap();
        let e = c
            .respond_to_auth_challenge()
            .client_id(&client)
            .challenge_name(ChallengeNameType::PasswordVerifier)
            .challenge_responses("USERNAME", "ana")
            .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &p7["SECRET_BLOCK"])
            .challenge_responses("PASSWORD_CLAIM_SIGNATURE", "AAAA")
            .challenge_responses("TIMESTAMP", "2024-01-02T03:04:05Z")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err_of(&e),
            (
                "InvalidParameterException".into(),
                "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.".into()
            )
        );
    }
}

#[tokio::test]
async fn srp_unknown_users_and_new_password() {
    for server in servers_with(|_| {}).await {
        let c = server.cognito();
        let (pool, legacy) = setup(&c, false).await;
        let srp = SrpClient::random();
        assert_eq!(
            challenge(&c, &legacy, "ghost", &srp).await.unwrap_err(),
            ("UserNotFoundException".into(), "User does not exist.".into())
        );

        let hidden = c
            .create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("hidden")
            .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
            .created_id()
            .await;
        let p = challenge(&c, &hidden, "ghost", &srp).await.unwrap();
        assert_eq!(p["USER_ID_FOR_SRP"], "ghost");
        let again = challenge(&c, &hidden, "ghost", &SrpClient::random()).await.unwrap();
        assert_eq!(p["SALT"], again["SALT"], "a decoy's salt is stable");
        let e = answer(&c, &pool, &hidden, &p, &srp, PW, now_real()).await.unwrap_err();
        assert_eq!(e, ("NotAuthorizedException".into(), "Incorrect username or password.".into()));

        // FORCE_CHANGE_PASSWORD users get NEW_PASSWORD_REQUIRED after the proof.
        c.admin_create_user()
            .user_pool_id(&pool)
            .username("new")
            .temporary_password("Temp-pass-123")
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        let srp = SrpClient::random();
        let p = challenge(&c, &legacy, "new", &srp).await.unwrap();
        let out = answer(&c, &pool, &legacy, &p, &srp, "Temp-pass-123", now_real()).await.unwrap();
        assert_eq!(out.challenge_name, Some(ChallengeNameType::NewPasswordRequired));
        let done = c
            .respond_to_auth_challenge()
            .client_id(&legacy)
            .challenge_name(ChallengeNameType::NewPasswordRequired)
            .session(out.session.unwrap())
            .challenge_responses("USERNAME", "new")
            .challenge_responses("NEW_PASSWORD", PW)
            .send()
            .await
            .unwrap();
        assert!(done.authentication_result.is_some());
        let srp = SrpClient::random();
        let p = challenge(&c, &legacy, "new", &srp).await.unwrap();
        assert!(answer(&c, &pool, &legacy, &p, &srp, PW, now_real()).await.unwrap().authentication_result.is_some());

        let srp_off = c
            .create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("pw")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .created_id()
            .await;
        assert_eq!(
            challenge(&c, &srp_off, "ana", &srp).await.unwrap_err(),
            ("InvalidParameterException".into(), "USER_SRP_AUTH is not enabled for the client.".into())
        );
    }
}

fn now_real() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
