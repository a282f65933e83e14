//! The pre token generation trigger (V1_0, V2_0, V3_0): the event, and applying the claim,
//! scope and group overrides it returns. Reserved claims are protected by ignoring attempts
//! to change them, which can never break a function that works against Cognito.

use cognate_api::trigger::{
    GroupConfiguration, PreTokenGeneration, PreTokenGenerationRequest, PreTokenGenerationResponse, TriggerKind,
};
use serde_json::{json, Map, Value};

use super::tokens::TokenContext;
use super::triggers::{event_attributes, trigger_function, unrecognizable};
use super::Service;
use crate::error::Result;
use crate::model::{Group, User, UserPool};

/// Claims no version may add, change or suppress (besides every other `cognito:` claim,
/// which only the group overrides touch).
const RESERVED: &[&str] = &[
    "acr",
    "amr",
    "aud",
    "at_hash",
    "auth_time",
    "azp",
    "cognito:username",
    "exp",
    "iat",
    "identities",
    "iss",
    "jti",
    "nbf",
    "nonce",
    "origin_jti",
    "sub",
    "token_use",
    "username",
    "client_id",
    "event_id",
    "device_key",
    "version",
    "scope",
];
const GROUP_CLAIMS: &[&str] = &["cognito:groups", "cognito:roles", "cognito:preferred_role"];

fn reserved(claim: &str) -> bool {
    RESERVED.contains(&claim) || (claim.starts_with("cognito:") && !GROUP_CLAIMS.contains(&claim))
}

/// Changes one token's claims.
#[derive(Debug, Default)]
struct ClaimChanges {
    add: Map<String, Value>,
    suppress: Vec<String>,
}

/// What the trigger asked for.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    id: ClaimChanges,
    access: ClaimChanges,
    scopes_add: Vec<String>,
    scopes_suppress: Vec<String>,
    /// `groupOverrideDetails`, when given: replaces the groups wholesale.
    groups: Option<GroupOverride>,
}

#[derive(Debug, Default)]
struct GroupOverride {
    groups: Vec<String>,
    roles: Vec<String>,
    preferred: Option<String>,
}

fn strings(v: Option<&Value>) -> Result<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(|x| x.as_str().map(str::to_owned).ok_or_else(unrecognizable)).collect(),
        Some(_) => Err(unrecognizable()),
    }
}

fn object(v: Option<&Value>) -> Result<Option<&Map<String, Value>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(unrecognizable()),
    }
}

fn claim_changes(v: Option<&Value>, strings_only: bool) -> Result<ClaimChanges> {
    let Some(m) = object(v)? else { return Ok(ClaimChanges::default()) };
    let add = object(m.get("claimsToAddOrOverride"))?.cloned().unwrap_or_default();
    if strings_only && add.values().any(|v| !v.is_string()) {
        return Err(unrecognizable());
    }
    Ok(ClaimChanges { add, suppress: strings(m.get("claimsToSuppress"))? })
}

fn group_override(v: Option<&Value>) -> Result<Option<GroupOverride>> {
    match v {
        None => Ok(None),
        // An explicit null or empty object removes the groups.
        Some(Value::Null) => Ok(Some(GroupOverride::default())),
        Some(Value::Object(m)) => Ok(Some(GroupOverride {
            groups: strings(m.get("groupsToOverride"))?,
            roles: strings(m.get("iamRolesToOverride"))?,
            preferred: m.get("preferredRole").and_then(Value::as_str).map(str::to_owned),
        })),
        Some(_) => Err(unrecognizable()),
    }
}

impl Overrides {
    fn parse(version: &str, response: &PreTokenGenerationResponse) -> Result<Self> {
        if version == "1" {
            let Some(d) = object(response.claims_override_details.as_ref())? else { return Ok(Self::default()) };
            return Ok(Self {
                id: claim_changes(Some(&Value::Object(d.clone())), true)?,
                groups: group_override(d.get("groupOverrideDetails"))?,
                ..Self::default()
            });
        }
        let Some(d) = object(response.claims_and_scope_override_details.as_ref())? else { return Ok(Self::default()) };
        let access = object(d.get("accessTokenGeneration"))?;
        Ok(Self {
            id: claim_changes(d.get("idTokenGeneration"), false)?,
            access: claim_changes(d.get("accessTokenGeneration"), false)?,
            scopes_add: strings(access.and_then(|a| a.get("scopesToAdd")))?,
            scopes_suppress: strings(access.and_then(|a| a.get("scopesToSuppress")))?,
            groups: group_override(d.get("groupOverrideDetails"))?,
        })
    }

    /// The group claims of one token: the user's groups, or the trigger's override.
    pub(crate) fn group_claims(&self, claims: &mut Map<String, Value>, groups: &[Group], id_token: bool) {
        let (names, roles, preferred): (Vec<String>, Vec<String>, Option<String>) = match &self.groups {
            Some(o) => (o.groups.clone(), o.roles.clone(), o.preferred.clone()),
            None => {
                let roles: Vec<String> = groups.iter().filter_map(|g| g.role_arn.clone()).collect();
                let preferred = roles.first().cloned();
                (groups.iter().map(|g| g.name.clone()).collect(), roles, preferred)
            }
        };
        if !names.is_empty() {
            claims.insert("cognito:groups".into(), json!(names));
        }
        if id_token {
            if !roles.is_empty() {
                claims.insert("cognito:roles".into(), json!(roles));
            }
            if let Some(p) = preferred {
                claims.insert("cognito:preferred_role".into(), json!(p));
            }
        }
    }

    /// The access token's scopes after the trigger's additions and suppressions.
    pub(crate) fn scopes(&self, mut scopes: Vec<String>) -> Vec<String> {
        for s in &self.scopes_add {
            if !s.contains(' ') && !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        scopes.retain(|s| !self.scopes_suppress.contains(s));
        scopes
    }

    /// Applies claim additions and suppressions (a claim both added and suppressed is
    /// suppressed). Suppressing `cognito:groups` takes the role claims with it.
    pub(crate) fn apply(&self, id: &mut Map<String, Value>, access: &mut Map<String, Value>) {
        for (claims, changes) in [(id, &self.id), (access, &self.access)] {
            for (k, v) in &changes.add {
                if !reserved(k) && !GROUP_CLAIMS.contains(&k.as_str()) {
                    claims.insert(k.clone(), v.clone());
                }
            }
            for k in &changes.suppress {
                if k == "cognito:groups" {
                    for g in GROUP_CLAIMS {
                        claims.remove(*g);
                    }
                } else if !reserved(k) {
                    claims.remove(k);
                }
            }
        }
    }
}

impl Service {
    pub(crate) async fn pre_token_generation(
        &self,
        pool: &UserPool,
        user: &User,
        groups: &[Group],
        scopes: &[String],
        ctx: &TokenContext<'_>,
    ) -> Result<Overrides> {
        let Some((_, version)) = trigger_function(pool, TriggerKind::PreTokenGeneration) else {
            return Ok(Overrides::default());
        };
        let roles: Vec<String> = groups.iter().filter_map(|g| g.role_arn.clone()).collect();
        let request = || PreTokenGenerationRequest {
            user_attributes: event_attributes(user),
            group_configuration: Some(GroupConfiguration {
                groups_to_override: groups.iter().map(|g| g.name.clone()).collect(),
                preferred_role: roles.first().cloned(),
                iam_roles_to_override: roles,
            }),
            scopes: (version != "1").then(|| scopes.to_vec()),
            client_metadata: ctx.client_metadata.clone(),
        };
        let out = self.run_trigger::<PreTokenGeneration>(pool, ctx.source, &user.username, ctx.caller, request).await?;
        match out {
            Some(r) => Overrides::parse(version, &r),
            None => Ok(Overrides::default()),
        }
    }

    /// Pre token generation for a client-credentials token: only a V3_0 function runs, with
    /// `userName` `ClientCredentials`, no attributes and no groups.
    pub(crate) async fn pre_token_generation_m2m(
        &self,
        pool: &UserPool,
        scopes: &[String],
        ctx: &TokenContext<'_>,
    ) -> Result<Overrides> {
        let Some((_, version)) = trigger_function(pool, TriggerKind::PreTokenGeneration) else {
            return Ok(Overrides::default());
        };
        if version != "3" {
            return Ok(Overrides::default());
        }
        let request = || PreTokenGenerationRequest {
            user_attributes: Default::default(),
            group_configuration: None,
            scopes: Some(scopes.to_vec()),
            client_metadata: ctx.client_metadata.clone(),
        };
        let out =
            self.run_trigger::<PreTokenGeneration>(pool, ctx.source, "ClientCredentials", ctx.caller, request).await?;
        match out {
            Some(r) => Overrides::parse(version, &r),
            None => Ok(Overrides::default()),
        }
    }
}
