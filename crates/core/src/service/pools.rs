//! User-pool management: create, describe, update, delete, list, custom attributes, MFA config.

use serde_json::{json, Map, Value};

use super::paging::{with_token, Page};
use super::Service;
use crate::error::{CognitoError, ErrorKind, Result, StoreError};
use crate::ids;
use crate::model::pool::{standard_schema, STANDARD_ATTRIBUTES};
use crate::model::{field, Doc, UserPool};

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


impl Service {
    /// Loads a pool or fails with Cognito's "does not exist" error.
    pub async fn pool(&self, pool_id: &str) -> Result<UserPool> {
        self.store.get_pool(pool_id).await?.ok_or_else(|| CognitoError::pool_not_found(pool_id))
    }

    async fn described(&self, pool: UserPool) -> Result<Value> {
        let users = self.store.count_users(&pool.id).await?;
        let mut doc = pool.doc;
        // Keep Cognito's member order: the estimate sits after DeviceConfiguration.
        let mut out = Map::new();
        let mut placed = false;
        for (k, v) in doc.iter_mut() {
            if k == "MfaSettings" {
                continue;
            }
            if !placed && matches!(k.as_str(), "EmailConfiguration" | "Arn") {
                out.insert("EstimatedNumberOfUsers".into(), json!(users));
                placed = true;
            }
            out.insert(k.clone(), v.take());
        }
        if !placed {
            out.insert("EstimatedNumberOfUsers".into(), json!(users));
        }
        Ok(Value::Object(out))
    }

    /// CreateUserPool; `fixed_id` comes from configuration files only.
    pub async fn create_user_pool(&self, input: Doc, fixed_id: Option<&str>) -> Result<Value> {
        let id = fixed_id.map(str::to_owned).unwrap_or_else(|| ids::pool_id(&self.config.region));
        let pool = self.build_pool(&id, &input, None)?;
        match self.store.insert_pool(&pool).await {
            Ok(()) => self.create_pool_keys(&id).await?,
            Err(StoreError::Conflict) => {
                return Err(CognitoError::invalid_parameter(format!(
                    "User pool {id} already exists."
                )))
            }
            Err(e) => return Err(e.into()),
        }
        Ok(json!({ "UserPool": self.described(pool).await? }))
    }

    /// Makes the stored pool match a declaration (CreateUserPool input shape): created when
    /// missing (found by `fixed_id`, else by name), replaced when any member differs.
    pub async fn apply_pool(&self, input: Doc, fixed_id: Option<&str>) -> Result<(String, ApplyOutcome)> {
        let name = crate::model::get_str(&input, "PoolName").unwrap_or_default().to_owned();
        let existing = match fixed_id {
            Some(id) => self.store.get_pool(id).await?,
            None => self.find_pool_by_name(&name).await?,
        };
        let Some(existing) = existing else {
            let created = self.create_user_pool(input, fixed_id).await?;
            let id = created["UserPool"]["Id"].as_str().unwrap_or_default().to_owned();
            return Ok((id, ApplyOutcome::Created));
        };
        let mut wanted = self.build_pool(&existing.id, &input, None)?;
        for keep in ["CreationDate", "LastModifiedDate", "MfaSettings", "Domain"] {
            match existing.doc.get(keep) {
                Some(v) => wanted.doc.insert(keep.into(), v.clone()),
                None => wanted.doc.remove(keep),
            };
        }
        if same_members(&wanted.doc, &existing.doc) {
            return Ok((existing.id, ApplyOutcome::Unchanged));
        }
        wanted.doc.insert("LastModifiedDate".into(), self.now_date());
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

    pub async fn describe_user_pool(&self, pool_id: &str) -> Result<Value> {
        let pool = self.pool(pool_id).await?;
        Ok(json!({ "UserPool": self.described(pool).await? }))
    }

    pub async fn update_user_pool(&self, input: Doc) -> Result<Value> {
        let pool_id = field(&input, "UserPoolId").to_owned();
        let existing = self.pool(&pool_id).await?;
        let pool = self.build_pool(&pool_id, &input, Some(&existing))?;
        if !self.store.update_pool(&pool).await? {
            return Err(CognitoError::pool_not_found(&pool_id));
        }
        Ok(json!({}))
    }

    pub async fn delete_user_pool(&self, pool_id: &str) -> Result<Value> {
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
        Ok(json!({}))
    }

    pub async fn list_user_pools(&self, max_results: Option<i64>, token: Option<&str>) -> Result<Value> {
        let page = Page::new(max_results, 60, token);
        let mut pools = self.store.list_pools(page.after.as_deref(), page.fetch_limit()).await?;
        let next = page.finish(&mut pools, |p| p.id.clone());
        let items: Vec<Value> = pools
            .iter()
            .map(|p| {
                let mut d = Map::new();
                for k in ["Id", "Name", "LambdaConfig", "LastModifiedDate", "CreationDate"] {
                    if let Some(v) = p.doc.get(k) {
                        d.insert(k.into(), v.clone());
                    }
                }
                Value::Object(d)
            })
            .collect();
        let mut out = Map::new();
        out.insert("UserPools".into(), Value::Array(items));
        Ok(with_token(out, "NextToken", next))
    }

    pub async fn add_custom_attributes(&self, pool_id: &str, attributes: &[Value]) -> Result<Value> {
        let mut pool = self.pool(pool_id).await?;
        let mut schema = pool.schema().to_vec();
        for attr in attributes.iter().filter_map(Value::as_object) {
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
        pool.doc.insert("SchemaAttributes".into(), Value::Array(schema));
        pool.doc.insert("LastModifiedDate".into(), self.now_date());
        if !self.store.update_pool(&pool).await? {
            return Err(CognitoError::pool_not_found(pool_id));
        }
        Ok(json!({}))
    }

    pub async fn get_user_pool_mfa_config(&self, pool_id: &str) -> Result<Value> {
        let pool = self.pool(pool_id).await?;
        Ok(mfa_view(&pool))
    }

    pub async fn set_user_pool_mfa_config(&self, input: Doc) -> Result<Value> {
        let pool_id = field(&input, "UserPoolId").to_owned();
        let mut pool = self.pool(&pool_id).await?;
        let enabled = |key: &str| {
            input.get(key).and_then(|c| c.get("Enabled")).and_then(Value::as_bool) == Some(true)
        };
        let configures = enabled("SoftwareTokenMfaConfiguration")
            || input.contains_key("SmsMfaConfiguration")
            || input.contains_key("EmailMfaConfiguration");
        let mfa = crate::model::get_str(&input, "MfaConfiguration").unwrap_or_else(|| pool.mfa_configuration()).to_owned();
        if mfa == "OFF" && configures && input.contains_key("MfaConfiguration") {
            return Err(CognitoError::invalid_parameter(
                "Invalid MFA configuration given, can't turn off MFA and configure an MFA together.",
            ));
        }
        if mfa != "OFF" && !configures && !input.contains_key("WebAuthnConfiguration") {
            return Err(CognitoError::invalid_parameter(
                "Invalid MFA configuration given, can't disable all MFAs with a required or optional configuration.",
            ));
        }
        for key in ["SmsMfaConfiguration", "SoftwareTokenMfaConfiguration", "EmailMfaConfiguration", "WebAuthnConfiguration"] {
            if let Some(v) = input.get(key) {
                let mut meta = pool.doc.remove("MfaSettings").and_then(|m| m.as_object().cloned()).unwrap_or_default();
                meta.insert(key.into(), v.clone());
                pool.doc.insert("MfaSettings".into(), Value::Object(meta));
            }
        }
        if let Some(sms) = input.get("SmsMfaConfiguration").and_then(Value::as_object) {
            if let Some(msg) = sms.get("SmsAuthenticationMessage") {
                pool.doc.insert("SmsAuthenticationMessage".into(), msg.clone());
            }
            if let Some(cfg) = sms.get("SmsConfiguration") {
                pool.doc.insert("SmsConfiguration".into(), cfg.clone());
            }
        }
        pool.doc.insert("MfaConfiguration".into(), json!(mfa));
        pool.doc.insert("LastModifiedDate".into(), self.now_date());
        self.store.update_pool(&pool).await?;
        Ok(mfa_view(&pool))
    }

    /// Builds a pool document from CreateUserPool input (`existing` = None) or UpdateUserPool
    /// input (`existing` = the stored pool, whose creation-only members are kept).
    fn build_pool(&self, id: &str, input: &Doc, existing: Option<&UserPool>) -> Result<UserPool> {
        let now = self.now_date();
        let get = |k: &str| input.get(k).cloned();
        let name = match (crate::model::get_str(input, "PoolName"), existing) {
            (Some(n), _) => n.to_owned(),
            (None, Some(p)) => p.name().to_owned(),
            (None, None) => String::new(),
        };

        let mut doc = Map::new();
        doc.insert("Id".into(), json!(id));
        doc.insert("Name".into(), json!(name));
        doc.insert("Policies".into(), policies(input.get("Policies")));
        doc.insert("DeletionProtection".into(), get("DeletionProtection").unwrap_or(json!("INACTIVE")));
        doc.insert("LambdaConfig".into(), lambda_config(input.get("LambdaConfig"))?);
        doc.insert("LastModifiedDate".into(), now.clone());
        let created = existing.and_then(|p| p.doc.get("CreationDate").cloned()).unwrap_or(now.clone());
        doc.insert("CreationDate".into(), created);
        let schema = match existing {
            Some(p) => p.schema().to_vec(),
            None => build_schema(input.get("Schema").and_then(Value::as_array))?,
        };
        doc.insert("SchemaAttributes".into(), Value::Array(schema));

        let creation_only = |k: &str| match existing {
            Some(p) => p.doc.get(k).cloned(),
            None => get(k),
        };
        let alias = creation_only("AliasAttributes");
        let username_attrs = creation_only("UsernameAttributes");
        if existing.is_none() && alias.is_some() && username_attrs.is_some() {
            return Err(CognitoError::invalid_parameter(
                "Only one of the aliasAttributes or usernameAttributes can be set in a User Pool.",
            ));
        }
        for (k, v) in [("AutoVerifiedAttributes", get("AutoVerifiedAttributes")), ("AliasAttributes", alias), ("UsernameAttributes", username_attrs)] {
            if let Some(v) = v {
                doc.insert(k.into(), v);
            }
        }
        for k in ["SmsVerificationMessage", "EmailVerificationMessage", "EmailVerificationSubject"] {
            if let Some(v) = get(k) {
                doc.insert(k.into(), v);
            }
        }
        doc.insert("VerificationMessageTemplate".into(), verification_template(input));
        if let Some(v) = get("SmsAuthenticationMessage") {
            doc.insert("SmsAuthenticationMessage".into(), v);
        }
        doc.insert(
            "UserAttributeUpdateSettings".into(),
            get("UserAttributeUpdateSettings")
                .unwrap_or(json!({"AttributesRequireVerificationBeforeUpdate": []})),
        );
        let mfa = get("MfaConfiguration").unwrap_or(json!("OFF"));
        doc.insert("MfaConfiguration".into(), mfa);
        if let Some(v) = get("DeviceConfiguration") {
            doc.insert("DeviceConfiguration".into(), v);
        }
        doc.insert(
            "EmailConfiguration".into(),
            get("EmailConfiguration").unwrap_or(json!({"EmailSendingAccount": "COGNITO_DEFAULT"})),
        );
        for k in ["SmsConfiguration", "UserPoolTags"] {
            if let Some(v) = get(k) {
                doc.insert(k.into(), v);
            }
        }
        if let Some(domain) = existing.and_then(|p| p.doc.get("Domain")) {
            doc.insert("Domain".into(), domain.clone());
        }
        doc.insert("AdminCreateUserConfig".into(), admin_create_user_config(input.get("AdminCreateUserConfig")));
        if let Some(v) = get("UserPoolAddOns") {
            doc.insert("UserPoolAddOns".into(), v);
        }
        if let Some(v) = creation_only("UsernameConfiguration") {
            doc.insert("UsernameConfiguration".into(), v);
        }
        doc.insert(
            "Arn".into(),
            json!(format!("arn:aws:cognito-idp:{}:{}:userpool/{id}", self.config.region, self.config.account_id)),
        );
        doc.insert(
            "AccountRecoverySetting".into(),
            get("AccountRecoverySetting").unwrap_or(json!({"RecoveryMechanisms": [
                {"Priority": 1, "Name": "verified_email"},
                {"Priority": 2, "Name": "verified_phone_number"}
            ]})),
        );
        let tier = get("UserPoolTier")
            .or_else(|| existing.and_then(|p| p.doc.get("UserPoolTier").cloned()))
            .unwrap_or(json!("ESSENTIALS"));
        doc.insert("UserPoolTier".into(), tier);
        // MFA factor settings live beside the document; UpdateUserPool leaves them alone.
        if let Some(m) = existing.and_then(|p| p.doc.get("MfaSettings")) {
            doc.insert("MfaSettings".into(), m.clone());
        }
        Ok(UserPool { id: id.to_owned(), doc })
    }
}

fn mfa_view(pool: &UserPool) -> Value {
    let mut out = Map::new();
    let settings = pool.doc.get("MfaSettings").and_then(Value::as_object);
    if let Some(sms) = settings.and_then(|s| s.get("SmsMfaConfiguration")) {
        out.insert("SmsMfaConfiguration".into(), sms.clone());
    }
    for key in ["SoftwareTokenMfaConfiguration", "EmailMfaConfiguration"] {
        if let Some(v) = settings.and_then(|s| s.get(key)) {
            out.insert(key.into(), v.clone());
        }
    }
    out.insert("MfaConfiguration".into(), json!(pool.mfa_configuration()));
    if let Some(v) = settings.and_then(|s| s.get("WebAuthnConfiguration")) {
        out.insert("WebAuthnConfiguration".into(), v.clone());
    }
    Value::Object(out)
}

fn policies(given: Option<&Value>) -> Value {
    let given = given.and_then(Value::as_object);
    let mut pw = json!({
        "MinimumLength": 8, "RequireUppercase": true, "RequireLowercase": true,
        "RequireNumbers": true, "RequireSymbols": true, "TemporaryPasswordValidityDays": 7
    });
    if let Some(p) = given.and_then(|g| g.get("PasswordPolicy")).and_then(Value::as_object) {
        // A policy the caller gave replaces the default wholesale: unset requirements are off.
        let mut m = Map::new();
        m.insert("MinimumLength".into(), p.get("MinimumLength").cloned().unwrap_or(json!(8)));
        for k in ["RequireUppercase", "RequireLowercase", "RequireNumbers", "RequireSymbols"] {
            m.insert(k.into(), p.get(k).cloned().unwrap_or(json!(false)));
        }
        if let Some(h) = p.get("PasswordHistorySize") {
            m.insert("PasswordHistorySize".into(), h.clone());
        }
        let days = p.get("TemporaryPasswordValidityDays").and_then(Value::as_i64).filter(|d| *d > 0).unwrap_or(7);
        m.insert("TemporaryPasswordValidityDays".into(), json!(days));
        pw = Value::Object(m);
    }
    let sign_in = given
        .and_then(|g| g.get("SignInPolicy"))
        .cloned()
        .unwrap_or(json!({"AllowedFirstAuthFactors": ["PASSWORD"]}));
    json!({ "PasswordPolicy": pw, "SignInPolicy": sign_in })
}

fn lambda_config(given: Option<&Value>) -> Result<Value> {
    let Some(cfg) = given.and_then(Value::as_object) else { return Ok(json!({})) };
    let legacy = cfg.get("PreTokenGeneration").and_then(Value::as_str);
    let versioned = cfg.get("PreTokenGenerationConfig").and_then(|c| c.get("LambdaArn")).and_then(Value::as_str);
    if let (Some(a), Some(b)) = (legacy, versioned) {
        if a != b {
            return Err(CognitoError::invalid_parameter(
                "The Lambda ARNs of PreTokenGeneration and PreTokenGenerationConfig must be the same.",
            ));
        }
    }
    for key in ["CustomEmailSender", "CustomSMSSender"] {
        if cfg.contains_key(key) && !cfg.contains_key("KMSKeyID") {
            return Err(CognitoError::invalid_parameter(format!(
                "KMSKeyID must be provided to use {key}."
            )));
        }
    }
    Ok(Value::Object(cfg.clone()))
}

fn verification_template(input: &Doc) -> Value {
    let mut t = input
        .get("VerificationMessageTemplate")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    // The flat legacy members and the template describe the same messages.
    for (flat, member) in [
        ("SmsVerificationMessage", "SmsMessage"),
        ("EmailVerificationMessage", "EmailMessage"),
        ("EmailVerificationSubject", "EmailSubject"),
    ] {
        if let Some(v) = input.get(flat) {
            t.entry(member).or_insert_with(|| v.clone());
        }
    }
    t.entry("DefaultEmailOption").or_insert(json!("CONFIRM_WITH_CODE"));
    Value::Object(t)
}

fn admin_create_user_config(given: Option<&Value>) -> Value {
    let mut c = given.and_then(Value::as_object).cloned().unwrap_or_default();
    c.entry("AllowAdminCreateUserOnly").or_insert(json!(false));
    let days = c.get("UnusedAccountValidityDays").and_then(Value::as_i64).filter(|d| *d > 0).unwrap_or(7);
    c.insert("UnusedAccountValidityDays".into(), json!(days));
    Value::Object(c)
}

fn build_schema(given: Option<&Vec<Value>>) -> Result<Vec<Value>> {
    let mut schema = standard_schema();
    let mut seen = std::collections::HashSet::new();
    for attr in given.into_iter().flatten().filter_map(Value::as_object) {
        let name = attr.get("Name").and_then(Value::as_str).unwrap_or_default();
        if !seen.insert(name.to_owned()) {
            return Err(CognitoError::invalid_parameter(format!(
                "Duplicate attribute name {name} in the schema."
            )));
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
            for k in ["Mutable", "Required", "DeveloperOnlyAttribute"] {
                if let Some(v) = attr.get(k) {
                    entry.insert(k.into(), v.clone());
                }
            }
            for k in ["StringAttributeConstraints", "NumberAttributeConstraints"] {
                if let Some(v) = attr.get(k) {
                    entry.insert(k.into(), v.clone());
                }
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
fn custom_attribute(attr: &Doc) -> Result<Value> {
    // Cognito prefixes whatever name it is given: `custom:x` becomes `custom:custom:x`.
    let bare = attr.get("Name").and_then(Value::as_str).unwrap_or_default();
    if attr.get("Required").and_then(Value::as_bool) == Some(true) {
        return Err(CognitoError::invalid_parameter(
            "Required custom attributes are not supported currently.",
        ));
    }
    let developer_only = attr.get("DeveloperOnlyAttribute").and_then(Value::as_bool).unwrap_or(false);
    let Some(data_type) = attr.get("AttributeDataType").and_then(Value::as_str) else {
        return Err(CognitoError::invalid_parameter(
            "Invalid AttributeDataType input, consider using the provided AttributeDataType enum.",
        ));
    };
    let name = if developer_only { format!("dev:custom:{bare}") } else { format!("custom:{bare}") };
    let mut e = Map::new();
    e.insert("Name".into(), json!(name));
    e.insert("AttributeDataType".into(), json!(data_type));
    e.insert("DeveloperOnlyAttribute".into(), json!(developer_only));
    e.insert("Mutable".into(), attr.get("Mutable").cloned().unwrap_or(json!(true)));
    e.insert("Required".into(), json!(false));
    match data_type {
        "String" => {
            let c = attr.get("StringAttributeConstraints").cloned().unwrap_or(json!({}));
            e.insert("StringAttributeConstraints".into(), c);
        }
        "Number" => {
            let c = attr.get("NumberAttributeConstraints").cloned().unwrap_or(json!({}));
            e.insert("NumberAttributeConstraints".into(), c);
        }
        _ => {}
    }
    Ok(Value::Object(e))
}
