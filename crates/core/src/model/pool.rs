//! User pools: the stored document and the typed views the service needs.

use serde_json::{json, Value};

use std::sync::Arc;

use super::{get_bool, get_i64, get_obj, get_str, get_str_list, Doc};

/// A user pool as stored: its id and its `UserPoolType` document (without the computed
/// `EstimatedNumberOfUsers`).
#[derive(Debug, Clone, PartialEq)]
pub struct UserPool {
    pub id: String,
    /// Shared: a document read again unchanged is not parsed again (the store keeps the
    /// parsed documents of recent reads); writers change their own copy (`Arc::make_mut`).
    pub doc: Arc<Doc>,
}

/// The pool's password rules, with Cognito's defaults for members the caller left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub minimum_length: u32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
    pub temporary_password_validity_days: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            minimum_length: 8,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
            temporary_password_validity_days: 7,
        }
    }
}

impl UserPool {
    /// The document, to change (copied first if another reader shares it).
    pub fn doc_mut(&mut self) -> &mut Doc {
        Arc::make_mut(&mut self.doc)
    }

    pub fn name(&self) -> &str {
        get_str(&self.doc, "Name").unwrap_or_default()
    }

    pub fn arn(&self) -> &str {
        get_str(&self.doc, "Arn").unwrap_or_default()
    }

    /// Whether only administrators may create users (`AdminCreateUserConfig`).
    pub fn admin_create_user_only(&self) -> bool {
        get_obj(&self.doc, "AdminCreateUserConfig").and_then(|c| get_bool(c, "AllowAdminCreateUserOnly")) == Some(true)
    }

    pub fn deletion_protected(&self) -> bool {
        get_str(&self.doc, "DeletionProtection") == Some("ACTIVE")
    }

    /// A member of the pool's `LambdaConfig`, if set.
    pub fn lambda_config(&self, member: &str) -> Option<&Value> {
        get_obj(&self.doc, "LambdaConfig")?.get(member)
    }

    pub fn mfa_configuration(&self) -> &str {
        get_str(&self.doc, "MfaConfiguration").unwrap_or("OFF")
    }

    pub fn password_policy(&self) -> PasswordPolicy {
        let d = PasswordPolicy::default();
        let Some(p) = get_obj(&self.doc, "Policies").and_then(|p| get_obj(p, "PasswordPolicy")) else {
            return d;
        };
        let days = get_i64(p, "TemporaryPasswordValidityDays").unwrap_or(0);
        PasswordPolicy {
            minimum_length: get_i64(p, "MinimumLength").map_or(d.minimum_length, |v| v as u32),
            require_uppercase: get_bool(p, "RequireUppercase").unwrap_or(false),
            require_lowercase: get_bool(p, "RequireLowercase").unwrap_or(false),
            require_numbers: get_bool(p, "RequireNumbers").unwrap_or(false),
            require_symbols: get_bool(p, "RequireSymbols").unwrap_or(false),
            // 0 means "the default" in Cognito's model.
            temporary_password_validity_days: if days > 0 { days as u32 } else { 7 },
        }
    }

    pub fn username_attributes(&self) -> Vec<String> {
        get_str_list(&self.doc, "UsernameAttributes")
    }

    pub fn alias_attributes(&self) -> Vec<String> {
        get_str_list(&self.doc, "AliasAttributes")
    }

    pub fn auto_verified_attributes(&self) -> Vec<String> {
        get_str_list(&self.doc, "AutoVerifiedAttributes")
    }

    /// Usernames are case-insensitive unless the pool says otherwise (Cognito's default for
    /// new pools is case-insensitive).
    pub fn case_sensitive(&self) -> bool {
        get_obj(&self.doc, "UsernameConfiguration").and_then(|c| get_bool(c, "CaseSensitive")).unwrap_or(false)
    }

    pub fn schema(&self) -> &[Value] {
        self.doc.get("SchemaAttributes").and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }

    /// The names of the attributes every user must have (`sub` aside, which cognate sets).
    pub fn required_attributes(&self) -> impl Iterator<Item = &str> {
        self.schema()
            .iter()
            .filter(|a| a.get("Required").and_then(Value::as_bool) == Some(true))
            .filter_map(|a| a.get("Name").and_then(Value::as_str))
            .filter(|n| *n != "sub")
    }

    /// The schema entry for an attribute (`email`, `custom:team`, …).
    pub fn schema_attribute(&self, name: &str) -> Option<&Doc> {
        self.schema().iter().filter_map(Value::as_object).find(|a| get_str(a, "Name") == Some(name))
    }
}

/// The standard attributes every pool has, in the order Cognito lists them.
pub fn standard_schema() -> Vec<Value> {
    fn string(name: &str, mutable: bool, required: bool, min: &str, max: &str) -> Value {
        json!({
            "Name": name, "AttributeDataType": "String", "DeveloperOnlyAttribute": false,
            "Mutable": mutable, "Required": required,
            "StringAttributeConstraints": {"MinLength": min, "MaxLength": max}
        })
    }
    fn boolean(name: &str) -> Value {
        json!({"Name": name, "AttributeDataType": "Boolean", "DeveloperOnlyAttribute": false,
               "Mutable": true, "Required": false})
    }
    let mut out = vec![string("sub", false, true, "1", "2048")];
    for n in [
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "email",
    ] {
        out.push(string(n, true, false, "0", "2048"));
    }
    out.push(boolean("email_verified"));
    out.push(string("gender", true, false, "0", "2048"));
    out.push(string("birthdate", true, false, "10", "10"));
    for n in ["zoneinfo", "locale", "phone_number"] {
        out.push(string(n, true, false, "0", "2048"));
    }
    out.push(boolean("phone_number_verified"));
    out.push(string("address", true, false, "0", "2048"));
    out.push(json!({
        "Name": "updated_at", "AttributeDataType": "Number", "DeveloperOnlyAttribute": false,
        "Mutable": true, "Required": false, "NumberAttributeConstraints": {"MinValue": "0"}
    }));
    out
}

pub const STANDARD_ATTRIBUTES: &[&str] = &[
    "sub",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
    "identities",
];
