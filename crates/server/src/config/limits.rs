//! `[limits]`: request rates per client address and per user for sign-in, sign-up and code
//! operations (see [`crate::limits`]).

use serde_json::Value;

use super::keys::{check_keys, integer, table, Errs};
use crate::limits::{Class, ClassLimits, LimitSettings, Rate};

const LIMITS_KEYS: &[&str] = &["enabled", "loopback_exempt", "sign_in", "sign_up", "codes"];
const CLASS_KEYS: &[&str] = &["per_ip", "per_ip_burst", "per_user", "per_user_burst"];
const MAX_BURST: u64 = 1_000_000;

pub(super) fn parse_limits(value: &Value, errs: &Errs<'_>) -> Result<LimitSettings, String> {
    let body = table(value, "limits", "[limits]", errs)?;
    check_keys(body, "limits", LIMITS_KEYS, errs)?;
    let mut settings = LimitSettings::default();
    match body.get("enabled") {
        None => {}
        Some(Value::Bool(b)) => settings.enabled = *b,
        Some(_) => return Err(errs.at("limits.enabled", "must be true or false")),
    }
    match body.get("loopback_exempt") {
        None => {}
        Some(Value::Bool(b)) => settings.loopback_exempt = Some(*b),
        Some(_) => return Err(errs.at("limits.loopback_exempt", "must be true or false")),
    }
    for class in Class::ALL {
        let name = class.config_key();
        let Some(v) = body.get(name) else { continue };
        let key = format!("limits.{name}");
        let t = table(v, &key, &format!("[limits.{name}]"), errs)?;
        check_keys(t, &key, CLASS_KEYS, errs)?;
        let defaults = settings.class(class);
        let rate = |member: &str, burst: &str, default: Rate| -> Result<Rate, String> {
            let given = per_second(t, &key, member, errs)?;
            // A burst follows its rate unless given: twice the rate (at least 1), as the
            // defaults are.
            let default_burst = given.map_or(default.burst, |r| (r * 2.0).ceil().max(1.0) as u32);
            let burst = integer(t, &key, burst, 1..=MAX_BURST, errs)?.map_or(default_burst, |n| n as u32);
            Ok(Rate { per_second: given.unwrap_or(default.per_second), burst: burst.max(1) })
        };
        let limits = ClassLimits {
            per_ip: rate("per_ip", "per_ip_burst", defaults.per_ip)?,
            per_user: rate("per_user", "per_user_burst", defaults.per_user)?,
        };
        *settings.class_mut(class) = limits;
    }
    Ok(settings)
}

/// A rate in requests per second: 0 (no limit), or a number, whole or not, from
/// [`Rate::MIN`] to [`Rate::MAX`].
fn per_second(
    body: &serde_json::Map<String, Value>,
    key: &str,
    member: &str,
    errs: &Errs<'_>,
) -> Result<Option<f64>, String> {
    let Some(v) = body.get(member) else { return Ok(None) };
    v.as_f64().filter(|r| *r == 0.0 || (Rate::MIN..=Rate::MAX).contains(r)).map(Some).ok_or_else(|| {
        let says = format!("must be 0 (no limit) or a number from {} to {}", Rate::MIN, Rate::MAX);
        errs.at(&format!("{key}.{member}"), says)
    })
}
