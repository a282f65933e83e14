//! Request validation driven by Cognito's service model.
//!
//! `shapes.json` is derived from botocore's `cognito-idp` model by `scripts/gen-shapes.py`: for
//! every operation, its input shape with member types, required members and constraints. One
//! walk over the request body checks types (a mismatch is a `SerializationException`, as the
//! real service answers) and collects constraint violations, which the wire layer reports as
//! Cognito does: `N validation errors detected: Value '…' at 'member' failed to satisfy
//! constraint: …`.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct Model {
    operations: HashMap<String, Operation>,
    shapes: HashMap<String, Shape>,
}

#[derive(Debug, Deserialize)]
pub struct Operation {
    input: Option<String>,
    /// botocore's `authtype: none`: Cognito takes the call without a SigV4 signature.
    #[serde(default)]
    unsigned: bool,
}

#[derive(Debug, Deserialize)]
struct Shape {
    #[serde(rename = "type")]
    kind: String,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    enum_values: Option<Vec<String>>,
    #[serde(default)]
    sensitive: bool,
    #[serde(default)]
    members: Vec<(String, String)>,
    #[serde(default)]
    required: Vec<String>,
    member: Option<String>,
    value: Option<String>,
}

static MODEL: LazyLock<Model> = LazyLock::new(|| {
    let raw: Value = serde_json::from_str(include_str!("shapes.json")).expect("shapes.json is JSON");
    // Members arrive as an object; keep their order as a list of pairs.
    let mut raw = raw;
    if let Some(shapes) = raw.get_mut("shapes").and_then(Value::as_object_mut) {
        for shape in shapes.values_mut() {
            if let Some(m) = shape.get("members").and_then(Value::as_object).cloned() {
                let pairs: Vec<Value> = m.into_iter().map(|(k, v)| Value::Array(vec![Value::String(k), v])).collect();
                shape["members"] = Value::Array(pairs);
            }
        }
    }
    serde_json::from_value(raw).expect("shapes.json matches the model schema")
});

pub fn model() -> &'static Model {
    &MODEL
}

impl Model {
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }

    /// The model's own spelling of an operation name: a `'static` string when the model is,
    /// for labels that must come from a fixed set.
    pub fn operation_name(&self, name: &str) -> Option<&str> {
        self.operations.get_key_value(name).map(|(k, _)| k.as_str())
    }

    /// Whether Cognito takes `op` unsigned (it authenticates by client id, token or session
    /// instead); every other operation needs SigV4 in secure mode.
    pub fn is_public(&self, op: &str) -> bool {
        // GetClientToken's model entry lacks `authtype: none`, but its documentation says IAM
        // credentials cannot authorize it: the client id and secret do.
        op == "GetClientToken" || self.operations.get(op).is_some_and(|o| o.unsigned)
    }

    /// Validates `body` as the input of `op`, or of the structure shape named `shape`.
    pub fn validate_input(&self, op: &str, body: &Value) -> Result<(), Invalid> {
        let Some(input) = self.operations.get(op).and_then(|o| o.input.as_deref()) else {
            return Ok(());
        };
        self.validate_shape(input, body)
    }

    pub fn validate_shape(&self, shape: &str, body: &Value) -> Result<(), Invalid> {
        let mut v = Validator { model: self, path: Vec::new(), violations: Vec::new(), secret_depth: 0 };
        v.check(shape, Some(body), false)?;
        if v.violations.is_empty() {
            Ok(())
        } else {
            Err(Invalid::Constraints(v.violations))
        }
    }
}

/// A member the model does not have, somewhere inside a value.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownMember {
    /// Where it is: the path of the structure holding it, then the member itself.
    pub path: Vec<Segment>,
    pub name: String,
    /// The members that structure does have, in model order.
    pub known: Vec<String>,
}

impl Model {
    /// The first member of `value` (walked as `shape`) that the model does not know. The wire
    /// ignores unknown members as AWS does; a configuration file must not, or a typo silently
    /// leaves a setting at its default.
    pub fn unknown_member(&self, shape: &str, value: &Value) -> Option<UnknownMember> {
        let mut path = Vec::new();
        self.find_unknown(shape, value, &mut path)
    }

    fn find_unknown(&self, shape_name: &str, value: &Value, path: &mut Vec<Segment>) -> Option<UnknownMember> {
        let shape = self.shapes.get(shape_name)?;
        match (shape.kind.as_str(), value) {
            ("structure", Value::Object(obj)) => {
                for (name, v) in obj {
                    let Some((_, member_shape)) = shape.members.iter().find(|(m, _)| m == name) else {
                        let mut at = path.clone();
                        at.push(Segment::Member(name.clone()));
                        let known = shape.members.iter().map(|(m, _)| m.clone()).collect();
                        return Some(UnknownMember { path: at, name: name.clone(), known });
                    };
                    path.push(Segment::Member(name.clone()));
                    let found = self.find_unknown(member_shape, v, path);
                    path.pop();
                    if found.is_some() {
                        return found;
                    }
                }
                None
            }
            ("list", Value::Array(items)) => {
                let member = shape.member.as_deref()?;
                items.iter().enumerate().find_map(|(i, item)| {
                    path.push(Segment::Index(i));
                    let found = self.find_unknown(member, item, path);
                    path.pop();
                    found
                })
            }
            ("map", Value::Object(obj)) => {
                let value_shape = shape.value.as_deref()?;
                obj.iter().find_map(|(k, item)| {
                    path.push(Segment::Key(k.clone()));
                    let found = self.find_unknown(value_shape, item, path);
                    path.pop();
                    found
                })
            }
            _ => None,
        }
    }
}

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Invalid {
    /// A member has the wrong JSON type; the message is what the service says.
    Type { path: Vec<Segment>, message: String },
    /// Constraint violations, in the order found.
    Constraints(Vec<Violation>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Member(String),
    Index(usize),
    Key(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub path: Vec<Segment>,
    /// The offending value as Cognito prints it (`'abc'`, `null`), or None for a sensitive one.
    pub value: Option<String>,
    pub constraint: String,
}

impl Violation {
    /// Cognito's path form: lowerCamel members joined by dots, list items as `N.member`.
    pub fn wire_path(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        for s in &self.path {
            match s {
                Segment::Member(m) => out.push(lower_first(m)),
                Segment::Index(i) => {
                    out.push((i + 1).to_string());
                    out.push("member".into());
                }
                Segment::Key(k) => out.push(k.clone()),
            }
        }
        out.join(".")
    }

    pub fn wire_message(&self) -> String {
        match &self.value {
            Some(v) => {
                format!("Value {} at '{}' failed to satisfy constraint: {}", clip(v), self.wire_path(), self.constraint)
            }
            None => format!("Value at '{}' failed to satisfy constraint: {}", self.wire_path(), self.constraint),
        }
    }
}

/// Violations a message lists (it counts them all), and how much of a value it repeats: a
/// hostile request must not get an answer many times its own size.
const LISTED_VIOLATIONS: usize = 10;
const SHOWN_VALUE_CHARS: usize = 256;

/// A value as a message repeats it: at most [`SHOWN_VALUE_CHARS`] characters.
fn clip(value: &str) -> String {
    if value.chars().count() <= SHOWN_VALUE_CHARS {
        return value.to_owned();
    }
    let mut out: String = value.chars().take(SHOWN_VALUE_CHARS).collect();
    out.push('…');
    out
}

/// The whole message for a list of violations, as Cognito words it (the first
/// [`LISTED_VIOLATIONS`] of them spelled out).
pub fn constraints_message(violations: &[Violation]) -> String {
    let n = violations.len();
    let mut parts: Vec<String> = violations.iter().take(LISTED_VIOLATIONS).map(Violation::wire_message).collect();
    if n > LISTED_VIOLATIONS {
        parts.push(format!("and {} more", n - LISTED_VIOLATIONS));
    }
    format!("{n} validation error{} detected: {}", if n == 1 { "" } else { "s" }, parts.join("; "))
}

/// A path in the caller's own spelling (for config files): `Policies.PasswordPolicy[0]`.
pub fn plain_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Segment::Member(m) | Segment::Key(m) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(m);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

struct Validator<'m> {
    model: &'m Model,
    path: Vec<Segment>,
    violations: Vec<Violation>,
    /// Inside a sensitive container (AuthParameters, say): nothing below is echoed.
    secret_depth: usize,
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "STRING_VALUE",
        Value::Number(_) => "NUMBER_VALUE",
        Value::Bool(true) => "TRUE_VALUE",
        Value::Bool(false) => "FALSE_VALUE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
        Value::Null => "VALUE_NULL",
    }
}

/// Java's `toString` of a value, which is how Coral prints it in messages.
fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(display).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => {
            format!("{{{}}}", o.iter().map(|(k, v)| format!("{k}={}", display(v))).collect::<Vec<_>>().join(", "))
        }
        other => other.to_string(),
    }
}

impl Validator<'_> {
    fn type_error(&self, message: String) -> Invalid {
        Invalid::Type { path: self.path.clone(), message }
    }

    fn violation(&mut self, value: Option<&Value>, sensitive: bool, constraint: String) {
        let value = match value {
            None | Some(Value::Null) => Some("null".to_owned()),
            Some(_) if sensitive => None,
            Some(v) => Some(format!("'{}'", display(v))),
        };
        self.violations.push(Violation { path: self.path.clone(), value, constraint });
    }

    fn check(&mut self, shape_name: &str, value: Option<&Value>, required: bool) -> Result<(), Invalid> {
        let Some(shape) = self.model.shapes.get(shape_name) else { return Ok(()) };
        // Sensitive values are never echoed, except client ids, which the live service prints.
        let sensitive = (shape.sensitive && shape_name != "ClientIdType") || self.secret_depth > 0;
        let value = value.filter(|v| !v.is_null());
        let Some(v) = value else {
            if required {
                // Coral reads a missing integer as 0, so a required integer reports its range.
                if shape.kind == "integer" {
                    let zero = Value::from(0);
                    self.range(shape, &zero);
                } else {
                    self.violation(None, false, "Member must not be null".into());
                }
            }
            return Ok(());
        };
        match shape.kind.as_str() {
            "structure" => {
                let Some(obj) = v.as_object() else {
                    return Err(self.type_error(format!("{} can not be converted to a Structure", json_kind(v))));
                };
                for (name, member_shape) in &shape.members {
                    self.path.push(Segment::Member(name.clone()));
                    let req = shape.required.iter().any(|r| r == name);
                    self.check(member_shape, obj.get(name), req)?;
                    self.path.pop();
                }
            }
            "list" => {
                let Some(items) = v.as_array() else {
                    return Err(self.type_error(scalar_mismatch(v, "a List")));
                };
                self.length(shape, sensitive, v, items.len());
                let member = shape.member.as_deref().unwrap_or_default();
                let member_shape = self.model.shapes.get(member);
                // A list of enum strings reports one violation for the whole list.
                if let Some(allowed) = member_shape.and_then(|m| m.enum_values.as_ref()) {
                    for item in items {
                        if !item.is_string() {
                            return Err(self.type_error(scalar_mismatch(item, "a String")));
                        }
                    }
                    if items.iter().any(|i| !allowed.iter().any(|a| Some(a.as_str()) == i.as_str())) {
                        let c = format!(
                            "Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                            allowed.join(", ")
                        );
                        self.violation(Some(v), false, c);
                    }
                    return Ok(());
                }
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Segment::Index(i));
                    self.check(member, Some(item), false)?;
                    self.path.pop();
                }
            }
            "map" => {
                let Some(obj) = v.as_object() else {
                    return Err(self.type_error(scalar_mismatch(v, "a Map")));
                };
                self.length(shape, sensitive, v, obj.len());
                let value_shape = shape.value.as_deref().unwrap_or_default();
                self.secret_depth += usize::from(sensitive);
                for (k, item) in obj {
                    self.path.push(Segment::Key(k.clone()));
                    let checked = self.check(value_shape, Some(item), false);
                    self.path.pop();
                    if checked.is_err() {
                        self.secret_depth -= usize::from(sensitive);
                        return checked;
                    }
                }
                self.secret_depth -= usize::from(sensitive);
            }
            "string" => {
                let Some(s) = v.as_str() else {
                    return Err(self.type_error(scalar_mismatch(v, "a String")));
                };
                self.length(shape, sensitive, v, s.chars().count());
                // No Cognito value contains NUL, and PostgreSQL cannot store one.
                if s.contains('\0') {
                    self.violation(Some(v), true, "Member must not contain NUL characters".into());
                }
                // The model's `DomainType` pattern admits prefixes only, yet the service takes a
                // custom domain's FQDN in the same member; the service checks domains itself.
                let pattern = shape.pattern.as_ref().filter(|_| shape_name != "DomainType");
                if let Some(p) = pattern {
                    if !pattern_matches(p, s) {
                        self.violation(
                            Some(v),
                            sensitive,
                            format!("Member must satisfy regular expression pattern: {p}"),
                        );
                    }
                }
                if let Some(allowed) = &shape.enum_values {
                    if !allowed.iter().any(|a| a == s) {
                        self.violation(
                            Some(v),
                            sensitive,
                            format!("Member must satisfy enum value set: [{}]", allowed.join(", ")),
                        );
                    }
                }
            }
            "integer" | "long" => {
                // A number the service's Java type cannot hold (an int, a long) is refused as
                // one of another type. UNVERIFIED: Cognito's wording for an out-of-range number.
                let fits = if shape.kind == "integer" {
                    v.as_i64().is_some_and(|n| i32::try_from(n).is_ok())
                } else {
                    v.is_i64()
                };
                if !fits {
                    return Err(self.type_error(scalar_mismatch(
                        v,
                        if shape.kind == "integer" { "an Integer" } else { "a Long" },
                    )));
                }
                self.range(shape, v);
            }
            "double" | "float" if !v.is_number() => {
                return Err(self.type_error(scalar_mismatch(v, "a Double")));
            }
            "boolean" if !v.is_boolean() => {
                return Err(self.type_error(scalar_mismatch(v, "a Boolean")));
            }
            "timestamp" if !v.is_number() && !v.is_string() => {
                return Err(self.type_error(scalar_mismatch(v, "a Date")));
            }
            "blob" if !v.is_string() => {
                return Err(self.type_error(scalar_mismatch(v, "a ByteBuffer")));
            }
            _ => {}
        }
        Ok(())
    }

    fn length(&mut self, shape: &Shape, sensitive: bool, v: &Value, len: usize) {
        if let Some(min) = shape.min {
            if (len as f64) < min {
                self.violation(Some(v), sensitive, format!("Member must have length greater than or equal to {min}"));
            }
        }
        if let Some(max) = shape.max {
            if (len as f64) > max {
                self.violation(Some(v), sensitive, format!("Member must have length less than or equal to {max}"));
            }
        }
    }

    fn range(&mut self, shape: &Shape, v: &Value) {
        let Some(n) = v.as_f64() else { return };
        if let Some(min) = shape.min {
            if n < min {
                self.violation(Some(v), false, format!("Member must have value greater than or equal to {min}"));
            }
        }
        if let Some(max) = shape.max {
            if n > max {
                self.violation(Some(v), false, format!("Member must have value less than or equal to {max}"));
            }
        }
    }
}

fn scalar_mismatch(v: &Value, target: &str) -> String {
    match v {
        Value::Object(_) => "Start of structure or map found where not expected.".into(),
        Value::Array(_) => "Start of list found where not expected".into(),
        other => format!("{} can not be converted to {target}", json_kind(other)),
    }
}

static PATTERNS: LazyLock<RwLock<HashMap<String, Option<Regex>>>> = LazyLock::new(Default::default);

/// Whole-string match of a model pattern. The model's patterns are Java regexes, where `\w` is
/// ASCII-only; Rust's is Unicode, so `\w` is spelled out.
fn pattern_matches(pattern: &str, s: &str) -> bool {
    // Matched under the read lock: cloning a Regex would give it a fresh scratch-space pool
    // on every request.
    if let Ok(m) = PATTERNS.read() {
        if let Some(compiled) = m.get(pattern) {
            return compiled.as_ref().is_none_or(|r| r.is_match(s));
        }
    }
    let translated = pattern.replace(r"\w", "a-zA-Z0-9_");
    // Outside a character class the spelled-out form needs brackets of its own.
    let translated = fix_bare_word_class(&translated);
    let compiled = Regex::new(&format!("^(?:{translated})$")).ok();
    if compiled.is_none() {
        tracing::warn!(pattern, "model pattern does not compile; not enforced");
    }
    let ok = compiled.as_ref().is_none_or(|r| r.is_match(s));
    if let Ok(mut m) = PATTERNS.write() {
        m.insert(pattern.to_owned(), compiled);
    }
    ok
}

/// After `\w` → `a-zA-Z0-9_`, wrap occurrences that were outside `[...]` in brackets.
fn fix_bare_word_class(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 8);
    let mut depth = 0usize;
    let mut chars = p.char_indices().peekable();
    let needle = "a-zA-Z0-9_";
    let mut escaped = false;
    while let Some((i, c)) = chars.next() {
        if escaped {
            out.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                out.push(c);
            }
            '[' => {
                depth += 1;
                out.push(c);
            }
            ']' if depth > 0 => {
                depth -= 1;
                out.push(c);
            }
            _ if depth == 0 && p[i..].starts_with(needle) => {
                out.push('[');
                out.push_str(needle);
                out.push(']');
                for _ in 1..needle.len() {
                    chars.next();
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_required_member_is_reported_as_null() {
        let err = model().validate_input("DescribeUserPool", &json!({})).unwrap_err();
        let Invalid::Constraints(v) = err else { panic!("expected constraints") };
        assert_eq!(
            constraints_message(&v),
            "1 validation error detected: Value null at 'userPoolId' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn several_violations_are_joined() {
        let err = model()
            .validate_input("DescribeUserPoolClient", &json!({"UserPoolId": "bad id", "ClientId": ""}))
            .unwrap_err();
        let Invalid::Constraints(v) = err else { panic!("expected constraints") };
        let msg = constraints_message(&v);
        assert!(msg.starts_with("3 validation errors detected: "), "{msg}");
        assert!(msg.contains("Value '' at 'clientId' failed to satisfy constraint: Member must have length greater than or equal to 1"), "{msg}");
        assert!(msg.contains("Value 'bad id' at 'userPoolId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+"), "{msg}");
    }

    #[test]
    fn nested_paths_and_ranges() {
        let body = json!({"PoolName": "p", "Policies": {"PasswordPolicy": {"MinimumLength": 5}}});
        let Invalid::Constraints(v) = model().validate_input("CreateUserPool", &body).unwrap_err() else { panic!() };
        assert_eq!(v[0].wire_message(), "Value '5' at 'policies.passwordPolicy.minimumLength' failed to satisfy constraint: Member must have value greater than or equal to 6");
    }

    #[test]
    fn wrong_types_are_serialization_errors() {
        let err = model().validate_input("CreateUserPool", &json!({"PoolName": {"a": 1}})).unwrap_err();
        assert!(
            matches!(err, Invalid::Type { ref message, .. } if message == "Start of structure or map found where not expected.")
        );
        let err = model().validate_input("CreateUserPool", &json!({"PoolName": 5})).unwrap_err();
        assert!(
            matches!(err, Invalid::Type { ref message, .. } if message == "NUMBER_VALUE can not be converted to a String")
        );
        // A number an int cannot hold, in an integer member without bounds.
        let limit = json!({"LimitClass": "x", "Attributes": {}});
        for big in [json!(i64::MAX), json!(u64::MAX), json!(i64::from(i32::MAX) + 1)] {
            let body = json!({"LimitDefinition": limit, "RequestedLimitValue": big});
            let err = model().validate_input("UpdateProvisionedLimit", &body).unwrap_err();
            assert!(
                matches!(err, Invalid::Type { ref message, .. } if message == "NUMBER_VALUE can not be converted to an Integer"),
                "{big}"
            );
        }
        let body = json!({"LimitDefinition": limit, "RequestedLimitValue": i32::MAX});
        assert!(!matches!(model().validate_input("UpdateProvisionedLimit", &body), Err(Invalid::Type { .. })));
    }

    #[test]
    fn sensitive_values_are_not_echoed() {
        let body = json!({"ClientId": "abc", "Username": "u", "Password": "has space"});
        let Invalid::Constraints(v) = model().validate_input("SignUp", &body).unwrap_err() else { panic!() };
        let msg = constraints_message(&v);
        assert!(!msg.contains("has space"), "{msg}");
        assert!(msg.contains("Value at 'password'"), "{msg}");
    }

    #[test]
    fn values_in_sensitive_maps_are_not_echoed_and_nul_is_refused() {
        let long = "x".repeat(140_000);
        let body = json!({"ClientId": "abc", "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"PASSWORD": long}});
        let Invalid::Constraints(v) = model().validate_input("InitiateAuth", &body).unwrap_err() else { panic!() };
        assert!(!constraints_message(&v).contains("xxxx"));
        let body =
            json!({"ClientId": "abc", "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": "a\u{0}b"}});
        assert!(model().validate_input("InitiateAuth", &body).is_err());
    }

    #[test]
    fn enum_lists_report_the_whole_list() {
        let body = json!({"UserPoolId": "us-east-1_abc", "ClientName": "c", "ExplicitAuthFlows": ["NOPE"]});
        let Invalid::Constraints(v) = model().validate_input("CreateUserPoolClient", &body).unwrap_err() else {
            panic!()
        };
        assert!(v[0].wire_message().starts_with("Value '[NOPE]' at 'explicitAuthFlows' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: ["));
    }

    #[test]
    fn missing_required_integer_reads_as_zero() {
        let Invalid::Constraints(v) = model().validate_input("ListUserPools", &json!({})).unwrap_err() else {
            panic!()
        };
        assert_eq!(
            v[0].wire_message(),
            "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );
    }
}
