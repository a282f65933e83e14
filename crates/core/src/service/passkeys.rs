//! Passkeys (WebAuthn): registration with `StartWebAuthnRegistration` /
//! `CompleteWebAuthnRegistration`, listing and deleting, and the `WEB_AUTHN` challenge of
//! choice-based sign-in. Attestation and assertion checks are webauthn-rs-core's (challenge,
//! origin, relying-party id hash, signature, user verification per the pool's setting, sign
//! counter). A user's passkeys are pool objects of the kind `passkey/<sub>`, keyed by credential
//! id; `passkey-owner` keeps each credential id once across all users.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use cognate_api::trigger::TriggerSource;
use cognate_api::{
    ChallengeNameType, CompleteWebAuthnRegistrationRequest, CompleteWebAuthnRegistrationResponse,
    DeleteWebAuthnCredentialRequest, DeleteWebAuthnCredentialResponse, ListWebAuthnCredentialsRequest,
    ListWebAuthnCredentialsResponse, StartWebAuthnRegistrationRequest, StartWebAuthnRegistrationResponse,
    WebAuthnCredentialDescription,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AuthenticationState, COSEAlgorithm, Credential, PublicKeyCredential,
    RegisterPublicKeyCredential, RegistrationState, UserVerificationPolicy,
};
use webauthn_rs_core::WebauthnCore;

use super::auth::AuthStep;
use super::domains::DOMAIN;
use super::paging::Page;
use super::triggers::StringMap;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result, StoreError};
use crate::model::{get_obj, get_str, AppClient, PoolObject, User, UserPool};

/// Passkeys a user may hold (ListWebAuthnCredentials pages hold at most 20).
const MAX_PASSKEYS: usize = 20;
/// The browser's timeout for a ceremony (Cognito's options say 60000 ms); the server keeps a
/// registration open for five minutes and a sign-in for the client's session validity.
const CEREMONY: Duration = Duration::from_secs(60);
const OWNER: &str = "passkey-owner";
const PENDING_KEY: &str = "registration";

fn kind(user: &User) -> String {
    format!("passkey/{}", user.sub)
}

fn pending_kind(user: &User) -> String {
    format!("passkey-pending/{}", user.sub)
}

/// Sign-in ceremonies in progress: their state (all the user's public keys) stays here, the
/// Session names it (a Session holds at most 2048 characters).
fn ceremony_kind(user: &User) -> String {
    format!("passkey-ceremony/{}", user.sub)
}

fn err(kind: ErrorKind, message: &str) -> CognitoError {
    CognitoError::new(kind, message)
}

/// A stored passkey: webauthn-rs-core's credential and what ListWebAuthnCredentials shows.
#[derive(Serialize, Deserialize)]
struct Passkey {
    credential: Credential,
    relying_party_id: String,
    attachment: Option<String>,
    transports: Vec<String>,
    created_ms: i64,
}

/// A registration started for a user and app client.
#[derive(Serialize, Deserialize)]
struct PendingRegistration {
    client: String,
    expires_ms: i64,
    state: RegistrationState,
}

/// The pool's WebAuthn settings, from SetUserPoolMfaConfig's `WebAuthnConfiguration`.
struct Settings {
    relying_party_id: Option<String>,
    user_verification: UserVerificationPolicy,
    multi_factor: bool,
}

fn settings(pool: &UserPool) -> Settings {
    let config = get_obj(&pool.doc, "MfaSettings").and_then(|m| get_obj(m, "WebAuthnConfiguration"));
    let get = |k: &str| config.and_then(|c| get_str(c, k));
    Settings {
        relying_party_id: get("RelyingPartyId").map(str::to_owned),
        user_verification: if get("UserVerification") == Some("required") {
            UserVerificationPolicy::Required
        } else {
            UserVerificationPolicy::Preferred
        },
        multi_factor: get("FactorConfiguration") == Some("MULTI_FACTOR_WITH_USER_VERIFICATION"),
    }
}

/// Whether the pool lets users sign in with passkeys (a first factor, or MFA with user
/// verification).
pub(crate) fn passkeys_enabled(pool: &UserPool) -> bool {
    let first = get_obj(&pool.doc, "Policies")
        .and_then(|p| get_obj(p, "SignInPolicy"))
        .and_then(|s| s.get("AllowedFirstAuthFactors"))
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x == "WEB_AUTHN"));
    first || settings(pool).multi_factor
}

/// Whether a passkey with user verification counts as MFA in the pool.
pub(crate) fn passkey_is_mfa(pool: &UserPool) -> bool {
    settings(pool).multi_factor
}

/// Maps a failed ceremony to Cognito's exception.
fn ceremony_error(e: WebauthnError) -> CognitoError {
    match e {
        WebauthnError::InvalidRPIDHash => {
            err(ErrorKind::WebAuthnRelyingPartyMismatch, "The credential was created for a different relying party.")
        }
        WebauthnError::InvalidRPOrigin => err(
            ErrorKind::WebAuthnOriginNotAllowed,
            "The origin of the credential is not allowed for the relying party.",
        ),
        WebauthnError::MismatchedChallenge => {
            err(ErrorKind::WebAuthnChallengeNotFound, "The credential does not answer the pending challenge.")
        }
        WebauthnError::UserNotVerified => {
            err(ErrorKind::WebAuthnCredentialNotSupported, "The authenticator did not verify the user.")
        }
        other => {
            err(ErrorKind::WebAuthnCredentialNotSupported, &format!("The credential could not be verified: {other}."))
        }
    }
}

impl Service {
    /// The relying party id: the pool's setting, else its custom domain, else its prefix
    /// domain's host name.
    async fn relying_party_id(&self, pool: &UserPool) -> Result<String> {
        if let Some(id) = settings(pool).relying_party_id {
            return Ok(id);
        }
        let domains: Vec<String> =
            self.store.list_objects(DOMAIN, &pool.id, None, 10).await?.into_iter().map(|o| o.key).collect();
        let custom = domains.iter().find(|d| d.contains('.'));
        let chosen = custom.cloned().or_else(|| {
            domains.first().map(|prefix| format!("{prefix}.auth.{}.amazoncognito.com", self.pool_region(&pool.id)))
        });
        chosen.ok_or_else(|| {
            err(
                ErrorKind::WebAuthnConfigurationMissing,
                "The user pool has no WebAuthn relying party id and no domain to take it from.",
            )
        })
    }

    /// A WebAuthn relying party for `rp_id`: origins are `https://<rp_id>` and its subdomains,
    /// on any port, and `http://` too where the id is `localhost` (or below it).
    fn relying_party(&self, rp_id: &str) -> Result<WebauthnCore> {
        let mut origins = Vec::new();
        for scheme in ["https", "http"] {
            if scheme == "http" && !(rp_id == "localhost" || rp_id.ends_with(".localhost")) {
                continue;
            }
            let url = url::Url::parse(&format!("{scheme}://{rp_id}"))
                .map_err(|_| CognitoError::invalid_parameter("The WebAuthn relying party id is not a host name."))?;
            origins.push(url);
        }
        Ok(WebauthnCore::new_unsafe_experts_only(rp_id, rp_id, origins, CEREMONY, Some(true), Some(true)))
    }

    async fn passkeys(&self, user: &User) -> Result<Vec<(String, Passkey)>> {
        let objects = self.store.list_objects(&kind(user), &user.pool_id, None, MAX_PASSKEYS + 1).await?;
        Ok(objects
            .into_iter()
            .filter_map(|o| Some((o.key, serde_json::from_value(Value::Object(o.doc)).ok()?)))
            .collect())
    }

    /// Whether the user has a passkey (USER_AUTH then offers `WEB_AUTHN`).
    pub(crate) async fn has_passkey(&self, pool: &UserPool, user: &User) -> Result<bool> {
        Ok(passkeys_enabled(pool) && !self.store.list_objects(&kind(user), &pool.id, None, 1).await?.is_empty())
    }

    fn check_enabled(pool: &UserPool) -> Result<()> {
        if get_str(&pool.doc, "UserPoolTier") == Some("LITE") {
            return Err(err(
                ErrorKind::FeatureUnavailableInTier,
                "Passkeys are available in the Essentials and Plus feature plans only.",
            ));
        }
        if !passkeys_enabled(pool) {
            return Err(err(ErrorKind::WebAuthnNotEnabled, "WebAuthn is not enabled for this user pool."));
        }
        Ok(())
    }

    pub async fn start_web_authn_registration(
        &self,
        ctx: &RequestContext,
        req: StartWebAuthnRegistrationRequest,
    ) -> Result<StartWebAuthnRegistrationResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        let (pool, user) = (&caller.pool, &caller.user);
        Self::check_enabled(pool)?;
        let rp_id = self.relying_party_id(pool).await?;
        let existing = self.passkeys(user).await?;
        if existing.len() >= MAX_PASSKEYS {
            return Err(err(ErrorKind::LimitExceeded, "The user has the most passkeys a user may have."));
        }
        let exclude = existing.iter().map(|(_, p)| p.credential.cred_id.clone()).collect::<Vec<_>>();
        let party = self.relying_party(&rp_id)?;
        let builder = party
            .new_challenge_register_builder(user.sub.as_bytes(), &user.username, &user.username)
            .map_err(ceremony_error)?
            .attestation(AttestationConveyancePreference::None)
            .credential_algorithms(vec![COSEAlgorithm::ES256, COSEAlgorithm::RS256])
            .require_resident_key(true)
            .user_verification_policy(settings(pool).user_verification)
            .exclude_credentials(Some(exclude));
        let (options, state) = party.generate_challenge_register(builder).map_err(ceremony_error)?;
        let pending = PendingRegistration {
            client: caller.client.client_id.clone(),
            expires_ms: self.now_ms() + 5 * 60_000,
            state,
        };
        self.put_doc(&pending_kind(user), PENDING_KEY, &pool.id, &pending, false).await?;
        let mut options = serde_json::to_value(&options.public_key).map_err(CognitoError::internal)?;
        if let Some(rp) = options.get_mut("rp").and_then(Value::as_object_mut) {
            rp.insert("name".into(), json!(rp_id));
        }
        Ok(StartWebAuthnRegistrationResponse { credential_creation_options: options })
    }

    pub async fn complete_web_authn_registration(
        &self,
        ctx: &RequestContext,
        req: CompleteWebAuthnRegistrationRequest,
    ) -> Result<CompleteWebAuthnRegistrationResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        let (pool, user) = (&caller.pool, &caller.user);
        Self::check_enabled(pool)?;
        let no_challenge =
            || err(ErrorKind::WebAuthnChallengeNotFound, "There is no pending passkey registration for the user.");
        let object = self.store.get_object(&pending_kind(user), PENDING_KEY).await?.ok_or_else(no_challenge)?;
        // One answer per challenge, right or wrong.
        self.store.delete_object(&pending_kind(user), PENDING_KEY).await?;
        let pending: PendingRegistration =
            serde_json::from_value(Value::Object(object.doc)).map_err(CognitoError::internal)?;
        if pending.expires_ms <= self.now_ms() {
            return Err(no_challenge());
        }
        if pending.client != caller.client.client_id {
            return Err(err(
                ErrorKind::WebAuthnClientMismatch,
                "The passkey registration was started by a different app client.",
            ));
        }
        let credential: RegisterPublicKeyCredential = serde_json::from_value(req.credential.clone())
            .map_err(|_| CognitoError::invalid_parameter("Credential is not a WebAuthn registration response."))?;
        let rp_id = self.relying_party_id(pool).await?;
        let verified = self
            .relying_party(&rp_id)?
            .register_credential(&credential, &pending.state, None)
            .map_err(ceremony_error)?;
        let id = B64URL.encode(verified.cred_id.as_slice());
        // A credential id belongs to one user only.
        let owner = PoolObject {
            kind: OWNER.to_owned(),
            key: id.clone(),
            pool_id: pool.id.clone(),
            doc: [("sub".to_owned(), json!(user.sub))].into_iter().collect(),
            created_ms: self.now_ms(),
        };
        match self.store.put_object(&owner, true).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(CognitoError::invalid_parameter("This passkey is already registered."))
            }
            Err(e) => return Err(e.into()),
        }
        let raw = &req.credential;
        let transports = raw
            .pointer("/response/transports")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let passkey = Passkey {
            credential: verified,
            relying_party_id: rp_id,
            attachment: raw.get("authenticatorAttachment").and_then(Value::as_str).map(str::to_owned),
            transports,
            created_ms: self.now_ms(),
        };
        self.put_doc(&kind(user), &id, &pool.id, &passkey, true).await?;
        Ok(CompleteWebAuthnRegistrationResponse {})
    }

    pub async fn list_web_authn_credentials(
        &self,
        ctx: &RequestContext,
        req: ListWebAuthnCredentialsRequest,
    ) -> Result<ListWebAuthnCredentialsResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        let page = Page::checked(req.max_results.filter(|m| *m > 0), MAX_PASSKEYS, req.next_token.as_deref())?;
        let mut objects = self
            .store
            .list_objects(&kind(&caller.user), &caller.pool.id, page.after.as_deref(), page.fetch_limit())
            .await?;
        let next_token = page.finish(&mut objects, |o| o.key.clone());
        let credentials = objects
            .into_iter()
            .filter_map(|o| {
                let p: Passkey = serde_json::from_value(Value::Object(o.doc)).ok()?;
                let name = match p.attachment.as_deref() {
                    Some("platform") => "Passkey on this device",
                    Some("cross-platform") => "Security key",
                    _ => "Passkey",
                };
                Some(WebAuthnCredentialDescription {
                    credential_id: o.key,
                    friendly_credential_name: name.to_owned(),
                    relying_party_id: p.relying_party_id,
                    authenticator_attachment: p.attachment,
                    authenticator_transports: p.transports,
                    created_at: p.created_ms as f64 / 1000.0,
                })
            })
            .collect();
        Ok(ListWebAuthnCredentialsResponse { credentials, next_token })
    }

    pub async fn delete_web_authn_credential(
        &self,
        ctx: &RequestContext,
        req: DeleteWebAuthnCredentialRequest,
    ) -> Result<DeleteWebAuthnCredentialResponse> {
        let caller = self.token_caller(ctx, &req.access_token).await?;
        if !self.store.delete_object(&kind(&caller.user), &req.credential_id).await? {
            return Err(err(ErrorKind::ResourceNotFound, "The user has no passkey with this credential id."));
        }
        self.store.delete_object(OWNER, &req.credential_id).await?;
        Ok(DeleteWebAuthnCredentialResponse {})
    }

    /// Deletes a user's passkeys (the user is being deleted), freeing their credential ids.
    pub(crate) async fn forget_all_passkeys(&self, user: &User) -> Result<()> {
        for id in self.delete_kind(&kind(user), &user.pool_id).await? {
            self.store.delete_object(OWNER, &id).await?;
        }
        self.delete_kind(&pending_kind(user), &user.pool_id).await?;
        self.delete_kind(&ceremony_kind(user), &user.pool_id).await?;
        Ok(())
    }

    /// The `WEB_AUTHN` challenge: request options for the user's passkeys, the ceremony's
    /// state sealed in the Session.
    pub(crate) async fn web_authn_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        source: TriggerSource,
    ) -> Result<AuthStep> {
        let passkeys = self.passkeys(user).await?;
        let rp_id = self.relying_party_id(pool).await?;
        let party = self.relying_party(&rp_id)?;
        let policy = settings(pool).user_verification;
        // The pool's policy now decides whether the assertion must verify the user, as in
        // Cognito: under `preferred` an unverified assertion is taken (and MFA follows where the
        // pool asks for it). webauthn-rs-core would also hold a passkey to the verification
        // it showed, or the policy it was registered under, every time after; the ceremony's
        // copies say neither (the stored passkeys keep what registration recorded).
        let creds = passkeys
            .into_iter()
            .map(|(_, p)| Credential { user_verified: false, registration_policy: policy, ..p.credential })
            .collect();
        let builder = party.new_challenge_authenticate_builder(creds, Some(policy)).map_err(ceremony_error)?;
        let (options, state) = party.generate_challenge_authenticate(builder).map_err(ceremony_error)?;
        let options = serde_json::to_string(&options.public_key).map_err(CognitoError::internal)?;
        // The ceremony's state stays here; the Session carries its id.
        let ceremony_id = B64URL.encode(cognate_crypto::random::bytes(18).map_err(CognitoError::internal)?);
        self.put_doc(&ceremony_kind(user), &ceremony_id, &pool.id, &json!({ "state": state }), true).await?;
        let data = json!({ "ceremony": ceremony_id, "rpId": rp_id, "tokenSource": source });
        let minutes = client.auth_session_validity_minutes();
        let session = self.new_session(&pool.id, &client.client_id, &user.username, "WEB_AUTHN", minutes, data)?;
        let parameters: StringMap = [("CREDENTIAL_REQUEST_OPTIONS".to_owned(), options)].into();
        Ok(AuthStep::challenge(ChallengeNameType::WebAuthn, Some(session), parameters))
    }

    /// RespondToAuthChallenge `WEB_AUTHN` {USERNAME, CREDENTIAL}: checks the assertion against
    /// the session's ceremony and the user's passkey, and moves its sign counter on. Returns the
    /// token source the sign-in ends with, and whether the authenticator verified the user.
    pub(crate) async fn check_web_authn_answer(
        &self,
        pool: &UserPool,
        client: &AppClient,
        session: &str,
        user: &User,
        credential: &str,
    ) -> Result<(TriggerSource, bool)> {
        let state = self.take_session(session, &client.client_id, &pool.id, "WEB_AUTHN").await?;
        let refused = || CognitoError::not_authorized("Incorrect username or passkey.");
        if state.username != user.username {
            return Err(CognitoError::not_authorized("Invalid session for the user."));
        }
        let ceremony_id = state.data.get("ceremony").and_then(Value::as_str).unwrap_or_default();
        let stored = self.store.get_object(&ceremony_kind(user), ceremony_id).await?;
        let stored = stored.ok_or_else(|| CognitoError::not_authorized("Invalid session for the user."))?;
        self.store.delete_object(&ceremony_kind(user), ceremony_id).await?;
        let ceremony: AuthenticationState =
            serde_json::from_value(stored.doc.get("state").cloned().unwrap_or_default())
                .map_err(CognitoError::internal)?;
        let rp_id = state.data.get("rpId").and_then(Value::as_str).unwrap_or_default();
        let answer: PublicKeyCredential = serde_json::from_str(credential)
            .map_err(|_| CognitoError::invalid_parameter("CREDENTIAL is not a WebAuthn authentication response."))?;
        let id = B64URL.encode(&answer.raw_id);
        let object = self.store.get_object(&kind(user), &id).await?.ok_or_else(refused)?;
        let mut passkey: Passkey = serde_json::from_value(Value::Object(object.doc)).map_err(CognitoError::internal)?;
        let result = self.relying_party(rp_id)?.authenticate_credential(&answer, &ceremony).map_err(|_| refused())?;
        // webauthn-rs-core refused a counter that did not move on; keep the new one.
        if result.counter() > passkey.credential.counter {
            passkey.credential.counter = result.counter();
        }
        passkey.credential.backup_state = result.backup_state();
        self.put_doc(&kind(user), &id, &pool.id, &passkey, false).await?;
        Ok((super::mfa::token_source(&state), result.user_verified()))
    }
}
