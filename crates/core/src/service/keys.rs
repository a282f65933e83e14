//! Per-pool token-signing keys: two RSA keys per pool (ID tokens and access tokens are signed
//! with different keys, as Cognito does), generated when the pool is created, stored sealed
//! with the master key, and parsed once per process. Keys never change once written, so the
//! parsed copies cannot go stale.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use cognate_crypto::jwt::SigningKey;
use cognate_crypto::seal::purpose;
use serde_json::{json, Value};

use super::Service;
use crate::error::{CognitoError, Result};
use crate::model::StoredKey;

/// A pool's parsed signing keys.
pub struct PoolKeys {
    pub id: SigningKey,
    pub access: SigningKey,
}

#[derive(Default)]
pub struct KeyCache {
    pools: RwLock<HashMap<String, Arc<PoolKeys>>>,
}

impl Service {
    /// Generates, seals and stores a new pool's signing keys.
    pub(crate) async fn create_pool_keys(&self, pool_id: &str) -> Result<()> {
        let mut stored = Vec::new();
        for use_ in ["id", "access"] {
            let key = SigningKey::generate().map_err(CognitoError::internal)?;
            let sealed = self
                .master()
                .seal(purpose::SIGNING_KEY, pool_id.as_bytes(), key.to_pkcs8_der())
                .map_err(CognitoError::internal)?;
            stored.push(StoredKey {
                pool_id: pool_id.to_owned(),
                kid: key.kid().to_owned(),
                purpose: use_.to_owned(),
                sealed_pkcs8: sealed,
                created_ms: self.now_ms(),
            });
        }
        self.store.insert_signing_keys(&stored).await?;
        Ok(())
    }

    /// The pool's parsed keys, loaded from the store on first use.
    pub(crate) async fn pool_keys(&self, pool_id: &str) -> Result<Arc<PoolKeys>> {
        if let Some(k) = self.keys.pools.read().ok().and_then(|m| m.get(pool_id).cloned()) {
            return Ok(k);
        }
        let stored = self.store.signing_keys(pool_id).await?;
        let open = |use_: &str| -> Result<SigningKey> {
            let s = stored
                .iter()
                .find(|k| k.purpose == use_)
                .ok_or_else(|| CognitoError::internal(format!("pool {pool_id} has no {use_} signing key")))?;
            let der = self
                .master()
                .open(purpose::SIGNING_KEY, pool_id.as_bytes(), &s.sealed_pkcs8)
                .map_err(|_| CognitoError::internal("signing key does not open with this master key"))?;
            SigningKey::from_pkcs8_der(&der).map_err(CognitoError::internal)
        };
        let keys = Arc::new(PoolKeys { id: open("id")?, access: open("access")? });
        if let Ok(mut m) = self.keys.pools.write() {
            m.insert(pool_id.to_owned(), keys.clone());
        }
        Ok(keys)
    }

    /// `GET /<poolId>/.well-known/jwks.json`.
    pub async fn jwks(&self, pool_id: &str) -> Result<Value> {
        self.pool(pool_id).await?;
        let keys = self.pool_keys(pool_id).await?;
        Ok(json!({ "keys": [keys.id.public_jwk(), keys.access.public_jwk()] }))
    }

    /// `GET /<poolId>/.well-known/openid-configuration`.
    pub async fn openid_configuration(&self, pool_id: &str) -> Result<Value> {
        self.pool(pool_id).await?;
        let iss = self.issuer(pool_id);
        // The endpoints answer at the root of this server (the pool follows from the client).
        let base = &self.config.public_url;
        Ok(json!({
            "issuer": iss,
            "jwks_uri": format!("{iss}/.well-known/jwks.json"),
            "authorization_endpoint": format!("{base}/oauth2/authorize"),
            "token_endpoint": format!("{base}/oauth2/token"),
            "userinfo_endpoint": format!("{base}/oauth2/userInfo"),
            "revocation_endpoint": format!("{base}/oauth2/revoke"),
            "end_session_endpoint": format!("{base}/logout"),
            "response_types_supported": ["code", "token"],
            "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "email", "email_verified", "phone_number", "phone_number_verified", "cognito:username", "cognito:groups"],
        }))
    }

    /// A pool's token issuer: `<public URL>/<poolId>`; a public URL in AWS's form
    /// (`https://cognito-idp.<region>.amazonaws.com`) names the pool's own region, as AWS's
    /// issuers do.
    pub(crate) fn issuer(&self, pool_id: &str) -> String {
        let base = &self.config.public_url;
        let aws = base.strip_prefix("https://cognito-idp.").and_then(|r| r.strip_suffix(".amazonaws.com"));
        match (aws.filter(|r| crate::ids::is_region(r)), crate::ids::region_of_pool(pool_id)) {
            (Some(_), Some(region)) => format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}"),
            _ => format!("{base}/{pool_id}"),
        }
    }

    /// The region a pool lives in: its id's, else the server's.
    pub(crate) fn pool_region<'a>(&'a self, pool_id: &'a str) -> &'a str {
        crate::ids::region_of_pool(pool_id).unwrap_or(&self.config.region)
    }
}
