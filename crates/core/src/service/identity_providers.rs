//! A pool's external identity providers (OIDC, SAML and the social ones): their definitions as
//! Cognito keeps them, with `ProviderDetails` checked per type and the keys Cognito derives for
//! the social providers filled in. Providers are pool objects of the kind `idp`, keyed by pool
//! and provider name.

use cognate_api::{
    CreateIdentityProviderRequest, CreateIdentityProviderResponse, DeleteIdentityProviderRequest,
    DescribeIdentityProviderRequest, DescribeIdentityProviderResponse, Empty, GetIdentityProviderByIdentifierRequest,
    GetIdentityProviderByIdentifierResponse, IdentityProviderType, IdentityProviderTypeType,
    ListIdentityProvidersRequest, ListIdentityProvidersResponse, Map, ProviderDescription,
    UpdateIdentityProviderRequest, UpdateIdentityProviderResponse,
};
use serde_json::Value;

use super::paging::Page;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result, StoreError};
use crate::model::{PoolObject, UserPool};

pub(crate) const IDP: &str = "idp";
/// Identifiers a provider may have (Cognito's limit).
const MAX_IDENTIFIERS: usize = 50;

fn key(pool_id: &str, name: &str) -> String {
    format!("{pool_id}\n{name}")
}

fn not_found(name: &str) -> CognitoError {
    CognitoError::new(ErrorKind::ResourceNotFound, format!("Identity provider {name} does not exist."))
}

/// The keys a provider of each type must be given.
fn required_details(kind: IdentityProviderTypeType) -> &'static [&'static str] {
    match kind {
        IdentityProviderTypeType::Oidc => &["client_id", "authorize_scopes", "oidc_issuer"],
        IdentityProviderTypeType::Google
        | IdentityProviderTypeType::Facebook
        | IdentityProviderTypeType::LoginWithAmazon => &["client_id", "client_secret", "authorize_scopes"],
        IdentityProviderTypeType::SignInWithApple => {
            &["client_id", "team_id", "key_id", "private_key", "authorize_scopes"]
        }
        IdentityProviderTypeType::Saml => &[],
    }
}

/// What Cognito fills in for a social provider: its endpoints (a detail given explicitly wins,
/// so a local stand-in can play the provider) and how to call them.
fn derived_details(kind: IdentityProviderTypeType, details: &Map<String>) -> Vec<(&'static str, String)> {
    let version = details.get("api_version").map_or("v17.0", String::as_str);
    let list: Vec<(&'static str, String)> = match kind {
        IdentityProviderTypeType::Google => vec![
            ("attributes_url", "https://people.googleapis.com/v1/people/me?personFields=".into()),
            ("attributes_url_add_attributes", "true".into()),
            ("authorize_url", "https://accounts.google.com/o/oauth2/v2/auth".into()),
            ("oidc_issuer", "https://accounts.google.com".into()),
            ("token_request_method", "POST".into()),
            ("token_url", "https://www.googleapis.com/oauth2/v4/token".into()),
        ],
        IdentityProviderTypeType::Facebook => vec![
            ("attributes_url", format!("https://graph.facebook.com/{version}/me?fields=")),
            ("attributes_url_add_attributes", "true".into()),
            ("authorize_url", format!("https://www.facebook.com/{version}/dialog/oauth")),
            ("token_request_method", "GET".into()),
            ("token_url", format!("https://graph.facebook.com/{version}/oauth/access_token")),
        ],
        IdentityProviderTypeType::LoginWithAmazon => vec![
            ("attributes_url", "https://api.amazon.com/user/profile".into()),
            ("attributes_url_add_attributes", "false".into()),
            ("authorize_url", "https://www.amazon.com/ap/oa".into()),
            ("token_request_method", "POST".into()),
            ("token_url", "https://api.amazon.com/auth/o2/token".into()),
        ],
        IdentityProviderTypeType::SignInWithApple => vec![
            ("attributes_url_add_attributes", "false".into()),
            ("authorize_url", "https://appleid.apple.com/auth/authorize".into()),
            ("oidc_issuer", "https://appleid.apple.com".into()),
            ("token_request_method", "POST".into()),
            ("token_url", "https://appleid.apple.com/auth/token".into()),
        ],
        IdentityProviderTypeType::Oidc => vec![("attributes_url_add_attributes", "false".into())],
        IdentityProviderTypeType::Saml => {
            let metadata = details.get("MetadataFile").and_then(|f| super::saml::parse_metadata(f).ok());
            let metadata = metadata.unwrap_or_default();
            [("SSORedirectBindingURI", metadata.sso_redirect), ("SLORedirectBindingURI", metadata.slo_redirect)]
                .into_iter()
                .filter_map(|(key, location)| Some((key, location?)))
                .collect()
        }
    };
    list.into_iter().filter(|(k, _)| !details.contains_key(*k)).collect()
}

/// Whether an http URL names this machine (`localhost`, a `.localhost` name or a loopback
/// address): a local stand-in for a provider, which needs no TLS.
fn loopback_url(url: &str) -> bool {
    let authority = url.trim_start_matches("http://").split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next().map_or(host, |h| h.trim_start_matches('['))
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks a provider's name (on creation) and details, as Cognito does.
fn check_provider(name: &str, kind: IdentityProviderTypeType, details: &Map<String>) -> Result<()> {
    if name.eq_ignore_ascii_case("cognito") {
        return Err(CognitoError::invalid_parameter(format!("The provider name {name} is reserved.")));
    }
    if name.starts_with('_') || name.ends_with('_') || name.chars().count() > 32 {
        return Err(CognitoError::invalid_parameter(format!(
            "The provider name {name} is not valid: 1 to 32 characters, not starting or ending with an underscore."
        )));
    }
    let social = match kind {
        IdentityProviderTypeType::Google => Some("Google"),
        IdentityProviderTypeType::Facebook => Some("Facebook"),
        IdentityProviderTypeType::LoginWithAmazon => Some("LoginWithAmazon"),
        IdentityProviderTypeType::SignInWithApple => Some("SignInWithApple"),
        _ => None,
    };
    if let Some(expected) = social.filter(|s| *s != name) {
        // Cognito's words, as users report them.
        return Err(CognitoError::invalid_parameter(format!("Provider {name} cannot be of type {expected}.")));
    }
    check_details(kind, details)
}

fn check_details(kind: IdentityProviderTypeType, details: &Map<String>) -> Result<()> {
    for required in required_details(kind) {
        if details.get(*required).is_none_or(|v| v.trim().is_empty()) {
            return Err(CognitoError::invalid_parameter(format!(
                "{required} is required in ProviderDetails for a {} identity provider.",
                kind.as_str()
            )));
        }
    }
    match kind {
        IdentityProviderTypeType::Saml => {
            let url = details.get("MetadataURL").filter(|v| !v.is_empty());
            let file = details.get("MetadataFile").filter(|v| !v.is_empty());
            if url.is_some() == file.is_some() {
                return Err(CognitoError::invalid_parameter(
                    "A SAML identity provider needs exactly one of MetadataURL and MetadataFile in ProviderDetails.",
                ));
            }
            if let Some(Err(reason)) = file.map(|f| super::saml::parse_metadata(f)) {
                return Err(CognitoError::invalid_parameter(format!(
                    "MetadataFile is not valid SAML 2.0 metadata: {reason}."
                )));
            }
            if let Some(url) = url {
                if !(url.starts_with("https://") || url.starts_with("http://") && loopback_url(url)) {
                    return Err(CognitoError::invalid_parameter(
                        "MetadataURL must be an https URL (http only for a provider on this machine).",
                    ));
                }
            }
        }
        IdentityProviderTypeType::Oidc => {
            if let Some(method) = details.get("attributes_request_method") {
                if method != "GET" && method != "POST" {
                    return Err(CognitoError::invalid_parameter("attributes_request_method must be GET or POST."));
                }
            }
            for url_key in ["oidc_issuer", "authorize_url", "token_url", "attributes_url", "jwks_uri"] {
                if let Some(url) = details.get(url_key) {
                    if !(url.starts_with("https://") || url.starts_with("http://") && loopback_url(url)) {
                        return Err(CognitoError::invalid_parameter(format!(
                            "{url_key} must be an https URL (http only for a provider on this machine)."
                        )));
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// A provider as stored, in Cognito's shape.
#[derive(Debug, Clone)]
pub struct Provider {
    pub doc: IdentityProviderType,
}

impl Provider {
    pub(crate) fn name(&self) -> &str {
        self.doc.provider_name.as_deref().unwrap_or_default()
    }

    pub(crate) fn kind(&self) -> IdentityProviderTypeType {
        self.doc.provider_type.unwrap_or(IdentityProviderTypeType::Oidc)
    }

    /// A provider detail, given or derived.
    pub(crate) fn detail(&self, key: &str) -> Option<String> {
        let details = self.doc.provider_details.clone().unwrap_or_default();
        details
            .get(key)
            .cloned()
            .or_else(|| derived_details(self.kind(), &details).into_iter().find(|(k, _)| *k == key).map(|(_, v)| v))
    }

    pub(crate) fn attribute_mapping(&self) -> Map<String> {
        self.doc.attribute_mapping.clone().unwrap_or_default()
    }

    /// As DescribeIdentityProvider answers: the derived keys in, secrets Cognito withholds out
    /// (see [`Service::provider_described`] for the pool's encryption certificate).
    fn described(&self) -> IdentityProviderType {
        let mut doc = self.doc.clone();
        if let Some(details) = doc.provider_details.as_mut() {
            for (k, v) in derived_details(self.kind(), details) {
                details.insert(k.to_owned(), v);
            }
            if self.kind() == IdentityProviderTypeType::SignInWithApple {
                details.shift_remove("private_key");
            }
        }
        doc
    }
}

impl Service {
    /// A provider as Cognito describes it, with `ActiveEncryptionCertificate` for a SAML
    /// provider that receives encrypted assertions.
    async fn provider_described(&self, provider: &Provider) -> Result<IdentityProviderType> {
        let mut doc = provider.described();
        let encrypted = provider.detail("EncryptedResponses").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if provider.kind() == IdentityProviderTypeType::Saml && encrypted {
            let pool_id = doc.user_pool_id.clone().unwrap_or_default();
            let cert = self.saml_encryption_certificate(&pool_id).await?;
            if let Some(details) = doc.provider_details.as_mut() {
                details.insert("ActiveEncryptionCertificate".into(), cert);
            }
        }
        Ok(doc)
    }

    /// The pool's provider named `name`, if any.
    pub(crate) async fn identity_provider(&self, pool_id: &str, name: &str) -> Result<Option<Provider>> {
        let Some(object) = self.store.get_object(IDP, &key(pool_id, name)).await? else { return Ok(None) };
        let doc = serde_json::from_value(Value::Object(object.doc)).map_err(CognitoError::internal)?;
        Ok(Some(Provider { doc }))
    }

    async fn all_providers(&self, pool_id: &str) -> Result<Vec<Provider>> {
        let objects = self.store.list_objects(IDP, pool_id, None, 1000).await?;
        Ok(objects
            .into_iter()
            .filter_map(|o| serde_json::from_value(Value::Object(o.doc)).ok().map(|doc| Provider { doc }))
            .collect())
    }

    /// The provider an `idp_identifier` names.
    pub(crate) async fn provider_by_identifier(&self, pool_id: &str, identifier: &str) -> Result<Option<Provider>> {
        Ok(self.all_providers(pool_id).await?.into_iter().find(|p| {
            p.doc.idp_identifiers.as_deref().unwrap_or_default().iter().any(|i| i.eq_ignore_ascii_case(identifier))
        }))
    }

    async fn check_identifiers(&self, pool: &UserPool, name: &str, identifiers: &[String]) -> Result<()> {
        if identifiers.len() > MAX_IDENTIFIERS {
            return Err(CognitoError::invalid_parameter("A provider may have at most 50 IdpIdentifiers."));
        }
        for (i, id) in identifiers.iter().enumerate() {
            if identifiers[..i].iter().any(|other| other.eq_ignore_ascii_case(id)) {
                return Err(CognitoError::invalid_parameter(format!("The IdpIdentifier {id} is given twice.")));
            }
        }
        for other in self.all_providers(&pool.id).await? {
            if other.name() == name {
                continue;
            }
            let taken = other.doc.idp_identifiers.as_deref().unwrap_or_default();
            if let Some(id) = identifiers.iter().find(|id| taken.iter().any(|t| t.eq_ignore_ascii_case(id))) {
                return Err(CognitoError::new(
                    ErrorKind::DuplicateProvider,
                    format!("The IdpIdentifier {id} is already used by the provider {}.", other.name()),
                ));
            }
        }
        Ok(())
    }

    async fn put_provider(&self, pool: &UserPool, doc: &IdentityProviderType, create: bool) -> Result<()> {
        let Value::Object(map) = serde_json::to_value(doc).map_err(CognitoError::internal)? else {
            return Err(CognitoError::internal("a provider is not an object"));
        };
        let name = doc.provider_name.as_deref().unwrap_or_default();
        let object = PoolObject {
            kind: IDP.into(),
            key: key(&pool.id, name),
            pool_id: pool.id.clone(),
            doc: map,
            created_ms: self.now_ms(),
        };
        match self.store.put_object(&object, create).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict) => Err(CognitoError::new(
                ErrorKind::DuplicateProvider,
                format!("A provider with the name {name} already exists in this user pool."),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn create_identity_provider(
        &self,
        _ctx: &RequestContext,
        req: CreateIdentityProviderRequest,
    ) -> Result<CreateIdentityProviderResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        check_provider(&req.provider_name, req.provider_type, &req.provider_details)?;
        let identifiers = req.idp_identifiers.clone().unwrap_or_default();
        self.check_identifiers(&pool, &req.provider_name, &identifiers).await?;
        let now = self.now_ms() as f64 / 1000.0;
        let doc = IdentityProviderType {
            user_pool_id: Some(pool.id.clone()),
            provider_name: Some(req.provider_name),
            provider_type: Some(req.provider_type),
            provider_details: Some(req.provider_details),
            attribute_mapping: Some(req.attribute_mapping.unwrap_or_default()),
            idp_identifiers: Some(identifiers),
            last_modified_date: Some(now),
            creation_date: Some(now),
            acr_mapping: req.acr_mapping,
        };
        self.put_provider(&pool, &doc, true).await?;
        Ok(CreateIdentityProviderResponse { identity_provider: self.provider_described(&Provider { doc }).await? })
    }

    pub async fn describe_identity_provider(
        &self,
        _ctx: &RequestContext,
        req: DescribeIdentityProviderRequest,
    ) -> Result<DescribeIdentityProviderResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let provider =
            self.identity_provider(&pool.id, &req.provider_name).await?.ok_or_else(|| not_found(&req.provider_name))?;
        Ok(DescribeIdentityProviderResponse { identity_provider: self.provider_described(&provider).await? })
    }

    pub async fn get_identity_provider_by_identifier(
        &self,
        _ctx: &RequestContext,
        req: GetIdentityProviderByIdentifierRequest,
    ) -> Result<GetIdentityProviderByIdentifierResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let provider = self.provider_by_identifier(&pool.id, &req.idp_identifier).await?.ok_or_else(|| {
            CognitoError::new(
                ErrorKind::ResourceNotFound,
                format!("No identity provider has the identifier {}.", req.idp_identifier),
            )
        })?;
        Ok(GetIdentityProviderByIdentifierResponse { identity_provider: self.provider_described(&provider).await? })
    }

    pub async fn update_identity_provider(
        &self,
        _ctx: &RequestContext,
        req: UpdateIdentityProviderRequest,
    ) -> Result<UpdateIdentityProviderResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let mut provider =
            self.identity_provider(&pool.id, &req.provider_name).await?.ok_or_else(|| not_found(&req.provider_name))?;
        if let Some(details) = req.provider_details {
            check_details(provider.kind(), &details)?;
            provider.doc.provider_details = Some(details);
        }
        if let Some(mapping) = req.attribute_mapping {
            provider.doc.attribute_mapping = Some(mapping);
        }
        if let Some(identifiers) = req.idp_identifiers {
            self.check_identifiers(&pool, &req.provider_name, &identifiers).await?;
            provider.doc.idp_identifiers = Some(identifiers);
        }
        if let Some(mapping) = req.acr_mapping {
            provider.doc.acr_mapping = Some(mapping);
        }
        provider.doc.last_modified_date = Some(self.now_ms() as f64 / 1000.0);
        self.put_provider(&pool, &provider.doc, false).await?;
        Ok(UpdateIdentityProviderResponse { identity_provider: self.provider_described(&provider).await? })
    }

    pub async fn delete_identity_provider(
        &self,
        _ctx: &RequestContext,
        req: DeleteIdentityProviderRequest,
    ) -> Result<Empty> {
        let pool = self.pool(&req.user_pool_id).await?;
        if !self.store.delete_object(IDP, &key(&pool.id, &req.provider_name)).await? {
            return Err(not_found(&req.provider_name));
        }
        Ok(Empty {})
    }

    pub async fn list_identity_providers(
        &self,
        _ctx: &RequestContext,
        req: ListIdentityProvidersRequest,
    ) -> Result<ListIdentityProvidersResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let page = Page::checked(req.max_results, 60, req.next_token.as_deref())?;
        // The token is the last provider's name (names hold no white space, as tokens may not).
        let after = page.after.as_deref().map(|name| key(&pool.id, name));
        let mut objects = self.store.list_objects(IDP, &pool.id, after.as_deref(), page.fetch_limit()).await?;
        let next_token =
            page.finish(&mut objects, |o| o.key.split_once('\n').map(|(_, name)| name.to_owned()).unwrap_or_default());
        let providers = objects
            .into_iter()
            .filter_map(|o| serde_json::from_value::<IdentityProviderType>(Value::Object(o.doc)).ok())
            .map(|p| ProviderDescription {
                provider_name: p.provider_name,
                provider_type: p.provider_type,
                last_modified_date: p.last_modified_date,
                creation_date: p.creation_date,
            })
            .collect();
        Ok(ListIdentityProvidersResponse { providers, next_token })
    }
}
