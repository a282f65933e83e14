//! Client ID metadata document (CIMD) policies and the metadata URLs they admit.
//!
//! A policy maps one to five `https` URL patterns to one app client of the pool. Policies are
//! pool objects of the kind `cimd-policy`, keyed by pool and policy id. The metadata documents
//! Cognito fetches from matching URLs at `/oauth2/authorize` would be cached as objects of the
//! kind `cimd-url` (keyed by pool, policy and URL, with `cached_ms` and `expires_ms`); cognate's
//! authorize endpoint does not fetch metadata documents yet, so until it does no URL is cached,
//! ListClientMetadataURLs lists none and UpdateClientMetadataURLState answers
//! CachedCIMDURLDoesNotExistException.

use cognate_api::{
    CIMDCacheActionType, CIMDPolicySummaryType, CIMDPolicyType, ClientMetadataURLType, CreateCIMDPolicyRequest,
    CreateCIMDPolicyResponse, DeleteCIMDPolicyRequest, DeleteCIMDPolicyResponse, DescribeCIMDPolicyRequest,
    DescribeCIMDPolicyResponse, ListCIMDPoliciesRequest, ListCIMDPoliciesResponse, ListClientMetadataURLsRequest,
    ListClientMetadataURLsResponse, UpdateCIMDPolicyRequest, UpdateCIMDPolicyResponse,
    UpdateClientMetadataURLStateRequest, UpdateClientMetadataURLStateResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::paging::Page;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result, StoreError};
use crate::model::UserPool;

const POLICY: &str = "cimd-policy";
const CACHED_URL: &str = "cimd-url";

/// CacheDuration's documented range and default, in seconds.
const MIN_CACHE_SECS: i32 = 86_400;
const MAX_CACHE_SECS: i32 = 31_556_952;
const DEFAULT_CACHE_SECS: i32 = 86_400;
const MAX_PATTERNS: usize = 5;
const PATTERN_CHARS: std::ops::RangeInclusive<usize> = 12..=256;
const MAX_NAME_CHARS: usize = 32;
// UNVERIFIED: Cognito documents no number of CIMD policies per pool; cognate allows twenty.
const MAX_POLICIES: usize = 20;

fn key(pool_id: &str, policy_id: &str) -> String {
    format!("{pool_id}\n{policy_id}")
}

fn url_prefix(pool_id: &str, policy_id: &str) -> String {
    format!("{pool_id}\n{policy_id}\n")
}

fn not_found(policy_id: &str) -> CognitoError {
    CognitoError::not_found(format!("CIMD policy {policy_id} does not exist."))
}

/// A policy as stored: the client it was given, whether or not that client still exists.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Policy {
    policy_id: String,
    client_id: String,
    name: String,
    cache_secs: i32,
    patterns: Vec<String>,
    created_ms: i64,
    modified_ms: i64,
}

/// A metadata document URL cached for a policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedUrl {
    url: String,
    cached_ms: i64,
    expires_ms: i64,
}

/// Whether `c` is one of the characters URLPatternType allows after `https://`
/// (`[!$-;=@-\[\]_a-z~]`).
fn pattern_char(c: char) -> bool {
    matches!(c, '!' | '$'..=';' | '=' | '@'..='[' | ']' | '_' | 'a'..='z' | '~')
}

/// A URL pattern as the documentation asks: an `https` URL of 12 to 256 characters, which
/// may contain `*` wildcards.
fn check_pattern(pattern: &str) -> Result<()> {
    let bad = |why: &str| CognitoError::invalid_parameter(format!("URL pattern {pattern} is invalid: {why}."));
    let len = pattern.chars().count();
    if !PATTERN_CHARS.contains(&len) {
        return Err(bad("a pattern has 12 to 256 characters"));
    }
    let Some(rest) = pattern.strip_prefix("https://") else {
        return Err(bad("it must be an https URL"));
    };
    if rest.is_empty() || !rest.chars().all(pattern_char) {
        return Err(bad("it contains characters a URL pattern cannot have"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(bad("it names no host"));
    }
    // UNVERIFIED: refusals a careful server makes that the documentation does not spell out:
    // credentials in the URL, and a wildcard in the host's last two labels (a pattern that
    // would admit documents from any registrable domain).
    if authority.contains('@') {
        return Err(bad("it cannot carry user information"));
    }
    let host = authority.rsplit_once(':').map_or(authority, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit() || c == '*') {
            h
        } else {
            authority
        }
    });
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return Err(bad("its host must be a domain name"));
    }
    if labels[labels.len() - 2..].iter().any(|l| l.contains('*')) {
        return Err(bad("a wildcard cannot stand for the host's domain"));
    }
    Ok(())
}

fn check_patterns(patterns: &[String]) -> Result<()> {
    if patterns.is_empty() || patterns.len() > MAX_PATTERNS {
        return Err(CognitoError::invalid_parameter("A CIMD policy has one to five URL patterns."));
    }
    for (i, p) in patterns.iter().enumerate() {
        check_pattern(p)?;
        if patterns[..i].contains(p) {
            return Err(CognitoError::invalid_parameter(format!("URL pattern {p} is given twice.")));
        }
    }
    Ok(())
}

fn check_cache(secs: i32) -> Result<()> {
    if !(MIN_CACHE_SECS..=MAX_CACHE_SECS).contains(&secs) {
        return Err(CognitoError::invalid_parameter(format!(
            "CacheDuration must be between {MIN_CACHE_SECS} and {MAX_CACHE_SECS} seconds."
        )));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS || name.chars().all(char::is_whitespace) || name.chars().any(char::is_control) {
        return Err(CognitoError::invalid_parameter("PolicyName must have 1 to 32 printable characters."));
    }
    Ok(())
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

impl Service {
    /// The app client must be the pool's.
    async fn check_cimd_client(&self, pool: &UserPool, client_id: &str) -> Result<()> {
        match self.store.get_client(client_id).await? {
            Some(c) if c.pool_id == pool.id => Ok(()),
            _ => Err(CognitoError::client_not_found(client_id)),
        }
    }

    async fn cimd_policy(&self, pool: &UserPool, policy_id: &str) -> Result<Policy> {
        self.get_doc(POLICY, &key(&pool.id, policy_id)).await?.ok_or_else(|| not_found(policy_id))
    }

    /// The policy's client id, when that client still exists (Cognito omits it otherwise).
    async fn live_client(&self, pool: &UserPool, client_id: &str) -> Result<Option<String>> {
        Ok(self.store.get_client(client_id).await?.filter(|c| c.pool_id == pool.id).map(|c| c.client_id))
    }

    async fn cimd_view(&self, pool: &UserPool, p: Policy) -> Result<CIMDPolicyType> {
        Ok(CIMDPolicyType {
            user_pool_id: pool.id.clone(),
            client_id: self.live_client(pool, &p.client_id).await?,
            cimd_policy_id: p.policy_id,
            policy_name: p.name,
            cache_duration: Some(p.cache_secs),
            url_patterns: Some(p.patterns),
            creation_date: Some(secs(p.created_ms)),
            last_modified_date: Some(secs(p.modified_ms)),
        })
    }

    pub async fn create_cimd_policy(
        &self,
        _ctx: &RequestContext,
        req: CreateCIMDPolicyRequest,
    ) -> Result<CreateCIMDPolicyResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        self.check_cimd_client(&pool, &req.client_id).await?;
        check_name(&req.policy_name)?;
        let cache_secs = req.cache_duration.unwrap_or(DEFAULT_CACHE_SECS);
        check_cache(cache_secs)?;
        check_patterns(&req.url_patterns)?;
        let count = self.store.list_objects(POLICY, &pool.id, None, MAX_POLICIES).await?.len();
        if count >= MAX_POLICIES {
            return Err(CognitoError::new(
                ErrorKind::LimitExceeded,
                format!("A user pool can have at most {MAX_POLICIES} CIMD policies."),
            ));
        }
        let now = self.now_ms();
        let policy = Policy {
            // 26 lowercase letters and digits, as app client ids are.
            policy_id: crate::ids::client_id(),
            client_id: req.client_id,
            name: req.policy_name,
            cache_secs,
            patterns: req.url_patterns,
            created_ms: now,
            modified_ms: now,
        };
        match self.put_doc(POLICY, &key(&pool.id, &policy.policy_id), &pool.id, &policy, true).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(CognitoError::new(ErrorKind::ConcurrentModification, "Please retry the request."))
            }
            Err(e) => return Err(e.into()),
        }
        Ok(CreateCIMDPolicyResponse { cimd_policy: self.cimd_view(&pool, policy).await? })
    }

    pub async fn describe_cimd_policy(
        &self,
        _ctx: &RequestContext,
        req: DescribeCIMDPolicyRequest,
    ) -> Result<DescribeCIMDPolicyResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let policy = self.cimd_policy(&pool, &req.cimd_policy_id).await?;
        Ok(DescribeCIMDPolicyResponse { cimd_policy: self.cimd_view(&pool, policy).await? })
    }

    /// UpdateCIMDPolicy: the client and patterns are replaced; name and cache duration are kept
    /// when omitted. Cached documents stay until they expire or are invalidated.
    pub async fn update_cimd_policy(
        &self,
        _ctx: &RequestContext,
        req: UpdateCIMDPolicyRequest,
    ) -> Result<UpdateCIMDPolicyResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let mut policy = self.cimd_policy(&pool, &req.cimd_policy_id).await?;
        self.check_cimd_client(&pool, &req.client_id).await?;
        if let Some(name) = &req.policy_name {
            check_name(name)?;
        }
        if let Some(secs) = req.cache_duration {
            check_cache(secs)?;
        }
        check_patterns(&req.url_patterns)?;
        policy.client_id = req.client_id;
        if let Some(name) = req.policy_name {
            policy.name = name;
        }
        if let Some(secs) = req.cache_duration {
            policy.cache_secs = secs;
        }
        policy.patterns = req.url_patterns;
        policy.modified_ms = self.now_ms();
        self.put_doc(POLICY, &key(&pool.id, &policy.policy_id), &pool.id, &policy, false).await?;
        Ok(UpdateCIMDPolicyResponse { cimd_policy: self.cimd_view(&pool, policy).await? })
    }

    /// DeleteCIMDPolicy: the policy and the documents cached for it.
    pub async fn delete_cimd_policy(
        &self,
        _ctx: &RequestContext,
        req: DeleteCIMDPolicyRequest,
    ) -> Result<DeleteCIMDPolicyResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        if !self.store.delete_object(POLICY, &key(&pool.id, &req.cimd_policy_id)).await? {
            return Err(not_found(&req.cimd_policy_id));
        }
        let prefix = url_prefix(&pool.id, &req.cimd_policy_id);
        loop {
            let batch = self.store.list_objects(CACHED_URL, &pool.id, Some(&prefix), 100).await?;
            let mine: Vec<_> = batch.into_iter().filter(|o| o.key.starts_with(&prefix)).collect();
            if mine.is_empty() {
                break;
            }
            for o in mine {
                self.store.delete_object(CACHED_URL, &o.key).await?;
            }
        }
        Ok(DeleteCIMDPolicyResponse {})
    }

    /// ListCIMDPolicies: by policy id; 1 to 60 a page (60 by default).
    pub async fn list_cimd_policies(
        &self,
        _ctx: &RequestContext,
        req: ListCIMDPoliciesRequest,
    ) -> Result<ListCIMDPoliciesResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        // UNVERIFIED: the default page size is not documented; 60, the maximum.
        let page = Page::checked(req.max_results, 60, req.next_token.as_deref())?;
        let after = page.after.as_deref().map(|id| key(&pool.id, id));
        let mut objects = self.store.list_objects(POLICY, &pool.id, after.as_deref(), page.fetch_limit()).await?;
        let next_token =
            page.finish(&mut objects, |o| o.key.split_once('\n').map(|(_, id)| id.to_owned()).unwrap_or_default());
        let mut cimd_policies = Vec::with_capacity(objects.len());
        for o in objects {
            let p: Policy = serde_json::from_value(Value::Object(o.doc)).map_err(CognitoError::internal)?;
            cimd_policies.push(CIMDPolicySummaryType {
                client_id: self.live_client(&pool, &p.client_id).await?,
                cimd_policy_id: p.policy_id,
                policy_name: p.name,
                cache_duration: Some(p.cache_secs),
                creation_date: Some(secs(p.created_ms)),
                last_modified_date: Some(secs(p.modified_ms)),
            });
        }
        Ok(ListCIMDPoliciesResponse { next_token, cimd_policies })
    }

    /// Cached URLs of a policy in URL order, after `after` (a URL).
    async fn cached_urls(
        &self,
        pool: &UserPool,
        policy_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<CachedUrl>> {
        let prefix = url_prefix(&pool.id, policy_id);
        let from = after.map_or_else(|| prefix.clone(), |url| format!("{prefix}{url}"));
        let objects = self.store.list_objects(CACHED_URL, &pool.id, Some(&from), limit).await?;
        objects
            .into_iter()
            .take_while(|o| o.key.starts_with(&prefix))
            .map(|o| serde_json::from_value(Value::Object(o.doc)).map_err(CognitoError::internal))
            .collect()
    }

    /// ListClientMetadataURLs: the URLs whose documents are cached for the policy, by URL; 1 to
    /// 60 a page (60 by default). Documents past their expiry are not listed.
    pub async fn list_client_metadata_urls(
        &self,
        _ctx: &RequestContext,
        req: ListClientMetadataURLsRequest,
    ) -> Result<ListClientMetadataURLsResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        self.cimd_policy(&pool, &req.cimd_policy_id).await?;
        let page = Page::checked(req.max_results, 60, req.next_token.as_deref())?;
        let mut urls = self.cached_urls(&pool, &req.cimd_policy_id, page.after.as_deref(), page.fetch_limit()).await?;
        let next_token = page.finish(&mut urls, |u| u.url.clone());
        let now = self.now_ms();
        let client_metadata_urls = urls
            .into_iter()
            .filter(|u| u.expires_ms > now)
            .map(|u| ClientMetadataURLType {
                url: u.url,
                cached_date: Some(secs(u.cached_ms)),
                expiration_date: Some(secs(u.expires_ms)),
            })
            .collect();
        Ok(ListClientMetadataURLsResponse { next_token, client_metadata_urls })
    }

    /// UpdateClientMetadataURLState: INVALIDATE drops the cached document; REFRESH drops it
    /// too, so that the next authorization request that names the URL fetches it again.
    // UNVERIFIED: Cognito's REFRESH fetches the document at once; cognate fetches none.
    pub async fn update_client_metadata_url_state(
        &self,
        _ctx: &RequestContext,
        req: UpdateClientMetadataURLStateRequest,
    ) -> Result<UpdateClientMetadataURLStateResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        self.cimd_policy(&pool, &req.cimd_policy_id).await?;
        let object_key = format!("{}{}", url_prefix(&pool.id, &req.cimd_policy_id), req.url);
        let cached: Option<CachedUrl> = self.get_doc(CACHED_URL, &object_key).await?;
        let live = cached.filter(|c| c.expires_ms > self.now_ms());
        if live.is_none() {
            return Err(CognitoError::new(
                ErrorKind::CachedCimdUrlDoesNotExist,
                format!("No client metadata document is cached for {}.", req.url),
            ));
        }
        match req.action {
            CIMDCacheActionType::Invalidate | CIMDCacheActionType::Refresh => {
                self.store.delete_object(CACHED_URL, &object_key).await?;
            }
        }
        Ok(UpdateClientMetadataURLStateResponse {})
    }
}
