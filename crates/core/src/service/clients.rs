//! App-client management.

use serde_json::{json, Map, Value};

use super::paging::{with_token, Page};
use super::pools::{same_members, ApplyOutcome};
use super::Service;
use crate::error::{CognitoError, Result, StoreError};
use crate::ids;
use crate::model::client::unit_seconds;
use crate::model::{AppClient, Doc, UserPool};

/// Members copied from the request as given, in `UserPoolClientType` order.
const PASSTHROUGH: &[&str] = &[
    "ReadAttributes", "WriteAttributes", "ExplicitAuthFlows", "SupportedIdentityProviders",
    "CallbackURLs", "LogoutURLs", "DefaultRedirectURI", "AllowedOAuthFlows", "AllowedOAuthScopes",
];

const LEGACY_FLOWS: &[&str] = &["ADMIN_NO_SRP_AUTH", "CUSTOM_AUTH_FLOW_ONLY", "USER_PASSWORD_AUTH"];

impl Service {
    /// Loads a client of the given pool, or fails as Cognito does.
    pub async fn pool_client(&self, pool_id: &str, client_id: &str) -> Result<AppClient> {
        match self.store.get_client(client_id).await? {
            Some(c) if c.pool_id == pool_id => Ok(c),
            _ => {
                // An unknown pool is reported as such before the client.
                self.pool(pool_id).await?;
                Err(CognitoError::client_not_found(client_id))
            }
        }
    }

    /// CreateUserPoolClient; `fixed_id` comes from configuration files only.
    pub async fn create_user_pool_client(&self, input: Doc, fixed_id: Option<&str>) -> Result<Value> {
        let pool_id = input.get("UserPoolId").and_then(Value::as_str).unwrap_or_default();
        let pool = self.pool(pool_id).await?;
        let client_id = fixed_id.map(str::to_owned).unwrap_or_else(ids::client_id);
        let secret = new_secret(&input, None)?;
        let client = self.build_client(&pool, &client_id, secret, &input, None)?;
        match self.store.insert_client(&client).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(CognitoError::invalid_parameter(format!(
                    "User pool client {client_id} already exists."
                )))
            }
            Err(e) => return Err(e.into()),
        }
        Ok(json!({ "UserPoolClient": client.doc }))
    }

    /// Makes a pool's client match a declaration (CreateUserPoolClient input without the pool
    /// id): found by `fixed_id`, else by name; a generated secret survives re-application.
    pub async fn apply_client(
        &self,
        pool_id: &str,
        mut input: Doc,
        fixed_id: Option<&str>,
    ) -> Result<(String, ApplyOutcome)> {
        input.insert("UserPoolId".into(), json!(pool_id));
        let pool = self.pool(pool_id).await?;
        let existing = match fixed_id {
            Some(id) => self.store.get_client(id).await?.filter(|c| c.pool_id == pool_id),
            None => {
                let name = input.get("ClientName").and_then(Value::as_str).unwrap_or_default();
                self.store.list_clients(pool_id, None, 1000).await?.into_iter().find(|c| c.name() == name)
            }
        };
        let Some(existing) = existing else {
            let created = self.create_user_pool_client(input, fixed_id).await?;
            let id = created["UserPoolClient"]["ClientId"].as_str().unwrap_or_default().to_owned();
            return Ok((id, ApplyOutcome::Created));
        };
        let secret = new_secret(&input, existing.secret())?;
        let mut wanted = self.build_client(&pool, &existing.client_id, secret, &input, Some(&existing))?;
        if let Some(v) = existing.doc.get("LastModifiedDate") {
            wanted.doc.insert("LastModifiedDate".into(), v.clone());
        }
        if same_members(&wanted.doc, &existing.doc) {
            return Ok((existing.client_id, ApplyOutcome::Unchanged));
        }
        wanted.doc.insert("LastModifiedDate".into(), self.now_date());
        self.store.update_client(&wanted).await?;
        Ok((existing.client_id, ApplyOutcome::Updated))
    }

    pub async fn describe_user_pool_client(&self, pool_id: &str, client_id: &str) -> Result<Value> {
        let client = self.pool_client(pool_id, client_id).await?;
        Ok(json!({ "UserPoolClient": client.doc }))
    }

    pub async fn update_user_pool_client(&self, input: Doc) -> Result<Value> {
        let pool_id = input.get("UserPoolId").and_then(Value::as_str).unwrap_or_default();
        let client_id = input.get("ClientId").and_then(Value::as_str).unwrap_or_default();
        let existing = self.pool_client(pool_id, client_id).await?;
        let pool = self.pool(pool_id).await?;
        let secret = existing.secret().map(str::to_owned);
        let client = self.build_client(&pool, client_id, secret, &input, Some(&existing))?;
        if !self.store.update_client(&client).await? {
            return Err(CognitoError::client_not_found(client_id));
        }
        Ok(json!({ "UserPoolClient": client.doc }))
    }

    pub async fn delete_user_pool_client(&self, pool_id: &str, client_id: &str) -> Result<Value> {
        self.pool_client(pool_id, client_id).await?;
        if !self.store.delete_client(pool_id, client_id).await? {
            return Err(CognitoError::client_not_found(client_id));
        }
        Ok(json!({}))
    }

    pub async fn list_user_pool_clients(
        &self,
        pool_id: &str,
        max_results: Option<i64>,
        token: Option<&str>,
    ) -> Result<Value> {
        self.pool(pool_id).await?;
        let page = Page::new(max_results, 60, token);
        let mut clients =
            self.store.list_clients(pool_id, page.after.as_deref(), page.fetch_limit()).await?;
        let next = page.finish(&mut clients, |c| c.client_id.clone());
        let items: Vec<Value> = clients
            .iter()
            .map(|c| json!({"ClientId": c.client_id, "UserPoolId": c.pool_id, "ClientName": c.name()}))
            .collect();
        let mut out = Map::new();
        out.insert("UserPoolClients".into(), Value::Array(items));
        Ok(with_token(out, "NextToken", next))
    }

    /// Builds a client document. On update, members the caller omits return to their defaults
    /// (Cognito's documented behaviour); the id, secret and creation date are kept.
    fn build_client(
        &self,
        pool: &UserPool,
        client_id: &str,
        secret: Option<String>,
        input: &Doc,
        existing: Option<&AppClient>,
    ) -> Result<AppClient> {
        let now = self.now_date();
        let get = |k: &str| input.get(k).cloned();
        let name = match (input.get("ClientName").and_then(Value::as_str), existing) {
            (Some(n), _) => n.to_owned(),
            (None, Some(c)) => c.name().to_owned(),
            (None, None) => String::new(),
        };
        check_flows(input.get("ExplicitAuthFlows"))?;
        check_attributes(pool, input.get("ReadAttributes"), "read")?;
        check_attributes(pool, input.get("WriteAttributes"), "write")?;
        check_validity(input)?;

        let mut doc = Map::new();
        doc.insert("UserPoolId".into(), json!(pool.id));
        doc.insert("ClientName".into(), json!(name));
        doc.insert("ClientId".into(), json!(client_id));
        if let Some(s) = &secret {
            doc.insert("ClientSecret".into(), json!(s));
        }
        doc.insert("LastModifiedDate".into(), now.clone());
        let created = existing.and_then(|c| c.doc.get("CreationDate").cloned()).unwrap_or(now.clone());
        doc.insert("CreationDate".into(), created);
        let refresh = get("RefreshTokenValidity").filter(|v| v.as_i64() != Some(0)).unwrap_or(json!(30));
        doc.insert("RefreshTokenValidity".into(), refresh);
        for k in ["AccessTokenValidity", "IdTokenValidity"] {
            if let Some(v) = get(k) {
                doc.insert(k.into(), v);
            }
        }
        doc.insert("TokenValidityUnits".into(), get("TokenValidityUnits").unwrap_or(json!({})));
        for k in PASSTHROUGH {
            if let Some(v) = get(k) {
                doc.insert((*k).into(), v);
            }
        }
        doc.insert(
            "AllowedOAuthFlowsUserPoolClient".into(),
            get("AllowedOAuthFlowsUserPoolClient").unwrap_or(json!(false)),
        );
        if let Some(v) = get("AnalyticsConfiguration") {
            doc.insert("AnalyticsConfiguration".into(), v);
        }
        if let Some(v) = get("PreventUserExistenceErrors") {
            doc.insert("PreventUserExistenceErrors".into(), v);
        }
        doc.insert("EnableTokenRevocation".into(), get("EnableTokenRevocation").unwrap_or(json!(true)));
        doc.insert(
            "EnablePropagateAdditionalUserContextData".into(),
            get("EnablePropagateAdditionalUserContextData").unwrap_or(json!(false)),
        );
        doc.insert("AuthSessionValidity".into(), get("AuthSessionValidity").unwrap_or(json!(3)));
        if let Some(v) = get("RefreshTokenRotation") {
            doc.insert("RefreshTokenRotation".into(), v);
        }
        Ok(AppClient { pool_id: pool.id.clone(), client_id: client_id.to_owned(), doc })
    }
}

/// The secret a client gets: the one given, a kept one, a new one if asked for, or none.
fn new_secret(input: &Doc, existing: Option<&str>) -> Result<Option<String>> {
    let generate = input.get("GenerateSecret").and_then(Value::as_bool) == Some(true);
    match input.get("ClientSecret").and_then(Value::as_str) {
        Some(_) if generate => Err(CognitoError::invalid_parameter(
            "GenerateSecret cannot be true when ClientSecret is provided.",
        )),
        Some(s) => Ok(Some(s.to_owned())),
        None if generate => Ok(Some(existing.map_or_else(ids::client_secret, str::to_owned))),
        None => Ok(None),
    }
}

fn check_flows(flows: Option<&Value>) -> Result<()> {
    let flows: Vec<&str> =
        flows.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let legacy = flows.iter().any(|f| LEGACY_FLOWS.contains(f));
    let modern = flows.iter().any(|f| f.starts_with("ALLOW_"));
    if legacy && modern {
        return Err(CognitoError::invalid_parameter(
            "The provided ExplicitAuthFlows combination is invalid: legacy flows (ADMIN_NO_SRP_AUTH, \
             CUSTOM_AUTH_FLOW_ONLY, USER_PASSWORD_AUTH) cannot be mixed with ALLOW_ flows.",
        ));
    }
    Ok(())
}

fn check_attributes(pool: &UserPool, attrs: Option<&Value>, which: &str) -> Result<()> {
    for name in attrs.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if pool.schema_attribute(name).is_none() {
            return Err(CognitoError::invalid_parameter(format!(
                "Invalid {which} attributes specified while creating a client"
            )));
        }
    }
    Ok(())
}

/// Token lifetimes must fall in Cognito's ranges: access and ID tokens 5 minutes to 1 day,
/// refresh tokens 1 hour to 10 years.
fn check_validity(input: &Doc) -> Result<()> {
    let units = input.get("TokenValidityUnits").and_then(Value::as_object);
    let unit = |k: &str, d: &str| {
        units.and_then(|u| u.get(k)).and_then(Value::as_str).unwrap_or(d).to_owned()
    };
    let check = |member: &str, unit_key: &str, default_unit: &str, min: i64, max: i64| {
        let Some(v) = input.get(member).and_then(Value::as_i64) else { return Ok(()) };
        if v == 0 && member == "RefreshTokenValidity" {
            return Ok(());
        }
        let secs = v * unit_seconds(&unit(unit_key, default_unit));
        if secs < min || secs > max {
            return Err(CognitoError::invalid_parameter("Invalid range for token validity."));
        }
        Ok(())
    };
    check("AccessTokenValidity", "AccessToken", "hours", 300, 86400)?;
    check("IdTokenValidity", "IdToken", "hours", 300, 86400)?;
    check("RefreshTokenValidity", "RefreshToken", "days", 3600, 3650 * 86400)?;
    Ok(())
}
