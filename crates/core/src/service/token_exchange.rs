//! Tokens issued to a client by API: GetClientToken (client credentials) and GetDerivedToken
//! (OAuth 2.0 token exchange, RFC 8693).
//!
//! GetClientToken is the `/oauth2/token` client-credentials grant through the API: the same
//! scope choice (`grant_scopes`) and the same minting (`issue_client_credentials`, with the
//! pre token generation trigger) as the endpoint.
//!
//! GetDerivedToken trades a token of the client's own pool (the subject) for a new access or
//! ID token: narrower scopes, bound to one audience or resource server, never a refresh token,
//! never outliving the tokens it came from. With an actor token (delegation) the new token
//! carries an `act` claim naming the intermediary; without one (impersonation) it reads as the
//! user's own. Tokens cognate cannot verify itself (SAML assertions, other providers' tokens)
//! are refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use cognate_api::trigger::TriggerSource;
use cognate_api::{
    ClientAuthenticationResultType, DescribeResourceServerRequest, GetClientTokenRequest, GetClientTokenResponse,
    GetDerivedTokenRequest, GetDerivedTokenResponse, IssuedTokenTypeIdentifierType, OAuthTokenTypeType,
    TokenTypeIdentifierType,
};
use serde_json::{json, Map, Value};

use super::auth::check_client_secret;
use super::pretoken::Overrides;
use super::tokens::{readable_claims, TokenContext, ADMIN_SCOPE};
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result};
use crate::model::{get_str, get_str_list, AppClient, User, UserPool};

const IMPERSONATION: &str = "ALLOW_TOKEN_EXCHANGE_IMPERSONATION";
const DELEGATION: &str = "ALLOW_TOKEN_EXCHANGE_DELEGATION";

/// Which of a pool's tokens a presented token claims to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenUse {
    Access,
    Id,
}

impl TokenUse {
    fn claim(self) -> &'static str {
        match self {
            TokenUse::Access => "access",
            TokenUse::Id => "id",
        }
    }
}

/// The two tokens an exchange may present, for messages.
#[derive(Debug, Clone, Copy)]
enum Role {
    Subject,
    Actor,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Subject => "subject",
            Role::Actor => "actor",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Role::Subject => "Subject",
            Role::Actor => "Actor",
        }
    }
}

/// A presented token that checked out: its claims, and the user behind it (None for a
/// client-credentials access token, whose subject is an app client).
struct Verified {
    claims: Map<String, Value>,
    user: Option<User>,
    exp: i64,
}

impl Verified {
    fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// The scopes the token carries (an ID token carries none).
    fn scopes(&self) -> Vec<String> {
        self.str_claim("scope").unwrap_or_default().split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect()
    }

    /// The `act` claim naming this token's bearer as the actor of a delegated token: its
    /// subject and the app client it was issued to, and any earlier actor nested inside
    /// (RFC 8693 §4.1: the outermost `act` is the current actor).
    fn as_actor(&self, prior: Option<&Value>) -> Value {
        let mut act = Map::new();
        if let Some(sub) = self.str_claim("sub") {
            act.insert("sub".into(), json!(sub));
        }
        // UNVERIFIED: which claims Cognito puts in `act` is undocumented; `sub` is RFC 8693's,
        // and `client_id` tells a downstream service which app client acted.
        if let Some(client) = self.str_claim("client_id").or_else(|| self.str_claim("aud")) {
            act.insert("client_id".into(), json!(client));
        }
        if let Some(prior) = prior {
            act.insert("act".into(), prior.clone());
        }
        Value::Object(act)
    }
}

fn invalid_token(role: Role) -> CognitoError {
    CognitoError::not_authorized(format!("Invalid {} token.", role.name()))
}

fn flow_not_enabled(flow: &str) -> CognitoError {
    // UNVERIFIED: the exception and wording; InitiateAuth answers a flow the client does not
    // enable with InvalidParameterException, so this does too.
    CognitoError::invalid_parameter(format!("{flow} is not enabled for the client."))
}

/// The requested scopes, in order, without repeats; None when none were asked for.
fn requested_scopes(scopes: Option<Vec<String>>) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for s in scopes.unwrap_or_default() {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Whether the client's `ExplicitAuthFlows` name `flow` (the default flows never include the
/// token-exchange ones).
fn client_allows(client: &AppClient, flow: &str) -> bool {
    get_str_list(&client.doc, "ExplicitAuthFlows").iter().any(|f| f == flow)
}

impl Service {
    /// GetClientToken: the client-credentials grant through the API. The client proves itself
    /// with a secret and must be a machine-to-machine client; the scopes are its custom ones.
    pub async fn get_client_token(
        &self,
        ctx: &RequestContext,
        req: GetClientTokenRequest,
    ) -> Result<GetClientTokenResponse> {
        let (client, pool) = self.client_and_pool(ctx, &req.client_id).await?;
        // The secret first: nothing about the client's configuration reaches a caller that
        // cannot prove it holds the client.
        if client.secret().is_some() {
            check_client_secret(&client, Some(&req.secret))?;
        }
        // UNVERIFIED: Cognito asks for an `ALLOW_CLIENT_TOKEN_AUTH` explicit auth flow, but that
        // value is not in the model's ExplicitAuthFlowsType enum, so no client can be given it.
        // The client-credentials OAuth configuration (a secret, `client_credentials` allowed,
        // OAuth enabled) is what makes a client a machine client here, as at /oauth2/token.
        let machine = client.secret().is_some()
            && client.oauth_enabled()
            && client.oauth_flows().iter().any(|f| f == "client_credentials");
        if !machine {
            return Err(CognitoError::invalid_parameter(format!(
                "Client {} is not configured for client credentials: it needs a client secret and the \
                 client_credentials OAuth flow.",
                client.client_id
            )));
        }
        let requested = requested_scopes(req.scopes).map(|s| s.join(" "));
        let scopes = self.grant_scopes(&pool, &client, requested.as_deref(), true).await.map_err(|e| {
            if e.error == "invalid_scope" {
                // UNVERIFIED: Cognito's wording for a scope the client may not have.
                CognitoError::invalid_parameter(e.description.unwrap_or_else(|| "Invalid scope requested.".into()))
            } else {
                CognitoError::internal(format!("scope selection failed: {}", e.error))
            }
        })?;
        let caller = ctx.caller(Some(&client.client_id));
        let token_ctx =
            TokenContext::api(TriggerSource::TokenGenerationClientCredentials, &caller, req.client_metadata);
        let (access_token, expires_in) = self.issue_client_credentials(&pool, &client, scopes, &token_ctx).await?;
        Ok(GetClientTokenResponse {
            client_authentication_result: Some(ClientAuthenticationResultType {
                access_token: Some(access_token),
                expires_in: Some(i32::try_from(expires_in).unwrap_or(i32::MAX)),
                token_type: Some("Bearer".into()),
            }),
        })
    }

    /// GetDerivedToken: token exchange. See the module documentation.
    pub async fn get_derived_token(
        &self,
        ctx: &RequestContext,
        req: GetDerivedTokenRequest,
    ) -> Result<GetDerivedTokenResponse> {
        let (client, pool) = self.client_and_pool(ctx, &req.client_id).await?;
        // A caller with verified AWS credentials may leave the secret out; anyone else proves
        // the client with it. A secret that is given is always checked.
        if client.secret().is_some() && (req.client_secret.is_some() || ctx.signed_identity.is_none()) {
            check_client_secret(&client, req.client_secret.as_deref())?;
        } else if client.secret().is_none() && req.client_secret.is_some() {
            return Err(CognitoError::not_authorized(format!(
                "Client {} has no secret, but one was given.",
                client.client_id
            )));
        }
        if get_str(&pool.doc, "UserPoolTier") == Some("LITE") {
            // UNVERIFIED: the exception. Token exchange is an Essentials and Plus feature;
            // cognate answers the other features of those plans this way.
            return Err(CognitoError::new(
                ErrorKind::FeatureUnavailableInTier,
                "Token exchange is available in the Essentials and Plus feature plans only.",
            ));
        }
        let delegation = req.actor_token.is_some();
        let flow = if delegation { DELEGATION } else { IMPERSONATION };
        if !client_allows(&client, flow) {
            return Err(flow_not_enabled(flow));
        }
        match (&req.actor_token, &req.actor_token_type) {
            (Some(_), None) => {
                return Err(CognitoError::invalid_parameter("ActorTokenType is required when ActorToken is given."))
            }
            // UNVERIFIED: RFC 8693 §2.1 forbids actor_token_type without actor_token.
            (None, Some(_)) => {
                return Err(CognitoError::invalid_parameter("ActorTokenType is given without an ActorToken."))
            }
            _ => {}
        }
        if req.actor_token.is_none() && req.actor_token_provider_name.is_some() {
            return Err(CognitoError::invalid_parameter("ActorTokenProviderName is given without an ActorToken."));
        }
        let audiences = req.audiences.unwrap_or_default();
        let resources = req.resources.unwrap_or_default();
        if !audiences.is_empty() && !resources.is_empty() {
            return Err(CognitoError::invalid_parameter(
                "You can't request both Audiences and Resources in the same request.",
            ));
        }
        // UNVERIFIED: an access token when RequestedTokenType is left out (RFC 8693 leaves the
        // default to the server).
        let issued_type = req.requested_token_type.unwrap_or(IssuedTokenTypeIdentifierType::AccessToken);

        let subject = self
            .verify_exchanged_token(
                &pool,
                Role::Subject,
                &req.subject_token,
                req.subject_token_type,
                req.subject_token_provider_name.as_deref(),
            )
            .await?;
        let Some(user) = subject.user.clone() else {
            // UNVERIFIED: the subject is "the user"; a client-credentials token has none.
            return Err(CognitoError::not_authorized("The subject token does not represent a user."));
        };
        // UNVERIFIED: an ID token carries the user's profile. An access token yields one only
        // when it was granted `openid` (or is an API sign-in's, which came with an ID token);
        // a narrower access token does not widen into the user's attributes.
        if issued_type == IssuedTokenTypeIdentifierType::IdToken
            && matches!(req.subject_token_type, TokenTypeIdentifierType::AccessToken)
            && !subject.scopes().iter().any(|s| s == "openid" || s == ADMIN_SCOPE)
        {
            return Err(CognitoError::invalid_parameter(
                "An ID token can be derived only from an ID token or from an access token with the openid scope.",
            ));
        }
        let actor = match (&req.actor_token, req.actor_token_type) {
            (Some(token), Some(kind)) => Some(
                self.verify_exchanged_token(&pool, Role::Actor, token, kind, req.actor_token_provider_name.as_deref())
                    .await?,
            ),
            _ => None,
        };

        // Scopes: requested ∩ subject's ∩ client's allowed; the subject's when none are asked
        // for. A resource server narrows them further to its own.
        let requested = requested_scopes(req.scopes);
        let mut scopes = match &requested {
            Some(list) => {
                let subject_scopes = subject.scopes();
                let allowed = client.oauth_scopes();
                list.iter().filter(|s| subject_scopes.contains(s) && allowed.contains(s)).cloned().collect()
            }
            None => subject.scopes(),
        };
        let audience = match (audiences.first(), resources.first()) {
            (Some(a), _) => Some(a.clone()),
            (None, Some(r)) => {
                let found = self
                    .describe_resource_server(
                        ctx,
                        DescribeResourceServerRequest { user_pool_id: pool.id.clone(), identifier: r.clone() },
                    )
                    .await;
                match found {
                    Ok(_) => {}
                    Err(e) if e.kind == ErrorKind::ResourceNotFound => {
                        // UNVERIFIED: the exception and wording for an unknown resource server.
                        return Err(CognitoError::invalid_parameter(format!(
                            "Resource server {r} does not exist in the user pool."
                        )));
                    }
                    Err(e) => return Err(e),
                }
                // UNVERIFIED: a token bound to a resource server keeps only that server's scopes.
                let prefix = format!("{r}/");
                scopes.retain(|s| s.starts_with(&prefix));
                Some(r.clone())
            }
            (None, None) => None,
        };
        if requested.is_some() && scopes.is_empty() {
            // UNVERIFIED: RFC 8693 answers `invalid_scope`; the API's nearest is this.
            return Err(CognitoError::invalid_parameter(
                "None of the requested scopes can be granted: a derived token gets only scopes that the subject \
                 token carries and the app client allows.",
            ));
        }

        // Never a refresh token; never outliving the subject or actor token.
        // UNVERIFIED: Cognito's lifetime rule is undocumented; the requesting client's validity
        // for the issued type, capped by the presented tokens' expiry, is the careful choice.
        let now = self.now();
        let validity = client.token_validity();
        let lifetime = match issued_type {
            IssuedTokenTypeIdentifierType::AccessToken => validity.access,
            IssuedTokenTypeIdentifierType::IdToken => validity.id,
        };
        let exp =
            [now + lifetime, subject.exp, actor.as_ref().map_or(i64::MAX, |a| a.exp)].into_iter().min().unwrap_or(now);

        // Delegation names the actor; an existing chain (the subject was itself delegated) is
        // kept either way, so impersonating a delegated token cannot launder its actor away.
        let prior_act = subject.claims.get("act");
        let act = match &actor {
            Some(a) => Some(a.as_actor(prior_act)),
            None => prior_act.cloned(),
        };

        let groups = self.user_groups(&pool, &user).await?;
        let defaults = Overrides::default();
        let iss = self.issuer(&pool.id);
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(user.sub));
        let id_token = issued_type == IssuedTokenTypeIdentifierType::IdToken;
        defaults.group_claims(&mut claims, &groups, id_token);
        if id_token {
            for (name, value) in readable_claims(&user, &client) {
                claims.insert(name, value);
            }
        }
        claims.insert("iss".into(), json!(iss));
        if id_token {
            claims.insert("cognito:username".into(), json!(user.username));
            // UNVERIFIED: an ID token's audience is normally its client; a derived one is bound
            // to the requested audience or resource server instead, when one is named.
            claims.insert("aud".into(), json!(audience.clone().unwrap_or_else(|| client.client_id.clone())));
        } else {
            // UNVERIFIED: `client_id` names the client that requested the exchange (RFC 8693's
            // reading: the token is issued to it), not the client of the subject token.
            claims.insert("client_id".into(), json!(client.client_id));
            if let Some(aud) = &audience {
                claims.insert("aud".into(), json!(aud));
            }
        }
        // The subject's lineage: signing the user out (or revoking the refresh token) revokes
        // derived tokens too, wherever they are checked.
        if let Some(origin) = subject.str_claim("origin_jti") {
            claims.insert("origin_jti".into(), json!(origin));
        }
        claims.insert("event_id".into(), json!(crate::ids::uuid()));
        claims.insert("token_use".into(), json!(if id_token { "id" } else { "access" }));
        if !id_token {
            claims.insert("scope".into(), json!(scopes.join(" ")));
        }
        let auth_time = subject.claims.get("auth_time").and_then(Value::as_i64).unwrap_or(now);
        claims.insert("auth_time".into(), json!(auth_time));
        claims.insert("exp".into(), json!(exp));
        claims.insert("iat".into(), json!(now));
        claims.insert("jti".into(), json!(crate::ids::uuid()));
        if !id_token {
            claims.insert("username".into(), json!(user.username));
            claims.insert("version".into(), json!(2));
        }
        if let Some(act) = act {
            claims.insert("act".into(), act);
        }
        // UNVERIFIED: the pre token generation trigger is not invoked: the model names no
        // trigger source for token exchange, and inventing one would mislead trigger code.
        let keys = self.pool_keys(&pool.id).await?;
        let key = if id_token { &keys.id } else { &keys.access };
        let issued_token = key.sign(&Value::Object(claims)).map_err(CognitoError::internal)?;
        Ok(GetDerivedTokenResponse {
            issued_token,
            issued_token_type: issued_type,
            // RFC 8693 §2.2.1: `N_A` when the issued token is not an access token.
            token_type: if id_token { OAuthTokenTypeType::NA } else { OAuthTokenTypeType::Bearer },
            expires_in: Some(i32::try_from(exp - now).unwrap_or(i32::MAX)),
            // UNVERIFIED: an ID token carries no scopes, so none are reported for one.
            scopes: (!id_token).then_some(scopes),
        })
    }

    /// Verifies a subject or actor token as one of this pool's own: issuer, signature with the
    /// pool's key for that token use, `token_use`, expiry, the lineage not revoked, and the user
    /// (or, for a client-credentials access token, the client) still there.
    async fn verify_exchanged_token(
        &self,
        pool: &UserPool,
        role: Role,
        token: &str,
        kind: TokenTypeIdentifierType,
        provider: Option<&str>,
    ) -> Result<Verified> {
        let use_ = match kind {
            TokenTypeIdentifierType::AccessToken => TokenUse::Access,
            TokenTypeIdentifierType::IdToken => TokenUse::Id,
            // UNVERIFIED: cognate verifies only its own tokens; SAML assertions and tokens of
            // a pool's external providers are refused rather than trusted unchecked.
            TokenTypeIdentifierType::Saml2 => {
                return Err(CognitoError::invalid_parameter(format!(
                    "SAML2 {} tokens are not supported: only this user pool's access and ID tokens can be exchanged.",
                    role.name()
                )))
            }
        };
        if provider.is_some() {
            return Err(CognitoError::invalid_parameter(format!(
                "Tokens of external identity providers are not supported as {} tokens: only this user pool's \
                 access and ID tokens can be exchanged.",
                role.name()
            )));
        }
        // The issuer must be this pool's before any key is looked up: a token of another pool,
        // however valid there, is not one this client may exchange.
        let payload = token.split('.').nth(1).ok_or_else(|| invalid_token(role))?;
        let unverified: Value = B64URL
            .decode(payload)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| invalid_token(role))?;
        let iss = self.issuer(&pool.id);
        if unverified.get("iss").and_then(Value::as_str) != Some(iss.as_str()) {
            return Err(CognitoError::not_authorized(format!(
                "The {} token was not issued by this user pool.",
                role.name()
            )));
        }
        let keys = self.pool_keys(&pool.id).await?;
        let key = match use_ {
            TokenUse::Access => &keys.access,
            TokenUse::Id => &keys.id,
        };
        let claims = cognate_crypto::jwt::verify(token, |kid| (kid == key.kid()).then(|| key.public_key()))
            .map_err(|_| invalid_token(role))?;
        if claims.get("iss").and_then(Value::as_str) != Some(iss.as_str()) {
            return Err(invalid_token(role));
        }
        if claims.get("token_use").and_then(Value::as_str) != Some(use_.claim()) {
            return Err(CognitoError::not_authorized(format!(
                "The {} token is not an {} token.",
                role.name(),
                if use_ == TokenUse::Access { "access" } else { "ID" }
            )));
        }
        cognate_crypto::jwt::check_time(&claims, self.now(), 0)
            .map_err(|_| CognitoError::not_authorized(format!("{} token has expired.", role.title())))?;
        let Value::Object(claims) = claims else { return Err(invalid_token(role)) };
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| invalid_token(role))?;
        let sub = claims.get("sub").and_then(Value::as_str).ok_or_else(|| invalid_token(role))?;
        let username = match use_ {
            TokenUse::Access => claims.get("username"),
            TokenUse::Id => claims.get("cognito:username"),
        }
        .and_then(Value::as_str);

        let Some(username) = username else {
            // A client-credentials access token: its subject is the client, which must still be
            // a client of this pool.
            let client_id = claims.get("client_id").and_then(Value::as_str);
            if use_ != TokenUse::Access || client_id != Some(sub) {
                return Err(invalid_token(role));
            }
            let client = self.store.get_client(sub).await?.filter(|c| c.pool_id == pool.id);
            if client.is_none() {
                return Err(invalid_token(role));
            }
            return Ok(Verified { claims, user: None, exp });
        };
        // A user's token belongs to a lineage; a revoked lineage (sign-out, revoked refresh
        // token) revokes every token of it, derived ones included.
        let origin = claims.get("origin_jti").and_then(Value::as_str).ok_or_else(|| invalid_token(role))?;
        let (revoked, user) = self.lineage_state(pool, username, sub, origin).await?;
        if revoked {
            return Err(CognitoError::not_authorized(format!("{} token has been revoked.", role.title())));
        }
        if use_ == TokenUse::Access {
            let client_id = claims.get("client_id").and_then(Value::as_str).ok_or_else(|| invalid_token(role))?;
            if self.store.get_client(client_id).await?.is_none_or(|c| c.pool_id != pool.id) {
                return Err(invalid_token(role));
            }
        }
        let user = user.ok_or_else(|| CognitoError::new(ErrorKind::UserNotFound, "User does not exist."))?;
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        Ok(Verified { claims, user: Some(user), exp })
    }
}
