//! Groups and memberships.

use serde_json::{json, Map, Value};

use super::paging::{with_token, Page};
use super::Service;
use crate::error::{CognitoError, ErrorKind, Result, StoreError};
use crate::model::{field, Doc, Group, OutboxFilter, OutboxMessage};


fn group_not_found() -> CognitoError {
    CognitoError::not_found("Group not found.")
}

fn group_type(g: &Group) -> Value {
    let mut m = Map::new();
    m.insert("GroupName".into(), json!(g.name));
    m.insert("UserPoolId".into(), json!(g.pool_id));
    if let Some(d) = &g.description {
        m.insert("Description".into(), json!(d));
    }
    if let Some(r) = &g.role_arn {
        m.insert("RoleArn".into(), json!(r));
    }
    if let Some(p) = g.precedence {
        m.insert("Precedence".into(), json!(p));
    }
    m.insert("LastModifiedDate".into(), json!(g.modified_ms as f64 / 1000.0));
    m.insert("CreationDate".into(), json!(g.created_ms as f64 / 1000.0));
    Value::Object(m)
}

impl Service {
    async fn group(&self, pool_id: &str, name: &str) -> Result<Group> {
        self.store.get_group(pool_id, name).await?.ok_or_else(group_not_found)
    }

    pub async fn create_group(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let now = self.now_ms();
        let g = Group {
            pool_id: pool.id.clone(),
            name: field(&input, "GroupName").to_owned(),
            description: input.get("Description").and_then(Value::as_str).map(str::to_owned),
            role_arn: input.get("RoleArn").and_then(Value::as_str).map(str::to_owned),
            precedence: input.get("Precedence").and_then(Value::as_i64),
            created_ms: now,
            modified_ms: now,
        };
        match self.store.insert_group(&g).await {
            Ok(()) => Ok(json!({ "Group": group_type(&g) })),
            Err(StoreError::Conflict) => {
                Err(CognitoError::new(ErrorKind::GroupExists, "A group with the name already exists."))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_group(&self, pool_id: &str, name: &str) -> Result<Value> {
        self.pool(pool_id).await?;
        Ok(json!({ "Group": group_type(&self.group(pool_id, name).await?) }))
    }

    pub async fn update_group(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let mut g = self.group(&pool.id, field(&input, "GroupName")).await?;
        // UpdateGroup changes only the members it is given.
        if let Some(d) = input.get("Description").and_then(Value::as_str) {
            g.description = Some(d.to_owned());
        }
        if let Some(r) = input.get("RoleArn").and_then(Value::as_str) {
            g.role_arn = Some(r.to_owned());
        }
        if let Some(p) = input.get("Precedence").and_then(Value::as_i64) {
            g.precedence = Some(p);
        }
        g.modified_ms = self.now_ms();
        if !self.store.update_group(&g).await? {
            return Err(group_not_found());
        }
        Ok(json!({ "Group": group_type(&g) }))
    }

    pub async fn delete_group(&self, pool_id: &str, name: &str) -> Result<Value> {
        self.pool(pool_id).await?;
        if !self.store.delete_group(pool_id, name).await? {
            return Err(group_not_found());
        }
        Ok(json!({}))
    }

    pub async fn list_groups(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let page = Page::new(input.get("Limit").and_then(Value::as_i64), 60, input.get("NextToken").and_then(Value::as_str));
        let mut groups = self.store.list_groups(&pool.id, page.after.as_deref(), page.fetch_limit()).await?;
        let next = page.finish(&mut groups, |g| g.name.clone());
        let mut out = Map::new();
        out.insert("Groups".into(), Value::Array(groups.iter().map(group_type).collect()));
        Ok(with_token(out, "NextToken", next))
    }

    pub async fn admin_add_user_to_group(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let user = self.admin_user(&pool, field(&input, "Username")).await?;
        let g = self.group(&pool.id, field(&input, "GroupName")).await?;
        self.store.add_to_group(&pool.id, &g.name, &user.username).await?;
        Ok(json!({}))
    }

    pub async fn admin_remove_user_from_group(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let user = self.admin_user(&pool, field(&input, "Username")).await?;
        let g = self.group(&pool.id, field(&input, "GroupName")).await?;
        self.store.remove_from_group(&pool.id, &g.name, &user.username).await?;
        Ok(json!({}))
    }

    pub async fn admin_list_groups_for_user(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let user = self.admin_user(&pool, field(&input, "Username")).await?;
        let page = Page::new(input.get("Limit").and_then(Value::as_i64), 60, input.get("NextToken").and_then(Value::as_str));
        let mut groups =
            self.store.groups_of_user(&pool.id, &user.username, page.after.as_deref(), page.fetch_limit()).await?;
        let next = page.finish(&mut groups, |g| g.name.clone());
        let mut out = Map::new();
        out.insert("Groups".into(), Value::Array(groups.iter().map(group_type).collect()));
        Ok(with_token(out, "NextToken", next))
    }

    pub async fn list_users_in_group(&self, input: Doc) -> Result<Value> {
        let pool = self.pool(field(&input, "UserPoolId")).await?;
        let g = self.group(&pool.id, field(&input, "GroupName")).await?;
        let page = Page::new(input.get("Limit").and_then(Value::as_i64), 60, input.get("NextToken").and_then(Value::as_str));
        let mut users = self.store.users_in_group(&pool.id, &g.name, page.after.as_deref(), page.fetch_limit()).await?;
        let next = page.finish(&mut users, |u| u.username.clone());
        let mut out = Map::new();
        out.insert("Users".into(), Value::Array(users.iter().map(|u| Self::list_view(u, None)).collect()));
        Ok(with_token(out, "NextToken", next))
    }

    /// The outbox, newest first.
    pub async fn outbox(&self, filter: &OutboxFilter) -> Result<Vec<OutboxMessage>> {
        Ok(self.store.list_messages(filter).await?)
    }
}
