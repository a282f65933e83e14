//! What a pool's OAuth side is configured with: its domains, its resource servers and their
//! scopes, the look of its sign-in pages (classic UI customization and managed-login branding),
//! and app-client secrets beyond the first.
//!
//! These live in the store as pool objects (documents by kind and key); domains are unique
//! across pools, so a domain's key is the domain name alone.

use cognate_api::{
    AddUserPoolClientSecretRequest, AddUserPoolClientSecretResponse, ClientSecretDescriptorType,
    CreateManagedLoginBrandingRequest, CreateManagedLoginBrandingResponse, CreateResourceServerRequest,
    CreateResourceServerResponse, CreateUserPoolDomainRequest, CreateUserPoolDomainResponse,
    DeleteManagedLoginBrandingRequest, DeleteResourceServerRequest, DeleteUserPoolClientSecretRequest,
    DeleteUserPoolClientSecretResponse, DeleteUserPoolDomainRequest, DeleteUserPoolDomainResponse,
    DescribeManagedLoginBrandingByClientRequest, DescribeManagedLoginBrandingByClientResponse,
    DescribeManagedLoginBrandingRequest, DescribeManagedLoginBrandingResponse, DescribeResourceServerRequest,
    DescribeResourceServerResponse, DescribeUserPoolDomainRequest, DescribeUserPoolDomainResponse,
    DomainDescriptionType, DomainStatusType, Empty, GetUICustomizationRequest, GetUICustomizationResponse,
    ListResourceServersRequest, ListResourceServersResponse, ListUserPoolClientSecretsRequest,
    ListUserPoolClientSecretsResponse, ManagedLoginBrandingType, ResourceServerType, SetUICustomizationRequest,
    SetUICustomizationResponse, UICustomizationType, UpdateManagedLoginBrandingRequest,
    UpdateManagedLoginBrandingResponse, UpdateResourceServerRequest, UpdateResourceServerResponse,
    UpdateUserPoolDomainRequest, UpdateUserPoolDomainResponse,
};
use serde_json::{json, Value};

use super::paging::Page;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result, StoreError};
use crate::model::client::EXTRA_SECRETS;
use crate::model::{AppClient, Doc, PoolObject, UserPool};

pub(crate) const DOMAIN: &str = "domain";
const RESOURCE_SERVER: &str = "resource-server";
const UI: &str = "ui-customization";
const BRANDING: &str = "branding";

/// Resource servers a pool may have (Cognito's quota).
const MAX_RESOURCE_SERVERS: usize = 25;
/// Secrets an app client may hold at once.
const MAX_SECRETS: usize = 2;
/// Prefixes Cognito keeps for itself.
const RESERVED_PREFIX_WORDS: &[&str] = &["aws", "amazon", "cognito"];

fn to_doc<T: serde::Serialize>(v: &T) -> Result<Doc> {
    match serde_json::to_value(v).map_err(CognitoError::internal)? {
        Value::Object(m) => Ok(m),
        _ => Err(CognitoError::internal("not an object")),
    }
}

fn from_doc<T: serde::de::DeserializeOwned>(doc: &Doc) -> Result<T> {
    serde_json::from_value(Value::Object(doc.clone())).map_err(CognitoError::internal)
}

/// The key of a pool-scoped object: pool id and name, one per line.
fn scoped(pool_id: &str, name: &str) -> String {
    format!("{pool_id}\n{name}")
}

/// A custom domain is a host name with dots; a prefix is one DNS label.
fn is_custom(domain: &str) -> bool {
    domain.contains('.')
}

fn check_domain(domain: &str, custom_config: bool) -> Result<()> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if is_custom(domain) {
        if !custom_config {
            return Err(CognitoError::invalid_parameter(
                "A custom domain needs a CustomDomainConfig with the ARN of its certificate.",
            ));
        }
        if domain.len() > 253 || !domain.split('.').all(label_ok) {
            return Err(CognitoError::invalid_parameter(format!("The domain {domain} is not a valid host name.")));
        }
        return Ok(());
    }
    if !label_ok(domain) {
        return Err(CognitoError::invalid_parameter(format!(
            "1 validation error detected: Value '{domain}' at 'domain' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^[a-z0-9](?:[a-z0-9\\-]{{0,61}}[a-z0-9])?$"
        )));
    }
    if RESERVED_PREFIX_WORDS.iter().any(|w| domain.contains(w)) {
        return Err(CognitoError::invalid_parameter(format!(
            "The domain prefix {domain} contains a reserved word (aws, amazon or cognito)."
        )));
    }
    Ok(())
}

/// A stable stand-in for the CloudFront distribution Cognito puts in front of a domain.
fn cloudfront_name(domain: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(domain.as_bytes());
    format!("d{}.cloudfront.net", &hex::encode(digest)[..13])
}

fn domain_not_found(domain: &str) -> CognitoError {
    CognitoError::not_found(format!("The domain {domain} does not exist for this user pool."))
}

impl Service {
    // --- domains -------------------------------------------------------------------------------

    /// The pool a domain (prefix or custom host name) belongs to, if any.
    pub async fn pool_of_domain(&self, domain: &str) -> Result<Option<String>> {
        Ok(self.store.get_object(DOMAIN, &domain.to_ascii_lowercase()).await?.map(|o| o.pool_id))
    }

    pub async fn create_user_pool_domain(
        &self,
        _ctx: &RequestContext,
        req: CreateUserPoolDomainRequest,
    ) -> Result<CreateUserPoolDomainResponse> {
        let mut pool = self.pool(&req.user_pool_id).await?;
        let domain = req.domain.to_ascii_lowercase();
        check_domain(&domain, req.custom_domain_config.is_some())?;
        let custom = is_custom(&domain);
        let member = if custom { "CustomDomain" } else { "Domain" };
        if let Some(existing) = pool.doc.get(member).and_then(Value::as_str) {
            return Err(CognitoError::invalid_parameter(format!(
                "The user pool already has the {} domain {existing}: delete it before creating another.",
                if custom { "custom" } else { "prefix" }
            )));
        }
        let version = req.managed_login_version.unwrap_or(1);
        if !(1..=2).contains(&version) {
            return Err(CognitoError::invalid_parameter("ManagedLoginVersion must be 1 or 2."));
        }
        let description = DomainDescriptionType {
            user_pool_id: Some(pool.id.clone()),
            aws_account_id: Some(self.config.account_id.clone()),
            domain: Some(domain.clone()),
            s3_bucket: None,
            cloud_front_distribution: Some(cloudfront_name(&domain)),
            version: Some("20130630".into()),
            status: Some(DomainStatusType::Active),
            custom_domain_config: req.custom_domain_config.clone(),
            managed_login_version: Some(version),
            routing: req.routing.clone(),
        };
        let object = PoolObject {
            kind: DOMAIN.into(),
            key: domain.clone(),
            pool_id: pool.id.clone(),
            doc: to_doc(&description)?,
            created_ms: self.now_ms(),
        };
        match self.store.put_object(&object, true).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(CognitoError::invalid_parameter("Domain already associated with another user pool."))
            }
            Err(e) => return Err(e.into()),
        }
        pool.doc_mut().insert(member.into(), json!(domain));
        self.store.update_pool(&pool).await?;
        Ok(CreateUserPoolDomainResponse {
            managed_login_version: Some(version),
            cloud_front_domain: custom.then(|| cloudfront_name(&domain)),
            routing: description.routing,
        })
    }

    pub async fn describe_user_pool_domain(
        &self,
        _ctx: &RequestContext,
        req: DescribeUserPoolDomainRequest,
    ) -> Result<DescribeUserPoolDomainResponse> {
        // An unknown domain is described as nothing, not as an error.
        let description = match self.store.get_object(DOMAIN, &req.domain.to_ascii_lowercase()).await? {
            Some(o) => from_doc(&o.doc)?,
            None => DomainDescriptionType::default(),
        };
        Ok(DescribeUserPoolDomainResponse { domain_description: Some(description) })
    }

    async fn pool_domain(&self, pool_id: &str, domain: &str) -> Result<PoolObject> {
        self.pool(pool_id).await?;
        self.store
            .get_object(DOMAIN, &domain.to_ascii_lowercase())
            .await?
            .filter(|o| o.pool_id == pool_id)
            .ok_or_else(|| domain_not_found(domain))
    }

    pub async fn update_user_pool_domain(
        &self,
        _ctx: &RequestContext,
        req: UpdateUserPoolDomainRequest,
    ) -> Result<UpdateUserPoolDomainResponse> {
        let mut object = self.pool_domain(&req.user_pool_id, &req.domain).await?;
        let mut description: DomainDescriptionType = from_doc(&object.doc)?;
        if let Some(v) = req.managed_login_version {
            if !(1..=2).contains(&v) {
                return Err(CognitoError::invalid_parameter("ManagedLoginVersion must be 1 or 2."));
            }
            description.managed_login_version = Some(v);
        }
        if let Some(c) = req.custom_domain_config {
            if !is_custom(&object.key) {
                return Err(CognitoError::invalid_parameter("A prefix domain has no CustomDomainConfig."));
            }
            description.custom_domain_config = Some(c);
        }
        if let Some(r) = req.routing {
            description.routing = Some(r);
        }
        object.doc = to_doc(&description)?;
        self.store.put_object(&object, false).await?;
        Ok(UpdateUserPoolDomainResponse {
            managed_login_version: description.managed_login_version,
            cloud_front_domain: is_custom(&object.key).then(|| cloudfront_name(&object.key)),
            routing: description.routing,
        })
    }

    pub async fn delete_user_pool_domain(
        &self,
        _ctx: &RequestContext,
        req: DeleteUserPoolDomainRequest,
    ) -> Result<DeleteUserPoolDomainResponse> {
        let object = self.pool_domain(&req.user_pool_id, &req.domain).await?;
        self.store.delete_object(DOMAIN, &object.key).await?;
        let mut pool = self.pool(&req.user_pool_id).await?;
        let member = if is_custom(&object.key) { "CustomDomain" } else { "Domain" };
        pool.doc_mut().remove(member);
        self.store.update_pool(&pool).await?;
        Ok(DeleteUserPoolDomainResponse::default())
    }

    // --- resource servers -------------------------------------------------------------------

    /// Every custom scope the pool defines, as `<identifier>/<scope>`.
    pub(crate) async fn custom_scopes(&self, pool_id: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.store.list_objects(RESOURCE_SERVER, pool_id, after.as_deref(), 100).await?;
            for o in &page {
                let server: ResourceServerType = from_doc(&o.doc)?;
                let id = server.identifier.unwrap_or_default();
                for s in server.scopes.unwrap_or_default() {
                    out.push(format!("{id}/{}", s.scope_name));
                }
            }
            match page.last() {
                Some(last) if page.len() == 100 => after = Some(last.key.clone()),
                _ => return Ok(out),
            }
        }
    }

    fn resource_server_object(
        &self,
        pool: &UserPool,
        server: &ResourceServerType,
        created_ms: i64,
    ) -> Result<PoolObject> {
        Ok(PoolObject {
            kind: RESOURCE_SERVER.into(),
            key: scoped(&pool.id, server.identifier.as_deref().unwrap_or_default()),
            pool_id: pool.id.clone(),
            doc: to_doc(server)?,
            created_ms,
        })
    }

    pub async fn create_resource_server(
        &self,
        _ctx: &RequestContext,
        req: CreateResourceServerRequest,
    ) -> Result<CreateResourceServerResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        check_scope_names(req.scopes.as_deref().unwrap_or_default())?;
        let count = self.store.list_objects(RESOURCE_SERVER, &pool.id, None, MAX_RESOURCE_SERVERS + 1).await?.len();
        if count >= MAX_RESOURCE_SERVERS {
            return Err(CognitoError::new(
                ErrorKind::LimitExceeded,
                format!("A user pool can have at most {MAX_RESOURCE_SERVERS} resource servers."),
            ));
        }
        let server = ResourceServerType {
            user_pool_id: Some(pool.id.clone()),
            identifier: Some(req.identifier.clone()),
            name: Some(req.name),
            scopes: Some(req.scopes.unwrap_or_default()),
            managed_by: None,
        };
        match self.store.put_object(&self.resource_server_object(&pool, &server, self.now_ms())?, true).await {
            Ok(()) => Ok(CreateResourceServerResponse { resource_server: server }),
            Err(StoreError::Conflict) => Err(CognitoError::invalid_parameter(format!(
                "A resource server with identifier {} already exists in this user pool.",
                req.identifier
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn resource_server(&self, pool_id: &str, identifier: &str) -> Result<(UserPool, PoolObject)> {
        let pool = self.pool(pool_id).await?;
        let object = self.store.get_object(RESOURCE_SERVER, &scoped(pool_id, identifier)).await?.ok_or_else(|| {
            CognitoError::not_found(format!("Resource server {identifier} does not exist in this user pool."))
        })?;
        Ok((pool, object))
    }

    pub async fn describe_resource_server(
        &self,
        _ctx: &RequestContext,
        req: DescribeResourceServerRequest,
    ) -> Result<DescribeResourceServerResponse> {
        let (_, object) = self.resource_server(&req.user_pool_id, &req.identifier).await?;
        Ok(DescribeResourceServerResponse { resource_server: from_doc(&object.doc)? })
    }

    pub async fn update_resource_server(
        &self,
        _ctx: &RequestContext,
        req: UpdateResourceServerRequest,
    ) -> Result<UpdateResourceServerResponse> {
        let (pool, object) = self.resource_server(&req.user_pool_id, &req.identifier).await?;
        check_scope_names(req.scopes.as_deref().unwrap_or_default())?;
        // An update replaces the name and the whole scope list.
        let server = ResourceServerType {
            user_pool_id: Some(pool.id.clone()),
            identifier: Some(req.identifier),
            name: Some(req.name),
            scopes: Some(req.scopes.unwrap_or_default()),
            managed_by: None,
        };
        self.store.put_object(&self.resource_server_object(&pool, &server, object.created_ms)?, false).await?;
        Ok(UpdateResourceServerResponse { resource_server: server })
    }

    pub async fn delete_resource_server(
        &self,
        _ctx: &RequestContext,
        req: DeleteResourceServerRequest,
    ) -> Result<Empty> {
        let (_, object) = self.resource_server(&req.user_pool_id, &req.identifier).await?;
        self.store.delete_object(RESOURCE_SERVER, &object.key).await?;
        Ok(Empty {})
    }

    pub async fn list_resource_servers(
        &self,
        _ctx: &RequestContext,
        req: ListResourceServersRequest,
    ) -> Result<ListResourceServersResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let page = Page::checked(req.max_results, 50, req.next_token.as_deref())?;
        let after = page.after.as_deref().map(|a| scoped(&pool.id, a));
        let mut objects =
            self.store.list_objects(RESOURCE_SERVER, &pool.id, after.as_deref(), page.fetch_limit()).await?;
        let next =
            page.finish(&mut objects, |o| o.key.split_once('\n').map(|(_, id)| id.to_owned()).unwrap_or_default());
        let servers = objects.iter().map(|o| from_doc(&o.doc)).collect::<Result<_>>()?;
        Ok(ListResourceServersResponse { resource_servers: servers, next_token: next })
    }

    // --- UI customization -------------------------------------------------------------------

    pub async fn set_ui_customization(
        &self,
        _ctx: &RequestContext,
        req: SetUICustomizationRequest,
    ) -> Result<SetUICustomizationResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        if let Some(client_id) = &req.client_id {
            self.pool_client(&pool.id, client_id).await?;
        }
        let which = req.client_id.clone().unwrap_or_else(|| "ALL".into());
        let key = scoped(&pool.id, &which);
        let now = self.now_date_secs();
        let existing = self.store.get_object(UI, &key).await?;
        let created = existing.as_ref().and_then(|o| o.doc.get("CreationDate").and_then(Value::as_f64)).unwrap_or(now);
        if let Some(image) = &req.image_file {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(image)
                .map_err(|_| CognitoError::invalid_parameter("ImageFile is not base64-encoded."))?;
            if bytes.len() > 100 * 1024 {
                return Err(CognitoError::invalid_parameter("The image file is larger than 100 KB."));
            }
        }
        let customization = UICustomizationType {
            user_pool_id: Some(pool.id.clone()),
            client_id: Some(which.clone()),
            image_url: req.image_file.as_ref().map(|_| self.ui_image_url(&pool.id, &which)),
            css: req.css.clone(),
            css_version: Some(format!("{}", (now * 1000.0) as i64)),
            last_modified_date: Some(now),
            creation_date: Some(created),
        };
        let mut doc = to_doc(&customization)?;
        if let Some(image) = req.image_file {
            doc.insert(IMAGE.into(), json!(image));
        }
        let object = PoolObject { kind: UI.into(), key, pool_id: pool.id.clone(), doc, created_ms: self.now_ms() };
        self.store.put_object(&object, false).await?;
        Ok(SetUICustomizationResponse { ui_customization: customization })
    }

    pub async fn get_ui_customization(
        &self,
        _ctx: &RequestContext,
        req: GetUICustomizationRequest,
    ) -> Result<GetUICustomizationResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        if let Some(client_id) = &req.client_id {
            self.pool_client(&pool.id, client_id).await?;
        }
        let customization = match self.ui_customization(&pool.id, req.client_id.as_deref()).await? {
            Some((c, _)) => c,
            None => UICustomizationType {
                user_pool_id: Some(pool.id.clone()),
                client_id: Some(req.client_id.unwrap_or_else(|| "ALL".into())),
                ..Default::default()
            },
        };
        Ok(GetUICustomizationResponse { ui_customization: customization })
    }

    /// The customization that applies to a client's pages: its own, else the pool's, with the
    /// image (base64) if one was set.
    pub async fn ui_customization(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
    ) -> Result<Option<(UICustomizationType, Option<String>)>> {
        for which in client_id.into_iter().chain(["ALL"]) {
            if let Some(o) = self.store.get_object(UI, &scoped(pool_id, which)).await? {
                let image = o.doc.get(IMAGE).and_then(Value::as_str).map(str::to_owned);
                return Ok(Some((from_doc(&o.doc)?, image)));
            }
        }
        Ok(None)
    }

    fn ui_image_url(&self, pool_id: &str, which: &str) -> String {
        format!("{}/login/ui-image/{pool_id}/{which}", self.config.public_url)
    }

    fn now_date_secs(&self) -> f64 {
        self.now_ms() as f64 / 1000.0
    }

    // --- managed-login branding -------------------------------------------------------------

    async fn branding_of_client(&self, pool_id: &str, client_id: &str) -> Result<Option<PoolObject>> {
        let mut after: Option<String> = None;
        loop {
            let page = self.store.list_objects(BRANDING, pool_id, after.as_deref(), 100).await?;
            if let Some(o) = page.iter().find(|o| o.doc.get(BRANDING_CLIENT).and_then(Value::as_str) == Some(client_id))
            {
                return Ok(Some(o.clone()));
            }
            match page.last() {
                Some(last) if page.len() == 100 => after = Some(last.key.clone()),
                _ => return Ok(None),
            }
        }
    }

    pub async fn create_managed_login_branding(
        &self,
        _ctx: &RequestContext,
        req: CreateManagedLoginBrandingRequest,
    ) -> Result<CreateManagedLoginBrandingResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        self.pool_client(&pool.id, &req.client_id).await?;
        if self.branding_of_client(&pool.id, &req.client_id).await?.is_some() {
            return Err(CognitoError::new(
                ErrorKind::ManagedLoginBrandingExists,
                format!("The app client {} already has a managed login branding style.", req.client_id),
            ));
        }
        let cognito_values = req.use_cognito_provided_values == Some(true);
        if cognito_values && (req.settings.is_some() || req.assets.is_some()) {
            return Err(CognitoError::invalid_parameter(
                "UseCognitoProvidedValues cannot be combined with Settings or Assets.",
            ));
        }
        let now = self.now_date_secs();
        let branding = ManagedLoginBrandingType {
            managed_login_branding_id: Some(crate::ids::uuid()),
            user_pool_id: Some(pool.id.clone()),
            use_cognito_provided_values: Some(cognito_values),
            settings: if cognito_values { None } else { req.settings.or(Some(json!({}))) },
            assets: if cognito_values { None } else { req.assets.or(Some(Vec::new())) },
            creation_date: Some(now),
            last_modified_date: Some(now),
        };
        self.put_branding(&pool.id, &req.client_id, &branding, true).await?;
        Ok(CreateManagedLoginBrandingResponse { managed_login_branding: Some(branding) })
    }

    async fn put_branding(
        &self,
        pool_id: &str,
        client_id: &str,
        b: &ManagedLoginBrandingType,
        create: bool,
    ) -> Result<()> {
        let mut doc = to_doc(b)?;
        doc.insert(BRANDING_CLIENT.into(), json!(client_id));
        let id = b.managed_login_branding_id.clone().unwrap_or_default();
        let object = PoolObject {
            kind: BRANDING.into(),
            key: scoped(pool_id, &id),
            pool_id: pool_id.into(),
            doc,
            created_ms: self.now_ms(),
        };
        Ok(self.store.put_object(&object, create).await?)
    }

    async fn branding(&self, pool_id: &str, id: &str) -> Result<PoolObject> {
        self.pool(pool_id).await?;
        self.store
            .get_object(BRANDING, &scoped(pool_id, id))
            .await?
            .ok_or_else(|| CognitoError::not_found(format!("Managed login branding {id} does not exist.")))
    }

    pub async fn describe_managed_login_branding(
        &self,
        _ctx: &RequestContext,
        req: DescribeManagedLoginBrandingRequest,
    ) -> Result<DescribeManagedLoginBrandingResponse> {
        let object = self.branding(&req.user_pool_id, &req.managed_login_branding_id).await?;
        Ok(DescribeManagedLoginBrandingResponse { managed_login_branding: Some(from_doc(&object.doc)?) })
    }

    pub async fn describe_managed_login_branding_by_client(
        &self,
        _ctx: &RequestContext,
        req: DescribeManagedLoginBrandingByClientRequest,
    ) -> Result<DescribeManagedLoginBrandingByClientResponse> {
        self.pool_client(&req.user_pool_id, &req.client_id).await?;
        let object = self.branding_of_client(&req.user_pool_id, &req.client_id).await?.ok_or_else(|| {
            CognitoError::not_found(format!("The app client {} has no managed login branding style.", req.client_id))
        })?;
        Ok(DescribeManagedLoginBrandingByClientResponse { managed_login_branding: Some(from_doc(&object.doc)?) })
    }

    /// The branding style a client's pages use, if it has one.
    pub async fn client_branding(&self, pool_id: &str, client_id: &str) -> Result<Option<ManagedLoginBrandingType>> {
        match self.branding_of_client(pool_id, client_id).await? {
            Some(o) => Ok(Some(from_doc(&o.doc)?)),
            None => Ok(None),
        }
    }

    pub async fn update_managed_login_branding(
        &self,
        _ctx: &RequestContext,
        req: UpdateManagedLoginBrandingRequest,
    ) -> Result<UpdateManagedLoginBrandingResponse> {
        let (Some(pool_id), Some(id)) = (req.user_pool_id.as_deref(), req.managed_login_branding_id.as_deref()) else {
            return Err(CognitoError::invalid_parameter("UserPoolId and ManagedLoginBrandingId are required."));
        };
        let object = self.branding(pool_id, id).await?;
        let client_id = object.doc.get(BRANDING_CLIENT).and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut branding: ManagedLoginBrandingType = from_doc(&object.doc)?;
        if req.use_cognito_provided_values == Some(true) {
            branding.use_cognito_provided_values = Some(true);
            branding.settings = None;
            branding.assets = None;
        } else {
            branding.use_cognito_provided_values = Some(false);
            if let Some(s) = req.settings {
                branding.settings = Some(s);
            }
            if let Some(a) = req.assets {
                branding.assets = Some(a);
            }
        }
        branding.last_modified_date = Some(self.now_date_secs());
        self.put_branding(pool_id, &client_id, &branding, false).await?;
        Ok(UpdateManagedLoginBrandingResponse { managed_login_branding: Some(branding) })
    }

    pub async fn delete_managed_login_branding(
        &self,
        _ctx: &RequestContext,
        req: DeleteManagedLoginBrandingRequest,
    ) -> Result<Empty> {
        let object = self.branding(&req.user_pool_id, &req.managed_login_branding_id).await?;
        self.store.delete_object(BRANDING, &object.key).await?;
        Ok(Empty {})
    }

    // --- client secrets ---------------------------------------------------------------------

    pub async fn add_user_pool_client_secret(
        &self,
        _ctx: &RequestContext,
        req: AddUserPoolClientSecretRequest,
    ) -> Result<AddUserPoolClientSecretResponse> {
        let mut client = self.pool_client(&req.user_pool_id, &req.client_id).await?;
        let descriptors = secret_descriptors(&client);
        if descriptors.is_empty() {
            return Err(CognitoError::invalid_parameter(format!(
                "The app client {} has no client secret: secrets can only be added to a confidential client.",
                client.client_id
            )));
        }
        if descriptors.len() >= MAX_SECRETS {
            return Err(CognitoError::new(
                ErrorKind::LimitExceeded,
                format!("An app client can have at most {MAX_SECRETS} client secrets."),
            ));
        }
        let generated = req.client_secret.is_none();
        let value = req.client_secret.unwrap_or_else(crate::ids::client_secret);
        let now = self.now_ms();
        let descriptor = ClientSecretDescriptorType {
            client_secret_id: Some(format!("{}--{}", client.client_id, now / 1000)),
            client_secret_value: Some(value),
            client_secret_create_date: Some(now as f64 / 1000.0),
        };
        let mut extra = client.doc.get(EXTRA_SECRETS).and_then(Value::as_array).cloned().unwrap_or_default();
        extra.push(serde_json::to_value(&descriptor).map_err(CognitoError::internal)?);
        client.doc_mut().insert(EXTRA_SECRETS.into(), Value::Array(extra));
        self.store.update_client(&client).await?;
        let shown = ClientSecretDescriptorType {
            client_secret_value: if generated { descriptor.client_secret_value.clone() } else { None },
            ..descriptor
        };
        Ok(AddUserPoolClientSecretResponse { client_secret_descriptor: Some(shown) })
    }

    pub async fn list_user_pool_client_secrets(
        &self,
        _ctx: &RequestContext,
        req: ListUserPoolClientSecretsRequest,
    ) -> Result<ListUserPoolClientSecretsResponse> {
        let client = self.pool_client(&req.user_pool_id, &req.client_id).await?;
        let secrets = secret_descriptors(&client)
            .into_iter()
            .map(|d| ClientSecretDescriptorType { client_secret_value: None, ..d })
            .collect();
        Ok(ListUserPoolClientSecretsResponse { client_secrets: Some(secrets), next_token: None })
    }

    pub async fn delete_user_pool_client_secret(
        &self,
        _ctx: &RequestContext,
        req: DeleteUserPoolClientSecretRequest,
    ) -> Result<DeleteUserPoolClientSecretResponse> {
        let mut client = self.pool_client(&req.user_pool_id, &req.client_id).await?;
        let descriptors = secret_descriptors(&client);
        let Some(position) =
            descriptors.iter().position(|d| d.client_secret_id.as_deref() == Some(&req.client_secret_id))
        else {
            return Err(CognitoError::not_found(format!("Client secret {} does not exist.", req.client_secret_id)));
        };
        if descriptors.len() == 1 {
            return Err(CognitoError::invalid_parameter("The last client secret of an app client cannot be deleted."));
        }
        let mut remaining = descriptors;
        remaining.remove(position);
        // The first remaining secret is the client's `ClientSecret`; the rest stay extra.
        let primary = remaining.remove(0);
        client.doc_mut().insert("ClientSecret".into(), json!(primary.client_secret_value));
        client.doc_mut().insert(PRIMARY_SECRET.into(), serde_json::to_value(&primary).map_err(CognitoError::internal)?);
        let extra: Vec<Value> = remaining.iter().filter_map(|d| serde_json::to_value(d).ok()).collect();
        client.doc_mut().insert(EXTRA_SECRETS.into(), Value::Array(extra));
        self.store.update_client(&client).await?;
        Ok(DeleteUserPoolClientSecretResponse::default())
    }
}

/// Where an image set with SetUICustomization is kept (base64) inside its document.
const IMAGE: &str = "_image";
/// The client a branding style belongs to, inside its document.
const BRANDING_CLIENT: &str = "_clientId";
/// The descriptor of a client's `ClientSecret` once it is no longer the one it was created with.
const PRIMARY_SECRET: &str = "_primarySecret";

/// A client's secrets, its `ClientSecret` first; the first one's id derives from the client's
/// creation date unless a deletion promoted another.
fn secret_descriptors(client: &AppClient) -> Vec<ClientSecretDescriptorType> {
    let Some(primary) = client.secret() else { return Vec::new() };
    let recorded: Option<ClientSecretDescriptorType> =
        client.doc.get(PRIMARY_SECRET).and_then(|v| serde_json::from_value(v.clone()).ok());
    let created = client.doc.get("CreationDate").and_then(Value::as_f64).unwrap_or(0.0);
    let first = recorded.unwrap_or_else(|| ClientSecretDescriptorType {
        client_secret_id: Some(format!("{}--{}", client.client_id, created as i64)),
        client_secret_value: None,
        client_secret_create_date: Some(created),
    });
    let first = ClientSecretDescriptorType { client_secret_value: Some(primary.to_owned()), ..first };
    let extra = client.doc.get(EXTRA_SECRETS).and_then(Value::as_array).into_iter().flatten();
    std::iter::once(first).chain(extra.filter_map(|v| serde_json::from_value(v.clone()).ok())).collect()
}

/// Scope names are unique within a resource server.
fn check_scope_names(scopes: &[cognate_api::ResourceServerScopeType]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for s in scopes {
        if !seen.insert(s.scope_name.as_str()) {
            return Err(CognitoError::invalid_parameter(format!(
                "Duplicate scope name {} in the resource server.",
                s.scope_name
            )));
        }
    }
    Ok(())
}
