//! User attributes: checking writes against the pool's schema and the client's permissions,
//! and building the views callers may read.

use serde_json::Value;

use cognate_api::AttributeType;

use crate::error::{CognitoError, Result};
use crate::model::{AppClient, User, UserPool};

/// Who is writing attributes.
#[derive(Clone, Copy)]
pub(crate) enum Writer<'a> {
    /// An administrator (SigV4 caller).
    Admin,
    /// A user through an app client (SignUp, UpdateUserAttributes).
    Client(&'a AppClient),
}

/// Cognito's refusal of attributes that break the schema: every offending attribute, one per
/// line, as `name: reason` (observed in SignUp refusals listing several required attributes;
/// UNVERIFIED: whether Cognito ends the message with a newline). An unknown custom attribute
/// reads "Type for attribute {custom:x} could not be determined", as Cognito words it.
pub(crate) fn schema_errors(items: &[(String, String)]) -> CognitoError {
    let lines: Vec<String> =
        items.iter().map(|(name, why)| if why.is_empty() { name.clone() } else { format!("{name}: {why}") }).collect();
    CognitoError::invalid_parameter(format!("Attributes did not conform to the schema: {}", lines.join("\n")))
}

/// The reason an attribute name the schema lacks is refused, as a `schema_errors` item.
pub(crate) fn unknown_attribute(name: &str) -> (String, String) {
    if name.starts_with("custom:") || name.starts_with("dev:") {
        (format!("Type for attribute {{{name}}} could not be determined"), String::new())
    } else {
        (name.to_owned(), "Attribute does not exist in the schema.".to_owned())
    }
}

fn unauthorized() -> CognitoError {
    CognitoError::not_authorized("A client attempted to write unauthorized attribute")
}

pub(crate) fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
        && !domain.contains('@')
}

pub(crate) fn is_phone(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or("");
    (4..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit())
}

/// `[{Name, Value}]` as pairs; an absent Value is the empty string.
pub(crate) fn attribute_pairs(list: Option<&[AttributeType]>) -> Vec<(String, String)> {
    list.unwrap_or_default().iter().map(|a| (a.name.clone(), a.value.clone().unwrap_or_default())).collect()
}

/// Checks attribute writes: known to the schema, writable by this caller, well formed.
/// `creating` allows immutable attributes to be given a first value.
pub(crate) fn check_writes(pool: &UserPool, attrs: &[(String, String)], writer: Writer, creating: bool) -> Result<()> {
    let writable = match writer {
        Writer::Client(c) => c.write_attributes(),
        Writer::Admin => None,
    };
    let mut errors = Vec::new();
    for (name, value) in attrs {
        if name == "sub" {
            errors.push((name.clone(), "Attribute cannot be updated.".to_owned()));
            continue;
        }
        let is_dev = name.starts_with("dev:");
        let Some(schema) = pool.schema_attribute(name).or_else(|| {
            // `dev:custom:x` may be addressed as `custom:x` by administrators.
            (!is_dev).then(|| pool.schema_attribute(&format!("dev:{name}"))).flatten()
        }) else {
            errors.push(unknown_attribute(name));
            continue;
        };
        let developer_only = schema.get("DeveloperOnlyAttribute").and_then(Value::as_bool) == Some(true);
        if let Writer::Client(_) = writer {
            if developer_only || name.ends_with("_verified") {
                return Err(unauthorized());
            }
            if let Some(list) = &writable {
                if !list.iter().any(|w| w == name) {
                    return Err(unauthorized());
                }
            }
        }
        if !creating && schema.get("Mutable").and_then(Value::as_bool) == Some(false) {
            errors.push((name.clone(), "Attribute cannot be updated.".to_owned()));
            continue;
        }
        if let Some(why) = check_value(name, value, schema)? {
            errors.push((name.clone(), why));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(schema_errors(&errors))
    }
}

/// Checks one value against its schema entry: a malformed email address or phone number is
/// refused outright; a value outside the schema's type or bounds gives its reason.
fn check_value(name: &str, value: &str, schema: &crate::model::Doc) -> Result<Option<String>> {
    match name {
        "email" if !value.is_empty() && !is_email(value) => {
            return Err(CognitoError::invalid_parameter("Invalid email address format."))
        }
        "phone_number" if !value.is_empty() && !is_phone(value) => {
            return Err(CognitoError::invalid_parameter("Invalid phone number format."))
        }
        _ => {}
    }
    let constraint = |group: &str, key: &str| {
        schema.get(group).and_then(|c| c.get(key)).and_then(Value::as_str).and_then(|s| s.parse::<f64>().ok())
    };
    match schema.get("AttributeDataType").and_then(Value::as_str) {
        Some("Number") => {
            let Ok(n) = value.parse::<f64>() else {
                return Ok(Some("Number must be a valid number.".into()));
            };
            if constraint("NumberAttributeConstraints", "MinValue").is_some_and(|m| n < m) {
                return Ok(Some("Number must be greater than or equal to the minimum value.".into()));
            }
            if constraint("NumberAttributeConstraints", "MaxValue").is_some_and(|m| n > m) {
                return Ok(Some("Number must be less than or equal to the maximum value.".into()));
            }
        }
        // Booleans in any case, as Cognito takes them (`True`, `FALSE`).
        Some("Boolean") if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") => {
            return Ok(Some("Boolean must be 'true' or 'false'.".into()));
        }
        _ => {
            let len = value.chars().count() as f64;
            if let Some(max) = constraint("StringAttributeConstraints", "MaxLength") {
                if len > max {
                    return Ok(Some(format!("String must be no longer than {max} characters")));
                }
            }
            if let Some(min) = constraint("StringAttributeConstraints", "MinLength") {
                if len < min && !value.is_empty() {
                    return Ok(Some(format!("String must be no shorter than {min} characters")));
                }
            }
        }
    }
    Ok(None)
}

/// Required attributes must all be present when a user is created.
pub(crate) fn check_required(pool: &UserPool, attrs: &[(String, String)]) -> Result<()> {
    let missing: Vec<(String, String)> = pool
        .required_attributes()
        .filter(|name| !attrs.iter().any(|(n, v)| n == name && !v.is_empty()))
        .map(|name| (name.to_owned(), "The attribute is required".to_owned()))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(schema_errors(&missing))
    }
}

/// The attributes a caller may read, as `[{Name, Value}]`. Administrators read everything; an
/// app client reads its `ReadAttributes` (all but developer-only ones when unset).
pub(crate) fn readable(user: &User, client: Option<&AppClient>) -> Vec<AttributeType> {
    let allowed = client.and_then(AppClient::read_attributes);
    user.attributes
        .iter()
        .filter(|(n, _)| match client {
            None => true,
            Some(_) => {
                !n.starts_with("dev:") && allowed.as_ref().is_none_or(|l| n == "sub" || l.iter().any(|a| a == n))
            }
        })
        .map(|(n, v)| AttributeType { name: n.clone(), value: Some(v.clone()) })
        .collect()
}

/// Masks a delivery destination the way Cognito shows it: `a***@e***`, `+*******1234`.
pub(crate) fn mask(destination: &str) -> String {
    if let Some((local, domain)) = destination.split_once('@') {
        let l: String = local.chars().take(1).collect();
        let d: String = domain.chars().take(1).collect();
        return format!("{l}***@{d}***");
    }
    let keep: String = destination.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    let hidden = destination.chars().count().saturating_sub(5);
    format!("+{}{keep}", "*".repeat(hidden))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_like_cognito() {
        assert_eq!(mask("ana@example.com"), "a***@e***");
        assert_eq!(mask("+15555550100"), "+*******0100");
    }

    #[test]
    fn formats() {
        assert!(is_email("a@b.co"));
        assert!(!is_email("a b@c.d") && !is_email("nope") && !is_email("@x.y"));
        assert!(is_phone("+15555550100") && !is_phone("5555550100") && !is_phone("+1-555"));
    }
}
