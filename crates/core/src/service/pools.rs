//! User-pool management: create, describe, update, delete, list, custom attributes, MFA config.
//!
//! Pools are stored as Cognito's `UserPoolType` document (so every member a caller set comes
//! back from Describe as it was given); requests arrive typed and are written into it here.

use cognate_api::{
    AddCustomAttributesRequest, AddCustomAttributesResponse, AdminCreateUserConfigType, AuthFactorType,
    CreateUserPoolRequest, CreateUserPoolResponse, DeleteUserPoolRequest, DescribeUserPoolRequest,
    DescribeUserPoolResponse, Empty, GetUserPoolMfaConfigRequest, GetUserPoolMfaConfigResponse, LambdaConfigType,
    ListUserPoolsRequest, ListUserPoolsResponse, SchemaAttributeType, SetUserPoolMfaConfigRequest,
    SetUserPoolMfaConfigResponse, UpdateUserPoolRequest, UpdateUserPoolResponse, UserPoolDescriptionType,
    UserPoolMfaType, UserPoolPolicyType, UserPoolType, VerificationMessageTemplateType,
};
use serde_json::{json, Map, Value};

use super::paging::Page;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result, StoreError};
use crate::ids;
use crate::model::pool::{standard_schema, STANDARD_ATTRIBUTES};
use crate::model::{Doc, UserPool};

/// What applying a declaration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    Created,
    Updated,
    Unchanged,
}

/// Documents equal member by member, whatever their order.
pub(crate) fn same_members(a: &Doc, b: &Doc) -> bool {
    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k) == Some(v))
}

// UpdateUserPool follows Cognito: every updatable member the caller omits goes back to its
// default, while creation-only members (schema, username and alias attributes, username
// configuration) and the pool's identity are kept.

const MAX_CUSTOM_ATTRIBUTES: usize = 50;

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// What CreateUserPool and UpdateUserPool both set, from either request; the creation-only
/// members are None for an update.
struct PoolSettings<'a> {
    name: Option<&'a str>,
    policies: Option<&'a UserPoolPolicyType>,
    deletion_protection: Option<Value>,
    lambda_config: Option<&'a LambdaConfigType>,
    auto_verified_attributes: Option<Value>,
    sms_verification_message: Option<&'a str>,
    email_verification_message: Option<&'a str>,
    email_verification_subject: Option<&'a str>,
    verification_message_template: Option<&'a VerificationMessageTemplateType>,
    sms_authentication_message: Option<&'a str>,
    user_attribute_update_settings: Option<Value>,
    mfa_configuration: Option<UserPoolMfaType>,
    device_configuration: Option<Value>,
    email_configuration: Option<Value>,
    sms_configuration: Option<Value>,
    user_pool_tags: Option<Value>,
    admin_create_user_config: Option<&'a AdminCreateUserConfigType>,
    user_pool_add_ons: Option<Value>,
    account_recovery_setting: Option<Value>,
    user_pool_tier: Option<Value>,
    /// The newest model's members: step-up levels, dynamic client registration, the issuer and
    /// the encryption key. Stored and described (UNVERIFIED: whether UpdateUserPool without
    /// them resets them; they are kept).
    newer: [(&'static str, Option<Value>); 4],
    creation: Option<CreationOnly<'a>>,
}

/// Members only CreateUserPool sets.
struct CreationOnly<'a> {
    schema: Option<&'a [SchemaAttributeType]>,
    alias_attributes: Option<Value>,
    username_attributes: Option<Value>,
    username_configuration: Option<Value>,
}

macro_rules! pool_settings {
    ($req:expr, $name:expr, $creation:expr) => {
        PoolSettings {
            name: $name,
            policies: $req.policies.as_ref(),
            deletion_protection: $req.deletion_protection.as_ref().map(to_json),
            lambda_config: $req.lambda_config.as_ref(),
            auto_verified_attributes: $req.auto_verified_attributes.as_ref().map(to_json),
            sms_verification_message: $req.sms_verification_message.as_deref(),
            email_verification_message: $req.email_verification_message.as_deref(),
            email_verification_subject: $req.email_verification_subject.as_deref(),
            verification_message_template: $req.verification_message_template.as_ref(),
            sms_authentication_message: $req.sms_authentication_message.as_deref(),
            user_attribute_update_settings: $req.user_attribute_update_settings.as_ref().map(to_json),
            mfa_configuration: $req.mfa_configuration,
            device_configuration: $req.device_configuration.as_ref().map(to_json),
            email_configuration: $req.email_configuration.as_ref().map(to_json),
            sms_configuration: $req.sms_configuration.as_ref().map(to_json),
            user_pool_tags: $req.user_pool_tags.as_ref().map(to_json),
            admin_create_user_config: $req.admin_create_user_config.as_ref(),
            user_pool_add_ons: $req.user_pool_add_ons.as_ref().map(to_json),
            account_recovery_setting: $req.account_recovery_setting.as_ref().map(to_json),
            user_pool_tier: $req.user_pool_tier.as_ref().map(to_json),
            newer: [
                ("AcrConfiguration", $req.acr_configuration.as_ref().map(to_json)),
                ("DcrConfiguration", $req.dcr_configuration.as_ref().map(to_json)),
                ("IssuerConfiguration", $req.issuer_configuration.as_ref().map(to_json)),
                ("KeyConfiguration", $req.key_configuration.as_ref().map(to_json)),
            ],
            creation: $creation,
        }
    };
}

fn create_settings(req: &CreateUserPoolRequest) -> PoolSettings<'_> {
    let creation = CreationOnly {
        schema: req.schema.as_deref(),
        alias_attributes: req.alias_attributes.as_ref().map(to_json),
        username_attributes: req.username_attributes.as_ref().map(to_json),
        username_configuration: req.username_configuration.as_ref().map(to_json),
    };
    pool_settings!(req, Some(req.pool_name.as_str()), Some(creation))
}

/// A stored pool as the API describes it.
fn pool_view(doc: Map<String, Value>) -> Result<UserPoolType> {
    serde_json::from_value(Value::Object(doc)).map_err(CognitoError::internal)
}

impl Service {
    /// The ARN of pool `pool_id` in `region`: its own region's, or one of its replicas'.
    pub(crate) fn pool_arn(&self, region: &str, pool_id: &str) -> String {
        format!("arn:aws:cognito-idp:{region}:{}:userpool/{pool_id}", self.config.account_id)
    }

    /// Loads a pool or fails with Cognito's "does not exist" error.
    pub async fn pool(&self, pool_id: &str) -> Result<UserPool> {
        self.store.get_pool(pool_id).await?.ok_or_else(|| CognitoError::pool_not_found(pool_id))
    }

    async fn described(&self, pool: UserPool) -> Result<UserPoolType> {
        let users = self.store.count_users(&pool.id).await?;
        let mut doc = std::sync::Arc::unwrap_or_clone(pool.doc);
        doc.remove("MfaSettings");
        doc.insert("EstimatedNumberOfUsers".into(), json!(users));
        pool_view(doc)
    }

    /// CreateUserPool.
    pub async fn create_user_pool(
        &self,
        ctx: &RequestContext,
        req: CreateUserPoolRequest,
    ) -> Result<CreateUserPoolResponse> {
        // The region the request was signed for (several regions on one server), else the
        // server's.
        let region = ctx.region.as_deref().filter(|r| ids::is_region(r)).unwrap_or(&self.config.region).to_owned();
        let pool = self.insert_pool(&req, Some(ids::pool_id(&region)).as_deref()).await?;
        Ok(CreateUserPoolResponse { user_pool: Some(self.described(pool).await?) })
    }

    /// Stores a new pool with id `fixed_id` (configuration files, a region's new id), else a new
    /// one of the server's region.
    async fn insert_pool(&self, req: &CreateUserPoolRequest, fixed_id: Option<&str>) -> Result<UserPool> {
        let id = fixed_id.map(str::to_owned).unwrap_or_else(|| ids::pool_id(&self.config.region));
        let pool = self.build_pool(&id, &create_settings(req), None)?;
        match self.store.insert_pool(&pool).await {
            Ok(()) => self.create_pool_keys(&id).await?,
            Err(StoreError::Conflict) => {
                return Err(CognitoError::invalid_parameter(format!("User pool {id} already exists.")))
            }
            Err(e) => return Err(e.into()),
        }
        Ok(pool)
    }

    /// Makes the stored pool match a declaration: created when missing (found by `fixed_id`,
    /// else by name), replaced when any member differs.
    pub async fn apply_pool(
        &self,
        req: CreateUserPoolRequest,
        fixed_id: Option<&str>,
    ) -> Result<(String, ApplyOutcome)> {
        let existing = match fixed_id {
            Some(id) => self.store.get_pool(id).await?,
            None => self.find_pool_by_name(&req.pool_name).await?,
        };
        let Some(existing) = existing else {
            let created = self.insert_pool(&req, fixed_id).await?;
            return Ok((created.id, ApplyOutcome::Created));
        };
        let mut wanted = self.build_pool(&existing.id, &create_settings(&req), None)?;
        for keep in ["CreationDate", "LastModifiedDate", "MfaSettings", "Domain"] {
            match existing.doc.get(keep) {
                Some(v) => wanted.doc_mut().insert(keep.into(), v.clone()),
                None => wanted.doc_mut().remove(keep),
            };
        }
        if same_members(&wanted.doc, &existing.doc) {
            return Ok((existing.id, ApplyOutcome::Unchanged));
        }
        wanted.doc_mut().insert("LastModifiedDate".into(), self.now_date());
        self.store.update_pool(&wanted).await?;
        Ok((existing.id, ApplyOutcome::Updated))
    }

    async fn find_pool_by_name(&self, name: &str) -> Result<Option<UserPool>> {
        let mut after: Option<String> = None;
        loop {
            let page = self.store.list_pools(after.as_deref(), 100).await?;
            if let Some(p) = page.iter().find(|p| p.name() == name) {
                return Ok(Some(p.clone()));
            }
            match page.last() {
                Some(last) if page.len() == 100 => after = Some(last.id.clone()),
                _ => return Ok(None),
            }
        }
    }

    pub async fn describe_user_pool(
        &self,
        _ctx: &RequestContext,
        req: DescribeUserPoolRequest,
    ) -> Result<DescribeUserPoolResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        Ok(DescribeUserPoolResponse { user_pool: Some(self.described(pool).await?) })
    }

    pub async fn update_user_pool(
        &self,
        _ctx: &RequestContext,
        req: UpdateUserPoolRequest,
    ) -> Result<UpdateUserPoolResponse> {
        let pool_id = req.user_pool_id.as_str();
        let existing = self.pool(pool_id).await?;
        let settings = pool_settings!(req, req.pool_name.as_deref(), None);
        let pool = self.build_pool(pool_id, &settings, Some(&existing))?;
        if !self.store.update_pool(&pool).await? {
            return Err(CognitoError::pool_not_found(pool_id));
        }
        Ok(UpdateUserPoolResponse::default())
    }

    pub async fn delete_user_pool(&self, _ctx: &RequestContext, req: DeleteUserPoolRequest) -> Result<Empty> {
        let pool_id = req.user_pool_id.as_str();
        let pool = self.pool(pool_id).await?;
        if pool.deletion_protected() {
            return Err(CognitoError::invalid_parameter(
                "The user pool cannot be deleted because deletion protection is activated. \
                 Deletion protection must be inactivated first.",
            ));
        }
        if !self.store.delete_pool(pool_id).await? {
            return Err(CognitoError::pool_not_found(pool_id));
        }
        Ok(Empty {})
    }

    pub async fn list_user_pools(
        &self,
        _ctx: &RequestContext,
        req: ListUserPoolsRequest,
    ) -> Result<ListUserPoolsResponse> {
        let page = Page::checked(Some(req.max_results), 60, req.next_token.as_deref())?;
        let mut pools = self.store.list_pools(page.after.as_deref(), page.fetch_limit()).await?;
        let next = page.finish(&mut pools, |p| p.id.clone());
        let mut items = pools
            .iter()
            .map(|p| {
                let mut d = Map::new();
                for k in ["Id", "Name", "LambdaConfig", "LastModifiedDate", "CreationDate"] {
                    if let Some(v) = p.doc.get(k) {
                        d.insert(k.into(), v.clone());
                    }
                }
                serde_json::from_value::<UserPoolDescriptionType>(Value::Object(d)).map_err(CognitoError::internal)
            })
            .collect::<Result<Vec<_>>>()?;
        // The regions of each pool's secondary replicas (replicas.rs keeps them).
        for item in &mut items {
            if let Some(id) = &item.id {
                let regions = self.replica_regions(id).await?;
                item.replica_regions = (!regions.is_empty()).then_some(regions);
            }
        }
        Ok(ListUserPoolsResponse { user_pools: Some(items), next_token: next })
    }

    pub async fn add_custom_attributes(
        &self,
        _ctx: &RequestContext,
        req: AddCustomAttributesRequest,
    ) -> Result<AddCustomAttributesResponse> {
        let pool_id = req.user_pool_id.as_str();
        let mut pool = self.pool(pool_id).await?;
        let mut schema = pool.schema().to_vec();
        for attr in &req.custom_attributes {
            let entry = custom_attribute(attr)?;
            let name = entry["Name"].as_str().unwrap_or_default().to_owned();
            if schema.iter().any(|a| a["Name"] == name.as_str()) {
                return Err(CognitoError::invalid_parameter(format!(
                    "{name}: Existing attribute already has name {name}."
                )));
            }
            schema.push(entry);
        }
        if count_custom(&schema) > MAX_CUSTOM_ATTRIBUTES {
            return Err(CognitoError::new(
                ErrorKind::LimitExceeded,
                format!("A user pool can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes."),
            ));
        }
        pool.doc_mut().insert("SchemaAttributes".into(), Value::Array(schema));
        pool.doc_mut().insert("LastModifiedDate".into(), self.now_date());
        if !self.store.update_pool(&pool).await? {
            return Err(CognitoError::pool_not_found(pool_id));
        }
        Ok(AddCustomAttributesResponse::default())
    }

    pub async fn get_user_pool_mfa_config(
        &self,
        _ctx: &RequestContext,
        req: GetUserPoolMfaConfigRequest,
    ) -> Result<GetUserPoolMfaConfigResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let view = mfa_view(&pool)?;
        Ok(GetUserPoolMfaConfigResponse {
            sms_mfa_configuration: view.sms_mfa_configuration,
            software_token_mfa_configuration: view.software_token_mfa_configuration,
            email_mfa_configuration: view.email_mfa_configuration,
            mfa_configuration: view.mfa_configuration,
            web_authn_configuration: view.web_authn_configuration,
        })
    }

    pub async fn set_user_pool_mfa_config(
        &self,
        _ctx: &RequestContext,
        req: SetUserPoolMfaConfigRequest,
    ) -> Result<SetUserPoolMfaConfigResponse> {
        let mut pool = self.pool(&req.user_pool_id).await?;
        let configures = req.software_token_mfa_configuration.as_ref().is_some_and(|c| c.enabled == Some(true))
            || req.sms_mfa_configuration.is_some()
            || req.email_mfa_configuration.is_some();
        let mfa = req.mfa_configuration.map_or_else(|| pool.mfa_configuration().to_owned(), |m| m.as_str().to_owned());
        if mfa == "OFF" && configures && req.mfa_configuration.is_some() {
            return Err(CognitoError::invalid_parameter(
                "Invalid MFA configuration given, can't turn off MFA and configure an MFA together.",
            ));
        }
        if mfa != "OFF" && !configures && req.web_authn_configuration.is_none() {
            return Err(CognitoError::invalid_parameter(
                "Invalid MFA configuration given, can't disable all MFAs with a required or optional configuration.",
            ));
        }
        // Observed on AWS: a required MFA leaves passkeys as a first factor only where a verified
        // passkey counts as MFA.
        let web_authn_first = pool
            .doc
            .get("Policies")
            .and_then(|p| p.pointer("/SignInPolicy/AllowedFirstAuthFactors"))
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|x| x == "WEB_AUTHN"));
        let factor_config = req
            .web_authn_configuration
            .as_ref()
            .map(to_json)
            .or_else(|| pool.doc.get("MfaSettings").and_then(|m| m.get("WebAuthnConfiguration")).cloned())
            .and_then(|c| c.get("FactorConfiguration").and_then(Value::as_str).map(str::to_owned));
        if mfa == "ON" && web_authn_first && factor_config.as_deref() != Some("MULTI_FACTOR_WITH_USER_VERIFICATION") {
            return Err(CognitoError::invalid_parameter(
                "Cannot set WebAuthn factor configuration to SINGLE_FACTOR if MFA is required and WebAuthn is an allowed first auth factor",
            ));
        }
        let given = [
            ("SmsMfaConfiguration", req.sms_mfa_configuration.as_ref().map(to_json)),
            ("SoftwareTokenMfaConfiguration", req.software_token_mfa_configuration.as_ref().map(to_json)),
            ("EmailMfaConfiguration", req.email_mfa_configuration.as_ref().map(to_json)),
            ("WebAuthnConfiguration", req.web_authn_configuration.as_ref().map(to_json)),
        ];
        for (key, value) in given {
            if let Some(v) = value {
                let mut meta =
                    pool.doc_mut().remove("MfaSettings").and_then(|m| m.as_object().cloned()).unwrap_or_default();
                meta.insert(key.into(), v);
                pool.doc_mut().insert("MfaSettings".into(), Value::Object(meta));
            }
        }
        if let Some(sms) = &req.sms_mfa_configuration {
            if let Some(msg) = &sms.sms_authentication_message {
                pool.doc_mut().insert("SmsAuthenticationMessage".into(), json!(msg));
            }
            if let Some(cfg) = &sms.sms_configuration {
                pool.doc_mut().insert("SmsConfiguration".into(), to_json(cfg));
            }
        }
        pool.doc_mut().insert("MfaConfiguration".into(), json!(mfa));
        pool.doc_mut().insert("LastModifiedDate".into(), self.now_date());
        self.store.update_pool(&pool).await?;
        mfa_view(&pool)
    }

    /// Builds a pool document from CreateUserPool settings (`existing` = None) or UpdateUserPool
    /// settings (`existing` = the stored pool, whose creation-only members are kept).
    fn build_pool(&self, id: &str, input: &PoolSettings<'_>, existing: Option<&UserPool>) -> Result<UserPool> {
        let now = self.now_date();
        let name = match (input.name, existing) {
            (Some(n), _) => n.to_owned(),
            (None, Some(p)) => p.name().to_owned(),
            (None, None) => String::new(),
        };

        let mut doc = Map::new();
        doc.insert("Id".into(), json!(id));
        doc.insert("Name".into(), json!(name));
        doc.insert("Policies".into(), policies(input.policies)?);
        doc.insert("DeletionProtection".into(), input.deletion_protection.clone().unwrap_or(json!("INACTIVE")));
        doc.insert("LambdaConfig".into(), lambda_config(input.lambda_config)?);
        doc.insert("LastModifiedDate".into(), now.clone());
        let created = existing.and_then(|p| p.doc.get("CreationDate").cloned()).unwrap_or(now.clone());
        doc.insert("CreationDate".into(), created);
        let schema = match existing {
            Some(p) => p.schema().to_vec(),
            None => build_schema(input.creation.as_ref().and_then(|c| c.schema))?,
        };
        doc.insert("SchemaAttributes".into(), Value::Array(schema));

        let creation_only = |k: &str, given: Option<&Value>| match existing {
            Some(p) => p.doc.get(k).cloned(),
            None => given.cloned(),
        };
        let creation = input.creation.as_ref();
        let alias = creation_only("AliasAttributes", creation.and_then(|c| c.alias_attributes.as_ref()));
        let username_attrs = creation_only("UsernameAttributes", creation.and_then(|c| c.username_attributes.as_ref()));
        if existing.is_none() && alias.is_some() && username_attrs.is_some() {
            return Err(CognitoError::invalid_parameter(
                "Only one of the aliasAttributes or usernameAttributes can be set in a User Pool.",
            ));
        }
        for (k, v) in [
            ("AutoVerifiedAttributes", input.auto_verified_attributes.clone()),
            ("AliasAttributes", alias),
            ("UsernameAttributes", username_attrs),
        ] {
            if let Some(v) = v {
                doc.insert(k.into(), v);
            }
        }
        // The flat legacy members and the template describe the same messages: each side is
        // described with what the other was given (the template's member when both are).
        let template = verification_template(input);
        for (k, member) in [
            ("SmsVerificationMessage", "SmsMessage"),
            ("EmailVerificationMessage", "EmailMessage"),
            ("EmailVerificationSubject", "EmailSubject"),
        ] {
            if let Some(v) = template.get(member) {
                doc.insert(k.into(), v.clone());
            }
        }
        doc.insert("VerificationMessageTemplate".into(), template);
        if let Some(v) = input.sms_authentication_message {
            doc.insert("SmsAuthenticationMessage".into(), json!(v));
        }
        doc.insert(
            "UserAttributeUpdateSettings".into(),
            input
                .user_attribute_update_settings
                .clone()
                .unwrap_or(json!({"AttributesRequireVerificationBeforeUpdate": []})),
        );
        let mfa = input.mfa_configuration.map_or(json!("OFF"), |m| json!(m.as_str()));
        doc.insert("MfaConfiguration".into(), mfa);
        if let Some(v) = &input.device_configuration {
            doc.insert("DeviceConfiguration".into(), v.clone());
        }
        doc.insert(
            "EmailConfiguration".into(),
            input.email_configuration.clone().unwrap_or(json!({"EmailSendingAccount": "COGNITO_DEFAULT"})),
        );
        for (k, v) in [("SmsConfiguration", &input.sms_configuration), ("UserPoolTags", &input.user_pool_tags)] {
            if let Some(v) = v {
                doc.insert(k.into(), v.clone());
            }
        }
        if let Some(domain) = existing.and_then(|p| p.doc.get("Domain")) {
            doc.insert("Domain".into(), domain.clone());
        }
        doc.insert("AdminCreateUserConfig".into(), admin_create_user_config(input.admin_create_user_config));
        if let Some(v) = &input.user_pool_add_ons {
            doc.insert("UserPoolAddOns".into(), v.clone());
        }
        if let Some(v) =
            creation_only("UsernameConfiguration", creation.and_then(|c| c.username_configuration.as_ref()))
        {
            doc.insert("UsernameConfiguration".into(), v);
        }
        doc.insert("Arn".into(), json!(self.pool_arn(self.pool_region(id), id)));
        doc.insert(
            "AccountRecoverySetting".into(),
            input.account_recovery_setting.clone().unwrap_or(json!({"RecoveryMechanisms": [
                {"Priority": 1, "Name": "verified_email"},
                {"Priority": 2, "Name": "verified_phone_number"}
            ]})),
        );
        let tier = input
            .user_pool_tier
            .clone()
            .or_else(|| existing.and_then(|p| p.doc.get("UserPoolTier").cloned()))
            .unwrap_or(json!("ESSENTIALS"));
        doc.insert("UserPoolTier".into(), tier);
        for (k, given) in &input.newer {
            if let Some(v) = given.clone().or_else(|| existing.and_then(|p| p.doc.get(*k).cloned())) {
                doc.insert((*k).into(), v);
            }
        }
        // MFA factor settings and the session configuration live beside the document;
        // UpdateUserPool leaves them alone.
        for member in ["MfaSettings", super::user_sessions::POOL_CONFIG_MEMBER] {
            if let Some(m) = existing.and_then(|p| p.doc.get(member)) {
                doc.insert(member.into(), m.clone());
            }
        }
        Ok(UserPool { id: id.to_owned(), doc: doc.into() })
    }
}

/// The pool's MFA settings as Get/SetUserPoolMfaConfig answer them.
fn mfa_view(pool: &UserPool) -> Result<SetUserPoolMfaConfigResponse> {
    let mut out = Map::new();
    if let Some(settings) = pool.doc.get("MfaSettings").and_then(Value::as_object) {
        for key in
            ["SmsMfaConfiguration", "SoftwareTokenMfaConfiguration", "EmailMfaConfiguration", "WebAuthnConfiguration"]
        {
            if let Some(v) = settings.get(key) {
                out.insert(key.into(), v.clone());
            }
        }
    }
    out.insert("MfaConfiguration".into(), json!(pool.mfa_configuration()));
    serde_json::from_value(Value::Object(out)).map_err(CognitoError::internal)
}

fn policies(given: Option<&UserPoolPolicyType>) -> Result<Value> {
    let first = given.and_then(|g| g.sign_in_policy.as_ref()).and_then(|s| s.allowed_first_auth_factors.as_ref());
    // The model: SOFTWARE_TOKEN is an MFA factor only. (Cognito's wording is unconfirmed.)
    if first.is_some_and(|f| f.contains(&AuthFactorType::SoftwareToken)) {
        return Err(CognitoError::invalid_parameter(
            "SOFTWARE_TOKEN is not supported as a first auth factor in AllowedFirstAuthFactors.",
        ));
    }
    let mut pw = json!({
        "MinimumLength": 8, "RequireUppercase": true, "RequireLowercase": true,
        "RequireNumbers": true, "RequireSymbols": true, "TemporaryPasswordValidityDays": 7
    });
    if let Some(p) = given.and_then(|g| g.password_policy.as_ref()) {
        // A policy the caller gave replaces the default wholesale: unset requirements are off.
        let mut m = Map::new();
        m.insert("MinimumLength".into(), json!(p.minimum_length.unwrap_or(8)));
        for (k, v) in [
            ("RequireUppercase", p.require_uppercase),
            ("RequireLowercase", p.require_lowercase),
            ("RequireNumbers", p.require_numbers),
            ("RequireSymbols", p.require_symbols),
        ] {
            m.insert(k.into(), json!(v.unwrap_or(false)));
        }
        if let Some(h) = p.password_history_size {
            m.insert("PasswordHistorySize".into(), json!(h));
        }
        let days = p.temporary_password_validity_days.filter(|d| *d > 0).unwrap_or(7);
        m.insert("TemporaryPasswordValidityDays".into(), json!(days));
        pw = Value::Object(m);
    }
    let sign_in =
        given.and_then(|g| g.sign_in_policy.as_ref()).map_or(json!({"AllowedFirstAuthFactors": ["PASSWORD"]}), to_json);
    Ok(json!({ "PasswordPolicy": pw, "SignInPolicy": sign_in }))
}

fn lambda_config(given: Option<&LambdaConfigType>) -> Result<Value> {
    let Some(cfg) = given else { return Ok(json!({})) };
    let versioned = cfg.pre_token_generation_config.as_ref().map(|c| c.lambda_arn.as_str());
    if let (Some(a), Some(b)) = (cfg.pre_token_generation.as_deref(), versioned) {
        if a != b {
            return Err(CognitoError::invalid_parameter(
                "The Lambda ARNs of PreTokenGeneration and PreTokenGenerationConfig must be the same.",
            ));
        }
    }
    for (key, given) in
        [("CustomEmailSender", cfg.custom_email_sender.is_some()), ("CustomSMSSender", cfg.custom_sms_sender.is_some())]
    {
        if given && cfg.kms_key_id.is_none() {
            return Err(CognitoError::invalid_parameter(format!("KMSKeyID must be provided to use {key}.")));
        }
    }
    Ok(to_json(cfg))
}

fn verification_template(input: &PoolSettings<'_>) -> Value {
    let mut t =
        input.verification_message_template.map(to_json).and_then(|v| v.as_object().cloned()).unwrap_or_default();
    // The flat legacy members and the template describe the same messages.
    for (flat, member) in [
        (input.sms_verification_message, "SmsMessage"),
        (input.email_verification_message, "EmailMessage"),
        (input.email_verification_subject, "EmailSubject"),
    ] {
        if let Some(v) = flat {
            t.entry(member).or_insert_with(|| json!(v));
        }
    }
    t.entry("DefaultEmailOption").or_insert(json!("CONFIRM_WITH_CODE"));
    Value::Object(t)
}

fn admin_create_user_config(given: Option<&AdminCreateUserConfigType>) -> Value {
    let mut c = given.map(to_json).and_then(|v| v.as_object().cloned()).unwrap_or_default();
    c.entry("AllowAdminCreateUserOnly").or_insert(json!(false));
    let days = given.and_then(|g| g.unused_account_validity_days).filter(|d| *d > 0).unwrap_or(7);
    c.insert("UnusedAccountValidityDays".into(), json!(days));
    Value::Object(c)
}

fn build_schema(given: Option<&[SchemaAttributeType]>) -> Result<Vec<Value>> {
    let mut schema = standard_schema();
    let mut seen = std::collections::HashSet::new();
    for attr in given.unwrap_or_default() {
        let name = attr.name.as_deref().unwrap_or_default();
        if !seen.insert(name.to_owned()) {
            return Err(CognitoError::invalid_parameter(format!("Duplicate attribute name {name} in the schema.")));
        }
        if STANDARD_ATTRIBUTES.contains(&name) {
            // `identities` is standard but not in a fresh pool's schema: it is added when named.
            if !schema.iter().any(|a| a["Name"] == name) {
                schema.push(json!({
                    "Name": name, "AttributeDataType": "String", "DeveloperOnlyAttribute": false,
                    "Mutable": true, "Required": false, "StringAttributeConstraints": {}
                }));
            }
            let Some(entry) = schema.iter_mut().find(|a| a["Name"] == name).and_then(Value::as_object_mut) else {
                continue;
            };
            // A standard attribute keeps its type and is never developer-only.
            let fixed = entry.get("AttributeDataType").and_then(Value::as_str).unwrap_or("String");
            let retyped = attr.attribute_data_type.as_ref().is_some_and(|t| t.as_str() != fixed);
            if retyped || attr.developer_only_attribute == Some(true) {
                return Err(CognitoError::invalid_parameter(format!(
                    "You can not change AttributeDataType or set developerOnlyAttribute for standard schema attribute {name}"
                )));
            }
            check_constraints(name, attr)?;
            for (k, v) in [
                ("Mutable", attr.mutable),
                ("Required", attr.required),
                ("DeveloperOnlyAttribute", attr.developer_only_attribute),
            ] {
                if let Some(v) = v {
                    entry.insert(k.into(), json!(v));
                }
            }
            if let Some(c) = &attr.string_attribute_constraints {
                entry.insert("StringAttributeConstraints".into(), to_json(c));
            }
            if let Some(c) = &attr.number_attribute_constraints {
                entry.insert("NumberAttributeConstraints".into(), to_json(c));
            }
        } else {
            schema.push(custom_attribute(attr)?);
        }
    }
    if count_custom(&schema) > MAX_CUSTOM_ATTRIBUTES {
        return Err(CognitoError::new(
            ErrorKind::LimitExceeded,
            format!("A user pool can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes."),
        ));
    }
    Ok(schema)
}

fn count_custom(schema: &[Value]) -> usize {
    schema
        .iter()
        .filter(|a| a["Name"].as_str().is_some_and(|n| n.starts_with("custom:") || n.starts_with("dev:")))
        .count()
}

/// A custom attribute's schema entry, named `custom:<name>` (`dev:custom:<name>` when only
/// developers may see it).
fn custom_attribute(attr: &SchemaAttributeType) -> Result<Value> {
    // Cognito prefixes whatever name it is given: `custom:x` becomes `custom:custom:x`.
    let bare = attr.name.as_deref().unwrap_or_default();
    if attr.required == Some(true) {
        return Err(CognitoError::invalid_parameter("Required custom attributes are not supported currently."));
    }
    let developer_only = attr.developer_only_attribute.unwrap_or(false);
    let Some(data_type) = attr.attribute_data_type else {
        return Err(CognitoError::invalid_parameter(
            "Invalid AttributeDataType input, consider using the provided AttributeDataType enum.",
        ));
    };
    let name = if developer_only { format!("dev:custom:{bare}") } else { format!("custom:{bare}") };
    check_constraints(&format!("custom:{bare}"), attr)?;
    let mut e = Map::new();
    e.insert("Name".into(), json!(name));
    e.insert("AttributeDataType".into(), json!(data_type.as_str()));
    e.insert("DeveloperOnlyAttribute".into(), json!(developer_only));
    e.insert("Mutable".into(), json!(attr.mutable.unwrap_or(true)));
    e.insert("Required".into(), json!(false));
    match data_type.as_str() {
        "String" => {
            let c = attr.string_attribute_constraints.as_ref().map_or(json!({}), to_json);
            e.insert("StringAttributeConstraints".into(), c);
        }
        "Number" => {
            let c = attr.number_attribute_constraints.as_ref().map_or(json!({}), to_json);
            e.insert("NumberAttributeConstraints".into(), c);
        }
        _ => {}
    }
    Ok(Value::Object(e))
}

/// Length and value bounds of a schema attribute: string lengths within 0–2048, minimum not above
/// maximum. Messages as Cognito words them, `user.<attribute>: …`.
fn check_constraints(name: &str, attr: &SchemaAttributeType) -> Result<()> {
    fn number(v: Option<&String>) -> Option<f64> {
        v.and_then(|s| s.trim().parse::<f64>().ok())
    }
    if let Some(c) = &attr.string_attribute_constraints {
        let (min, max) = (number(c.min_length.as_ref()), number(c.max_length.as_ref()));
        if [min, max].into_iter().flatten().any(|n| n > 2048.0) {
            return Err(CognitoError::invalid_parameter(format!(
                "user.{name}: String attributes cannot have a length of more than 2048"
            )));
        }
        if [min, max].into_iter().flatten().any(|n| n < 0.0) {
            return Err(CognitoError::invalid_parameter(format!(
                "user.{name}: String attributes cannot have a negative length"
            )));
        }
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                return Err(CognitoError::invalid_parameter(format!(
                    "user.{name}: Max length cannot be less than min length."
                )));
            }
        }
    }
    if let Some(c) = &attr.number_attribute_constraints {
        if let (Some(min), Some(max)) = (number(c.min_value.as_ref()), number(c.max_value.as_ref())) {
            if min > max {
                return Err(CognitoError::invalid_parameter(format!(
                    "user.{name}: Max value cannot be less than min value."
                )));
            }
        }
    }
    Ok(())
}
