//! Groups and memberships.

use cognate_api::{
    AdminAddUserToGroupRequest, AdminListGroupsForUserRequest, AdminListGroupsForUserResponse,
    AdminRemoveUserFromGroupRequest, CreateGroupRequest, CreateGroupResponse, DeleteGroupRequest, Empty,
    GetGroupRequest, GetGroupResponse, GroupType, ListGroupsRequest, ListGroupsResponse, ListUsersInGroupRequest,
    ListUsersInGroupResponse, UpdateGroupRequest, UpdateGroupResponse,
};

use super::paging::Page;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result, StoreError};
use crate::model::{Group, OutboxFilter, OutboxMessage};

fn group_not_found() -> CognitoError {
    CognitoError::not_found("Group not found.")
}

fn group_type(g: &Group) -> GroupType {
    GroupType {
        group_name: Some(g.name.clone()),
        user_pool_id: Some(g.pool_id.clone()),
        description: g.description.clone(),
        role_arn: g.role_arn.clone(),
        precedence: g.precedence.map(|p| i32::try_from(p).unwrap_or(i32::MAX)),
        last_modified_date: Some(g.modified_ms as f64 / 1000.0),
        creation_date: Some(g.created_ms as f64 / 1000.0),
    }
}

impl Service {
    async fn group(&self, pool_id: &str, name: &str) -> Result<Group> {
        self.store.get_group(pool_id, name).await?.ok_or_else(group_not_found)
    }

    pub async fn create_group(&self, _ctx: &RequestContext, req: CreateGroupRequest) -> Result<CreateGroupResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let now = self.now_ms();
        let g = Group {
            pool_id: pool.id.clone(),
            name: req.group_name,
            description: req.description,
            role_arn: req.role_arn,
            precedence: req.precedence.map(i64::from),
            created_ms: now,
            modified_ms: now,
        };
        match self.store.insert_group(&g).await {
            Ok(()) => Ok(CreateGroupResponse { group: Some(group_type(&g)) }),
            Err(StoreError::Conflict) => {
                Err(CognitoError::new(ErrorKind::GroupExists, "A group with the name already exists."))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_group(&self, _ctx: &RequestContext, req: GetGroupRequest) -> Result<GetGroupResponse> {
        self.pool(&req.user_pool_id).await?;
        Ok(GetGroupResponse { group: Some(group_type(&self.group(&req.user_pool_id, &req.group_name).await?)) })
    }

    pub async fn update_group(&self, _ctx: &RequestContext, req: UpdateGroupRequest) -> Result<UpdateGroupResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let mut g = self.group(&pool.id, &req.group_name).await?;
        // UpdateGroup changes only the members it is given.
        if let Some(d) = req.description {
            g.description = Some(d);
        }
        if let Some(r) = req.role_arn {
            g.role_arn = Some(r);
        }
        if let Some(p) = req.precedence {
            g.precedence = Some(i64::from(p));
        }
        g.modified_ms = self.now_ms();
        if !self.store.update_group(&g).await? {
            return Err(group_not_found());
        }
        Ok(UpdateGroupResponse { group: Some(group_type(&g)) })
    }

    pub async fn delete_group(&self, _ctx: &RequestContext, req: DeleteGroupRequest) -> Result<Empty> {
        self.pool(&req.user_pool_id).await?;
        if !self.store.delete_group(&req.user_pool_id, &req.group_name).await? {
            return Err(group_not_found());
        }
        Ok(Empty {})
    }

    pub async fn list_groups(&self, _ctx: &RequestContext, req: ListGroupsRequest) -> Result<ListGroupsResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let page = Page::checked(req.limit, 60, req.next_token.as_deref())?;
        let mut groups = self.store.list_groups(&pool.id, page.after.as_deref(), page.fetch_limit()).await?;
        let next = page.finish(&mut groups, |g| g.name.clone());
        Ok(ListGroupsResponse { groups: Some(groups.iter().map(group_type).collect()), next_token: next })
    }

    pub async fn admin_add_user_to_group(
        &self,
        _ctx: &RequestContext,
        req: AdminAddUserToGroupRequest,
    ) -> Result<Empty> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        let g = self.group(&pool.id, &req.group_name).await?;
        self.store.add_to_group(&pool.id, &g.name, &user.username).await?;
        Ok(Empty {})
    }

    pub async fn admin_remove_user_from_group(
        &self,
        _ctx: &RequestContext,
        req: AdminRemoveUserFromGroupRequest,
    ) -> Result<Empty> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        let g = self.group(&pool.id, &req.group_name).await?;
        self.store.remove_from_group(&pool.id, &g.name, &user.username).await?;
        Ok(Empty {})
    }

    pub async fn admin_list_groups_for_user(
        &self,
        _ctx: &RequestContext,
        req: AdminListGroupsForUserRequest,
    ) -> Result<AdminListGroupsForUserResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let user = self.admin_user(&pool, &req.username).await?;
        let page = Page::checked(req.limit, 60, req.next_token.as_deref())?;
        let mut groups =
            self.store.groups_of_user(&pool.id, &user.username, page.after.as_deref(), page.fetch_limit()).await?;
        let next = page.finish(&mut groups, |g| g.name.clone());
        Ok(AdminListGroupsForUserResponse { groups: Some(groups.iter().map(group_type).collect()), next_token: next })
    }

    pub async fn list_users_in_group(
        &self,
        _ctx: &RequestContext,
        req: ListUsersInGroupRequest,
    ) -> Result<ListUsersInGroupResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let g = self.group(&pool.id, &req.group_name).await?;
        let page = Page::checked(req.limit, 60, req.next_token.as_deref())?;
        let mut users = self.store.users_in_group(&pool.id, &g.name, page.after.as_deref(), page.fetch_limit()).await?;
        let next = page.finish(&mut users, |u| u.username.clone());
        Ok(ListUsersInGroupResponse {
            users: Some(users.iter().map(|u| Self::list_view(u, None)).collect()),
            next_token: next,
        })
    }

    /// The outbox, newest first.
    pub async fn outbox(&self, filter: &OutboxFilter) -> Result<Vec<OutboxMessage>> {
        Ok(self.store.list_messages(filter).await?)
    }
}
