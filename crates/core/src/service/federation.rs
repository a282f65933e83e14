//! Signing in through an external identity provider: the sealed state that carries the app's
//! authorization request through the provider and back, and the federated user Cognito keeps —
//! `<ProviderName>_<subject>`, `EXTERNAL_PROVIDER`, the `identities` attribute, the provider's
//! claims mapped to attributes at every sign-in (after the InboundFederation trigger), created
//! after PreSignUp_ExternalProvider; or the native user an identity was linked to. The HTTP side
//! (discovery, code exchange, ID-token keys, userInfo) is the server's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use cognate_api::trigger::{
    InboundFederation, InboundFederationRequest, PostAuthentication, PostAuthenticationRequest, PreSignUp,
    PreSignUpRequest, TriggerSource,
};
use cognate_api::{
    AdminDisableProviderForUserRequest, AdminDisableProviderForUserResponse, AdminLinkProviderForUserRequest,
    AdminLinkProviderForUserResponse, IdentityProviderTypeType, ProviderUserIdentifierType,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::identity_providers::Provider;
use super::oauth::{Authorization, AuthorizeParams, HostedSession};
use super::saml::{SamlAssertion, SamlLogin};
use super::triggers::{event_attributes, StringMap};
use super::users::user_not_found;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result, StoreError};
use crate::model::{PoolObject, User, UserPool, UserStatus};

const STATE_PURPOSE: &str = "oauth-federation-state";
/// How long a person may take at the provider.
const STATE_MS: i64 = 15 * 60_000;
const LINK: &str = "idp-link";
/// Identities a user may have linked (Cognito's limit).
const MAX_LINKS: usize = 5;

/// What travels through the provider in `state`: the app's request, the provider's nonce, and
/// a digest of the value the browser that started the sign-in holds in a cookie (so that a
/// provider's answer cannot be replayed into another person's browser).
#[derive(Serialize, Deserialize)]
struct FederationState {
    params: AuthorizeParams,
    provider: String,
    nonce: String,
    browser: String,
    expires_ms: i64,
}

/// The digest of a browser's federation cookie, as the state keeps it.
fn browser_digest(value: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(value.as_bytes()))
}

/// What the provider's answer carries back: the app's request, the provider and its nonce.
pub struct FederationReturn {
    pub params: AuthorizeParams,
    pub provider: String,
    pub nonce: String,
    pub pool_id: String,
}

/// The provider's side of an authorization: where to send the browser and what it needs.
pub struct FederationStart {
    pub provider: ProviderSettings,
    /// The sealed `state` to send, and the `nonce` its ID token must carry.
    pub state: String,
    pub nonce: String,
}

/// How cognate talks to a provider.
pub struct ProviderSettings {
    pub provider_type: IdentityProviderTypeType,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: String,
    /// Explicit endpoints (discovery from `issuer` fills in the missing ones).
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub attributes_url: Option<String>,
    pub jwks_uri: Option<String>,
    pub issuer: Option<String>,
    /// `POST` when the provider's userInfo is asked with a form body.
    pub attributes_method: String,
    /// The provider answers with a form POST (`response_mode=form_post`): Sign in with Apple when
    /// it is asked for the person's name or email.
    pub form_post: bool,
}

/// What the provider said about the person.
pub enum FederatedClaims {
    /// An OpenID Connect or social provider: the ID token's claims (checked by the server), the
    /// userInfo answer, and its token response (which InboundFederation receives whole).
    Oidc { id_token: Value, user_info: Value, token_response: Value },
    /// A SAML provider's verified assertion.
    Saml(SamlAssertion),
}

fn link_key(pool_id: &str, provider: &str, attribute: &str, value: &str) -> String {
    format!("{pool_id}\n{provider}\n{attribute}\n{value}")
}

/// A claim as an attribute value: strings as they are, booleans and numbers as text, anything
/// else as JSON.
fn claim_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// The subject a provider knows the person by: `sub`, Facebook's `id`, Login with Amazon's
/// `user_id`.
fn subject(kind: IdentityProviderTypeType, claims: &Value) -> Option<String> {
    let key = match kind {
        IdentityProviderTypeType::Facebook => "id",
        IdentityProviderTypeType::LoginWithAmazon => "user_id",
        _ => "sub",
    };
    claims.get(key).or_else(|| claims.get("sub")).and_then(claim_text).filter(|s| !s.is_empty())
}

/// Whether `user` is the federated user of `provider`'s `subject`.
fn is_identity_of(user: &User, provider: &str, subject: &str) -> bool {
    if user.status != UserStatus::ExternalProvider {
        return false;
    }
    let list: Vec<Value> = user.attribute("identities").and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
    list.iter().any(|i| {
        i.get("providerName").and_then(Value::as_str) == Some(provider)
            && i.get("userId").and_then(Value::as_str) == Some(subject)
    })
}

impl Service {
    /// The provider an authorization names (`identity_provider` or `idp_identifier`), checked
    /// against the client's SupportedIdentityProviders; None for the pool's own sign-in.
    pub(crate) async fn requested_provider(
        &self,
        pool: &UserPool,
        client_providers: &[String],
        params: &AuthorizeParams,
    ) -> std::result::Result<Option<String>, String> {
        let by_name = params.identity_provider.as_deref().filter(|i| !i.is_empty() && *i != "COGNITO");
        let provider = match (by_name, params.idp_identifier.as_deref().filter(|i| !i.is_empty())) {
            (Some(name), _) => self.identity_provider(&pool.id, name).await.ok().flatten(),
            (None, Some(identifier)) => self.provider_by_identifier(&pool.id, identifier).await.ok().flatten(),
            // A client whose only sign-in is one provider goes straight there, as Cognito's does.
            (None, None) => match client_providers {
                [only] if only != "COGNITO" => self.identity_provider(&pool.id, only).await.ok().flatten(),
                _ => return Ok(None),
            },
        };
        let shown =
            by_name.or(params.idp_identifier.as_deref()).unwrap_or_default().chars().take(64).collect::<String>();
        match provider {
            Some(p) if client_providers.iter().any(|c| c == p.name()) => Ok(Some(p.name().to_owned())),
            _ => Err(format!("The identity provider {shown} is not configured for this client.")),
        }
    }

    /// Where the browser goes for a federated sign-in, with the sealed state bound to
    /// `browser`, the value of a cookie the server gives that browser.
    pub fn federation_start(
        &self,
        auth: &Authorization,
        params: &AuthorizeParams,
        browser: &str,
    ) -> Result<FederationStart> {
        let name = auth.federate.as_deref().ok_or_else(|| CognitoError::internal("no provider to federate with"))?;
        let nonce = B64URL.encode(cognate_crypto::random::bytes(18).map_err(CognitoError::internal)?);
        let state = FederationState {
            params: params.clone(),
            provider: name.to_owned(),
            nonce: nonce.clone(),
            browser: browser_digest(browser),
            expires_ms: self.now_ms() + STATE_MS,
        };
        let plain = serde_json::to_vec(&state).map_err(CognitoError::internal)?;
        let sealed =
            self.master().seal(STATE_PURPOSE, auth.pool.id.as_bytes(), &plain).map_err(CognitoError::internal)?;
        Ok(FederationStart {
            provider: self.provider_settings(auth)?,
            state: format!("{}.{}", auth.pool.id, B64URL.encode(sealed)),
            nonce,
        })
    }

    /// How to reach the provider an authorization federates with.
    pub fn provider_settings(&self, auth: &Authorization) -> Result<ProviderSettings> {
        let provider = auth.provider.as_ref().ok_or_else(|| CognitoError::internal("provider not loaded"))?;
        let d = |k: &str| provider.detail(k).filter(|v| !v.is_empty());
        let client_id = d("client_id").unwrap_or_default();
        let scopes = d("authorize_scopes").unwrap_or_else(|| "openid".into());
        let apple = provider.kind() == IdentityProviderTypeType::SignInWithApple;
        let client_secret = if apple { Some(self.apple_client_secret(&client_id, &d)?) } else { d("client_secret") };
        Ok(ProviderSettings {
            provider_type: provider.kind(),
            form_post: apple && scopes.split([' ', ',']).any(|s| s == "name" || s == "email"),
            client_id,
            client_secret,
            scopes,
            authorize_url: d("authorize_url"),
            token_url: d("token_url"),
            attributes_url: d("attributes_url").map(|url| self.attributes_url(provider, url)),
            jwks_uri: d("jwks_uri"),
            issuer: d("oidc_issuer"),
            attributes_method: d("attributes_request_method").unwrap_or_else(|| "GET".into()),
        })
    }

    /// The provider's attributes URL; with `attributes_url_add_attributes` (Facebook's graph
    /// `me?fields=`, Google's people API) the mapped attribute names are appended, so that the
    /// provider returns them.
    fn attributes_url(&self, provider: &Provider, url: String) -> String {
        if provider.detail("attributes_url_add_attributes").as_deref() != Some("true") {
            return url;
        }
        let mut fields: Vec<String> = provider.attribute_mapping().into_values().collect();
        if provider.kind() == IdentityProviderTypeType::Facebook {
            fields.push("id".into());
        }
        fields.sort();
        fields.dedup();
        let encoded: Vec<String> =
            fields.iter().map(|f| url::form_urlencoded::byte_serialize(f.as_bytes()).collect()).collect();
        format!("{url}{}", encoded.join(","))
    }

    /// Sign in with Apple's client secret: a short-lived ES256 token from the team, signed with
    /// the provider's `private_key` under `key_id`, for the provider (`oidc_issuer`).
    fn apple_client_secret(&self, client_id: &str, d: &dyn Fn(&str) -> Option<String>) -> Result<String> {
        let now = self.now_ms() / 1000;
        let claims = json!({
            "iss": d("team_id").unwrap_or_default(),
            "iat": now,
            "exp": now + 300,
            "aud": d("oidc_issuer").unwrap_or_else(|| "https://appleid.apple.com".into()),
            "sub": client_id,
        });
        let key = d("private_key").unwrap_or_default();
        cognate_crypto::jwt::sign_es256(&key, &d("key_id").unwrap_or_default(), &claims).map_err(|e| {
            CognitoError::invalid_parameter(format!("The Sign in with Apple private_key cannot sign: {e}."))
        })
    }

    /// Opens the `state` the provider sent back to the browser holding `browser` in its cookie:
    /// the app's authorization request (to be checked again), the provider and the nonce, if it
    /// is genuine, not stale, and comes back to the browser that started it.
    pub fn federation_return(&self, state: &str, browser: Option<&str>) -> Result<FederationReturn> {
        let refused =
            || CognitoError::invalid_parameter("The sign-in with the identity provider is not valid or has expired.");
        let (pool_id, sealed) = state.split_once('.').ok_or_else(refused)?;
        let sealed = B64URL.decode(sealed).map_err(|_| refused())?;
        let plain = self.master().open(STATE_PURPOSE, pool_id.as_bytes(), &sealed).map_err(|_| refused())?;
        let state: FederationState = serde_json::from_slice(&plain).map_err(|_| refused())?;
        if state.expires_ms <= self.now_ms() {
            return Err(refused());
        }
        let same_browser = browser
            .is_some_and(|b| cognate_crypto::seal::ct_eq(browser_digest(b).as_bytes(), state.browser.as_bytes()));
        if !same_browser {
            return Err(CognitoError::invalid_parameter(
                "The sign-in with the identity provider was started in another browser.",
            ));
        }
        Ok(FederationReturn {
            params: state.params,
            provider: state.provider,
            nonce: state.nonce,
            pool_id: pool_id.to_owned(),
        })
    }

    /// The user a federated sign-in ends with, created or updated as Cognito does.
    pub async fn federated_sign_in(
        &self,
        ctx: &RequestContext,
        auth: &Authorization,
        provider_name: &str,
        claims: FederatedClaims,
    ) -> Result<HostedSession> {
        let pool = &auth.pool;
        let provider = self
            .identity_provider(&pool.id, provider_name)
            .await?
            .ok_or_else(|| CognitoError::invalid_parameter("The identity provider no longer exists."))?;
        let caller = ctx.caller(Some(&auth.client.client_id));
        let (merged, subject, attributes, issuer, saml) = match claims {
            FederatedClaims::Oidc { id_token, user_info, token_response } => {
                // userInfo adds to (and wins over) the ID token's claims; it must be about the
                // same person (OpenID Connect Core §5.3.2).
                if let (Some(a), Some(b)) = (id_token.get("sub"), user_info.get("sub")) {
                    if a != b {
                        return Err(CognitoError::not_authorized("The provider's userInfo is about another user."));
                    }
                }
                let mut merged = id_token.as_object().cloned().unwrap_or_default();
                if let Some(info) = user_info.as_object() {
                    merged.extend(info.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                let merged = Value::Object(merged);
                let subject = subject(provider.kind(), &merged).ok_or_else(|| {
                    CognitoError::invalid_parameter("The identity provider did not say who the user is.")
                })?;
                let attributes = json!({ "tokenResponse": token_response, "idToken": id_token, "userInfo": user_info });
                (merged, subject, attributes, provider.detail("oidc_issuer"), None)
            }
            FederatedClaims::Saml(assertion) => {
                let login = SamlLogin {
                    provider: provider.name().to_owned(),
                    name_id: assertion.name_id.clone(),
                    session_index: assertion.session_index.clone(),
                };
                let attributes = Value::Object(assertion.attributes);
                let inbound = json!({ "samlResponse": attributes });
                (attributes, assertion.name_id, inbound, Some(assertion.issuer), Some(login))
            }
        };
        let username = format!("{}_{}", provider.name(), subject);
        let mut mapped = self.map_attributes(pool, &provider, &merged);
        let request = || InboundFederationRequest {
            provider_name: provider.name().to_owned(),
            provider_type: provider.kind().as_str().to_owned(),
            attributes,
        };
        let source = TriggerSource::InboundFederationExternalProvider;
        if let Some(out) = self.run_trigger::<InboundFederation>(pool, source, &username, &caller, request).await? {
            // A full replacement; an empty answer keeps the mapping.
            if let Some(map) = out.user_attributes_to_map.filter(|m| !m.is_empty()) {
                mapped = map.into_iter().filter(|(k, _)| k != "sub" && k != "identities").collect();
            }
        }
        let identity = json!({
            "userId": subject,
            "providerName": provider.name(),
            "providerType": provider.kind().as_str(),
            "issuer": issuer,
            "primary": "true",
            "dateCreated": self.now_ms().to_string(),
        });
        let user = match self.linked_user(pool, &provider, &subject, &mapped).await? {
            Some(native) => self.add_identity(native, &identity).await?,
            None => match self.store.get_user(&pool.id, &self.user_key(pool, &username)).await? {
                // Only the federated user of this very identity: a native user who took the
                // name (SignUp as `Corp_emp-7`) must not receive the person's sign-in.
                Some(existing) if !is_identity_of(&existing, provider.name(), &subject) => {
                    return Err(CognitoError::not_authorized(
                        "A user with this provider's name for the person exists and is not that person's federated user.",
                    ));
                }
                Some(existing) => {
                    let (user, ()) = self
                        .update_user_with(existing, false, |u| {
                            for (k, v) in &mapped {
                                u.set_attribute(k, v);
                            }
                            Ok(())
                        })
                        .await?;
                    user
                }
                None => {
                    let request = || PreSignUpRequest {
                        user_attributes: mapped.clone(),
                        validation_data: None,
                        client_metadata: None,
                    };
                    let source = TriggerSource::PreSignUpExternalProvider;
                    self.run_trigger::<PreSignUp>(pool, source, &username, &caller, request).await?;
                    let mut attrs: Vec<(String, String)> = mapped.into_iter().collect();
                    attrs.push(("identities".into(), json!([identity]).to_string()));
                    let mut user = self.new_user(pool, &username, attrs, UserStatus::ExternalProvider);
                    // A federated user's sub is its own, whatever the pool's username attributes.
                    if user.sub == username {
                        user.sub = crate::ids::uuid();
                        user.set_attribute("sub", &user.sub.clone());
                    }
                    self.insert_new_user(pool, &user, false).await?;
                    // A federated user needs no confirmation; it is confirmed as it is made.
                    let source = TriggerSource::PostConfirmationConfirmSignUp;
                    self.post_confirmation(pool, source, &user, &caller, None).await?;
                    user
                }
            },
        };
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        // A sign-in like any other: PreAuthentication may refuse it, PostAuthentication sees it.
        self.pre_authentication(pool, &auth.client, Some(&user), &user.username, &caller, None).await?;
        let request = || PostAuthenticationRequest {
            user_attributes: event_attributes(&user),
            new_device_used: false,
            client_metadata: None,
        };
        self.run_trigger::<PostAuthentication>(
            pool,
            TriggerSource::PostAuthentication,
            &user.username,
            &caller,
            request,
        )
        .await?;
        self.record_sign_in_event(pool, &user, true).await?;
        let now = self.now_ms();
        Ok(HostedSession {
            pool: pool.id.clone(),
            username: user.username,
            auth_time: now / 1000,
            expires_ms: now + 3_600_000,
            saml,
        })
    }

    /// The provider's claims as pool attributes, by the provider's AttributeMapping (the
    /// pool's own attributes only).
    fn map_attributes(&self, pool: &UserPool, provider: &Provider, claims: &Value) -> StringMap {
        let mut out = StringMap::new();
        for (attribute, claim) in provider.attribute_mapping() {
            if attribute == "username" || attribute == "sub" || attribute == "identities" {
                continue;
            }
            if pool.schema_attribute(&attribute).is_none() {
                continue;
            }
            if let Some(value) = claims.get(&claim).and_then(claim_text) {
                out.insert(attribute, value);
            }
        }
        out
    }

    /// The native user an identity was linked to (by subject or by a mapped attribute).
    async fn linked_user(
        &self,
        pool: &UserPool,
        provider: &Provider,
        subject: &str,
        mapped: &StringMap,
    ) -> Result<Option<User>> {
        let mut candidates = vec![("Cognito_Subject".to_owned(), subject.to_owned())];
        candidates.extend(mapped.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (attribute, value) in candidates {
            let key = link_key(&pool.id, provider.name(), &attribute, &value);
            if let Some(link) = self.store.get_object(LINK, &key).await? {
                let destination = link.doc.get("destination").and_then(Value::as_str).unwrap_or_default();
                if let Some(user) = self.store.get_user(&pool.id, &self.user_key(pool, destination)).await? {
                    return Ok(Some(user));
                }
            }
        }
        Ok(None)
    }

    /// Adds `identity` to a linked user's `identities` (once per provider and subject).
    async fn add_identity(&self, user: User, identity: &Value) -> Result<User> {
        let mut list: Vec<Value> =
            user.attribute("identities").and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
        let same = |v: &Value| {
            v.get("providerName") == identity.get("providerName") && v.get("userId") == identity.get("userId")
        };
        if list.iter().any(same) {
            return Ok(user);
        }
        let mut entry = identity.clone();
        entry["primary"] = json!("false");
        list.push(entry);
        let text = Value::Array(list).to_string();
        let (user, ()) = self
            .update_user_with(user, false, |u| {
                u.set_attribute("identities", &text);
                Ok(())
            })
            .await?;
        Ok(user)
    }

    fn identity_parts(who: &ProviderUserIdentifierType) -> Result<(&str, &str, &str)> {
        let name = who.provider_name.as_deref().filter(|s| !s.is_empty());
        let value = who.provider_attribute_value.as_deref().filter(|s| !s.is_empty());
        let (Some(name), Some(value)) = (name, value) else {
            return Err(CognitoError::invalid_parameter("ProviderName and ProviderAttributeValue are required."));
        };
        Ok((name, who.provider_attribute_name.as_deref().unwrap_or("Cognito_Subject"), value))
    }

    pub async fn admin_link_provider_for_user(
        &self,
        _ctx: &RequestContext,
        req: AdminLinkProviderForUserRequest,
    ) -> Result<AdminLinkProviderForUserResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let (dest_provider, _, dest_value) = Self::identity_parts(&req.destination_user)?;
        let destination = if dest_provider.eq_ignore_ascii_case("cognito") {
            self.admin_user(&pool, dest_value).await?
        } else {
            self.admin_user(&pool, &format!("{dest_provider}_{dest_value}")).await?
        };
        let (provider, attribute, value) = Self::identity_parts(&req.source_user)?;
        let Some(found) = self.identity_provider(&pool.id, provider).await? else {
            return Err(CognitoError::new(
                ErrorKind::ResourceNotFound,
                format!("Identity provider {provider} does not exist."),
            ));
        };
        // A social provider's identity is its subject; its other attributes (an email, say)
        // are the person's word, not the provider's.
        let social = !matches!(found.kind(), IdentityProviderTypeType::Oidc | IdentityProviderTypeType::Saml);
        if social && attribute != "Cognito_Subject" {
            return Err(CognitoError::invalid_parameter(format!(
                "For a {} provider, ProviderAttributeName must be Cognito_Subject.",
                found.kind().as_str()
            )));
        }
        if attribute == "Cognito_Subject"
            && self.store.get_user(&pool.id, &self.user_key(&pool, &format!("{provider}_{value}"))).await?.is_some()
        {
            return Err(CognitoError::new(
                ErrorKind::AliasExists,
                "The source identity has signed in already; it cannot be linked to another user.",
            ));
        }
        let links = self.store.list_objects(LINK, &pool.id, None, 1000).await?;
        let held = links
            .iter()
            .filter(|l| l.doc.get("destination").and_then(Value::as_str) == Some(destination.username.as_str()))
            .count();
        if held >= MAX_LINKS {
            return Err(CognitoError::new(ErrorKind::LimitExceeded, "A user may have at most 5 linked identities."));
        }
        let object = PoolObject {
            kind: LINK.into(),
            key: link_key(&pool.id, provider, attribute, value),
            pool_id: pool.id.clone(),
            doc: [("destination".to_owned(), json!(destination.username))].into_iter().collect(),
            created_ms: self.now_ms(),
        };
        match self.store.put_object(&object, true).await {
            Ok(()) => Ok(AdminLinkProviderForUserResponse {}),
            Err(StoreError::Conflict) => {
                Err(CognitoError::new(ErrorKind::AliasExists, "The source identity is already linked to a user."))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn admin_disable_provider_for_user(
        &self,
        _ctx: &RequestContext,
        req: AdminDisableProviderForUserRequest,
    ) -> Result<AdminDisableProviderForUserResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let (provider, attribute, value) = Self::identity_parts(&req.user)?;
        if self.store.delete_object(LINK, &link_key(&pool.id, provider, attribute, value)).await? {
            return Ok(AdminDisableProviderForUserResponse {});
        }
        // A federated user of its own: its next sign-in starts afresh.
        let username = format!("{provider}_{value}");
        if let Some(user) = self.store.get_user(&pool.id, &self.user_key(&pool, &username)).await? {
            if is_identity_of(&user, provider, value) {
                self.remove_user(&pool, &user).await?;
                return Ok(AdminDisableProviderForUserResponse {});
            }
        }
        Err(user_not_found())
    }
}
