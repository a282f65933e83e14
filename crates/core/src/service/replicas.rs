//! What cannot be real on one server, stored and described as Cognito describes it: user pool
//! replicas, point-in-time recovery and provisioned limits.
//!
//! - **Replicas** are pool objects of the kind `replica`, one per secondary region, keyed by
//!   pool and region. A pool is always its own primary replica (ListUserPoolReplicas lists it
//!   first); the secondaries' regions also appear as `ReplicaRegions` in ListUserPools. Nothing
//!   is copied anywhere: a replica is a record of what was asked for.
//! - **Point-in-time recoveries** are pool objects of the kind `pitr`, keyed so that the newest
//!   comes first, with an index by restore id (`pitr-id`). cognate keeps no history of user
//!   data, so a recovery's preview counts no change and applying it changes nothing; its
//!   statuses, windows and limits are Cognito's.
//! - **Provisioned limits** are account-level: objects of the kind `provisioned-limit` outside
//!   any pool, keyed by region and API category. They are stored and described; the request
//!   rates cognate enforces are its own (`crates/server/src/limits.rs`).
//!
//! Transitions that take time in AWS complete here at once, and the answer to the request that
//! started one still shows the in-between status Cognito answers with: CreateUserPoolReplica
//! answers `CREATING` and the replica is `INACTIVE` on the next read; DeleteUserPoolReplica
//! answers `DELETING` and the replica is gone on the next read; InitiatePointInTimeRecovery
//! answers `PREVIEW_GENERATING` and the preview is `PREVIEW_GENERATED` on the next describe;
//! StartPointInTimeRecovery answers `RESTORING` and the recovery is `RESTORE_COMPLETED` on the
//! next describe. A preview neither started nor cancelled within 24 hours of its initiation is
//! `PREVIEW_EXPIRED` from then on (decided when it is next read).

use cognate_api::{
    CancelPointInTimeRecoveryRequest, CancelPointInTimeRecoveryResponse, CreateUserPoolReplicaRequest,
    CreateUserPoolReplicaResponse, DeleteUserPoolReplicaRequest, DeleteUserPoolReplicaResponse,
    DescribePointInTimeRecoveryRequest, DescribePointInTimeRecoveryResponse, GetProvisionedLimitRequest,
    GetProvisionedLimitResponse, InitiatePointInTimeRecoveryRequest, InitiatePointInTimeRecoveryResponse, LimitClass,
    LimitDefinitionType, LimitType, ListPointInTimeRecoveriesRequest, ListPointInTimeRecoveriesResponse,
    ListUserPoolReplicasRequest, ListUserPoolReplicasResponse, Map, ReplicaRoleType, ReplicaStatusType,
    RestorationDescriptionType, RestorationType, RestorePreviewType, RestoreStatusType,
    StartPointInTimeRecoveryRequest, StartPointInTimeRecoveryResponse, UpdateProvisionedLimitRequest,
    UpdateProvisionedLimitResponse, UpdateReplicaStatusType, UpdateUserPoolReplicaRequest,
    UpdateUserPoolReplicaResponse, UserPoolReplicaType,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::paging::Page;
use super::Service;
use crate::context::RequestContext;
use crate::error::{CognitoError, ErrorKind, Result, StoreError};
use crate::ids;
use crate::model::{get_str, UserPool};

const REPLICA: &str = "replica";
const RESTORE: &str = "pitr";
const RESTORE_ID: &str = "pitr-id";
/// The pool's one active recovery, held from initiation until the recovery is cancelled,
/// completed or expires: only the request that creates it may initiate one, and only the
/// request that deletes it may end one (so two servers on one database agree).
const RESTORE_ACTIVE: &str = "pitr-active";
const LIMIT: &str = "provisioned-limit";
/// Account-level objects belong to no pool (so deleting a pool never deletes them).
const NO_POOL: &str = "";

// UNVERIFIED: Cognito documents no number of secondary replicas per pool; cognate allows five.
const MAX_REPLICAS: usize = 5;
/// Tags a resource may carry (AWS's limit per resource, as for the pool itself).
const MAX_TAGS: usize = 50;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
/// The recovery point must be at least this far in the past.
const MIN_AGE_MS: i64 = 15 * MINUTE_MS;
/// A preview neither started nor cancelled within this time after initiation expires.
const PREVIEW_LIFETIME_MS: i64 = DAY_MS;
/// Recovery previews per pool: three in 24 hours, ten in 30 days; one completed recovery in 24
/// hours.
const PREVIEWS_PER_DAY: usize = 3;
const PREVIEWS_PER_30_DAYS: usize = 10;
/// The entity types a recovery preview counts, as RestorePreviewType names them.
const PREVIEW_ENTITIES: &[&str] = &["Users", "Groups", "User MFAs", "Passkeys"];

/// A pool object's key: the pool, then what names the object within it.
fn pool_key(pool_id: &str, name: &str) -> String {
    format!("{pool_id}\n{name}")
}

/// Newest first: the key orders by the complement of the initiation time.
fn restore_order_key(pool_id: &str, initiated_ms: i64, restore_id: &str) -> String {
    format!("{pool_id}\n{:019}\n{restore_id}", i64::MAX - initiated_ms)
}

fn replica_not_found(pool_id: &str, region: &str) -> CognitoError {
    CognitoError::not_found(format!("User pool {pool_id} has no replica in {region}."))
}

fn restore_not_found(restore_id: &str) -> CognitoError {
    CognitoError::not_found(format!("Point-in-time recovery {restore_id} does not exist."))
}

fn limit_exceeded(message: impl Into<String>) -> CognitoError {
    CognitoError::new(ErrorKind::LimitExceeded, message)
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// A secondary replica as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Replica {
    region: String,
    status: ReplicaStatusType,
    #[serde(default)]
    tags: Map<String>,
    created_ms: i64,
}

/// A point-in-time recovery as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Restore {
    restore_id: String,
    status: RestoreStatusType,
    /// Seconds since the epoch, as given.
    restore_timestamp: f64,
    initiated_ms: i64,
    #[serde(default)]
    completed_ms: Option<i64>,
}

impl Restore {
    /// Whether the recovery still pauses the pool's writes (the one recovery a pool may have).
    fn active(&self) -> bool {
        matches!(
            self.status,
            RestoreStatusType::PreviewGenerating | RestoreStatusType::PreviewGenerated | RestoreStatusType::Restoring
        )
    }

    /// The recovery as RestorationType describes it; the preview once it is generated.
    fn view(&self) -> RestorationType {
        let preview = !matches!(
            self.status,
            RestoreStatusType::PreviewGenerating
                | RestoreStatusType::PreviewGenerationFailed
                | RestoreStatusType::PreviewCancelled
                | RestoreStatusType::PreviewExpired
        );
        RestorationType {
            restore_id: Some(self.restore_id.clone()),
            restore_status: Some(self.status),
            restore_timestamp: Some(self.restore_timestamp),
            trigger_timestamp: Some(secs(self.initiated_ms)),
            // cognate keeps no history of user data: a recovery creates, updates and deletes
            // nothing, and its preview says so.
            // UNVERIFIED: that Cognito lists every entity type, with zero counts, in a preview
            // of no change.
            restore_preview: preview.then(|| {
                PREVIEW_ENTITIES
                    .iter()
                    .map(|e| RestorePreviewType {
                        entity: Some((*e).to_owned()),
                        create_count: Some(0),
                        update_count: Some(0),
                        delete_count: Some(0),
                    })
                    .collect()
            }),
        }
    }
}

/// The API categories of Cognito's request-rate quotas with their default (free) rates in
/// requests per second.
// UNVERIFIED: the category names and default rates are those of Cognito's quotas page as
// cognate knows it (UserAuthentication 120, UserCreation 50 and UserAccountRecovery 30 are the
// ones limits.rs also uses); Cognito may know more categories.
const CATEGORIES: &[(&str, i32)] = &[
    ("UserAuthentication", 120),
    ("UserCreation", 50),
    ("UserFederation", 25),
    ("UserAccountRecovery", 30),
    ("UserRead", 120),
    ("UserUpdate", 25),
    ("UserResourceRead", 50),
    ("UserResourceUpdate", 25),
    ("UserList", 30),
    ("UserPoolRead", 15),
    ("UserPoolUpdate", 15),
    ("UserPoolResourceRead", 20),
    ("UserPoolResourceUpdate", 15),
    ("UserPoolClientRead", 15),
    ("UserPoolClientUpdate", 15),
    ("ClientAuthentication", 150),
];

// UNVERIFIED: the account-level maximum lives in Service Quotas; cognate's is ten times the
// free rate.
const MAX_LIMIT_FACTOR: i32 = 10;

/// A limit definition's category and its free rate; the definition must name exactly one
/// `Category`.
fn category(def: &LimitDefinitionType) -> Result<(&'static str, i32)> {
    match def.limit_class {
        LimitClass::ApiCategory => {}
    }
    let given = match (def.attributes.len(), def.attributes.get("Category")) {
        (1, Some(c)) => c.as_str(),
        _ => {
            return Err(CognitoError::invalid_parameter(
                "An API_CATEGORY limit is identified by exactly one attribute, Category.",
            ))
        }
    };
    // UNVERIFIED: an unknown category is a limit that does not exist (ResourceNotFound).
    CATEGORIES
        .iter()
        .find(|(name, _)| *name == given)
        .copied()
        .ok_or_else(|| CognitoError::not_found(format!("Limit for category {given} does not exist.")))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredLimit {
    value: i32,
}

impl Service {
    /// The region a request was made in: the one it was signed for, else the server's.
    fn request_region(&self, ctx: &RequestContext) -> String {
        ctx.region.as_deref().filter(|r| ids::is_region(r)).unwrap_or(&self.config.region).to_owned()
    }

    async fn replicas(&self, pool_id: &str) -> Result<Vec<Replica>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let objects = self.store.list_objects(REPLICA, pool_id, after.as_deref(), 100).await?;
            let full = objects.len() == 100;
            after = objects.last().map(|o| o.key.clone());
            for o in objects {
                out.push(serde_json::from_value::<Replica>(Value::Object(o.doc)).map_err(CognitoError::internal)?);
            }
            if !full {
                return Ok(out);
            }
        }
    }

    /// The regions of the pool's secondary replicas, in order (ListUserPools'
    /// `ReplicaRegions`).
    // UNVERIFIED: ReplicaRegions names the secondary regions only, not the primary's.
    pub(crate) async fn replica_regions(&self, pool_id: &str) -> Result<Vec<String>> {
        Ok(self.replicas(pool_id).await?.into_iter().map(|r| r.region).collect())
    }

    fn replica_view(&self, pool: &UserPool, replica: &Replica, status: ReplicaStatusType) -> UserPoolReplicaType {
        UserPoolReplicaType {
            region_name: Some(replica.region.clone()),
            status: Some(status),
            role: Some(ReplicaRoleType::Secondary),
            user_pool_arn: Some(self.pool_arn(&replica.region, &pool.id)),
        }
    }

    fn primary_view(&self, pool: &UserPool) -> UserPoolReplicaType {
        UserPoolReplicaType {
            region_name: Some(self.pool_region(&pool.id).to_owned()),
            status: Some(ReplicaStatusType::Active),
            role: Some(ReplicaRoleType::Primary),
            user_pool_arn: Some(pool.arn().to_owned()),
        }
    }

    /// A region named as a replica's: a region name, and not the pool's own.
    fn check_replica_region(&self, pool: &UserPool, region: &str) -> Result<()> {
        if !ids::is_region(region) {
            return Err(CognitoError::invalid_parameter(format!("{region} is not a valid AWS Region.")));
        }
        if region == self.pool_region(&pool.id) {
            return Err(CognitoError::invalid_parameter(format!(
                "{region} is the primary Region of user pool {}; a replica must be in another Region.",
                pool.id
            )));
        }
        Ok(())
    }

    async fn replica(&self, pool: &UserPool, region: &str) -> Result<Replica> {
        self.check_replica_region(pool, region)?;
        self.get_doc(REPLICA, &pool_key(&pool.id, region)).await?.ok_or_else(|| replica_not_found(&pool.id, region))
    }

    /// A request that must come from the pool's primary region: refused when it was signed for
    /// one of the pool's secondary regions.
    async fn require_primary_region(&self, ctx: &RequestContext, pool: &UserPool, what: &str) -> Result<()> {
        let Some(region) = ctx.region.as_deref() else { return Ok(()) };
        if region != self.pool_region(&pool.id) && self.replica_regions(&pool.id).await?.iter().any(|r| r == region) {
            return Err(CognitoError::invalid_parameter(format!(
                "{what} must be called in the primary Region of user pool {}.",
                pool.id
            )));
        }
        Ok(())
    }

    /// CreateUserPoolReplica: answers `CREATING`; the replica is `INACTIVE` (created, not yet
    /// serving end users) from the next read on.
    pub async fn create_user_pool_replica(
        &self,
        _ctx: &RequestContext,
        req: CreateUserPoolReplicaRequest,
    ) -> Result<CreateUserPoolReplicaResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        self.check_replica_region(&pool, &req.region_name)?;
        let tags = req.user_pool_tags.unwrap_or_default();
        if tags.len() > MAX_TAGS {
            return Err(CognitoError::invalid_parameter(format!("A user pool may have at most {MAX_TAGS} tags.")));
        }
        let existing = self.replicas(&pool.id).await?;
        if existing.iter().any(|r| r.region == req.region_name) {
            // UNVERIFIED: the model names no "exists" error for replicas; InvalidParameter.
            return Err(CognitoError::invalid_parameter(format!(
                "User pool {} already has a replica in {}.",
                pool.id, req.region_name
            )));
        }
        if existing.len() >= MAX_REPLICAS {
            return Err(limit_exceeded(format!("A user pool can have at most {MAX_REPLICAS} replicas.")));
        }
        // UNVERIFIED: a new replica settles as INACTIVE (created, administrator operations
        // only), to be activated with UpdateUserPoolReplica.
        let replica = Replica {
            region: req.region_name.clone(),
            status: ReplicaStatusType::Inactive,
            tags,
            created_ms: self.now_ms(),
        };
        match self.put_doc(REPLICA, &pool_key(&pool.id, &replica.region), &pool.id, &replica, true).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(CognitoError::invalid_parameter(format!(
                    "User pool {} already has a replica in {}.",
                    pool.id, replica.region
                )))
            }
            Err(e) => return Err(e.into()),
        }
        Ok(CreateUserPoolReplicaResponse {
            user_pool_replica: Some(self.replica_view(&pool, &replica, ReplicaStatusType::Creating)),
        })
    }

    /// DeleteUserPoolReplica: only an `INACTIVE` secondary, only from the primary region;
    /// answers `DELETING` and the replica is gone from the next read on.
    pub async fn delete_user_pool_replica(
        &self,
        ctx: &RequestContext,
        req: DeleteUserPoolReplicaRequest,
    ) -> Result<DeleteUserPoolReplicaResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let replica = self.replica(&pool, &req.region_name).await?;
        self.require_primary_region(ctx, &pool, "DeleteUserPoolReplica").await?;
        if replica.status != ReplicaStatusType::Inactive {
            return Err(CognitoError::invalid_parameter(format!(
                "The replica in {} is {}; only an INACTIVE replica can be deleted.",
                replica.region, replica.status
            )));
        }
        if !self.store.delete_object(REPLICA, &pool_key(&pool.id, &replica.region)).await? {
            return Err(replica_not_found(&pool.id, &replica.region));
        }
        Ok(DeleteUserPoolReplicaResponse {
            user_pool_replica: Some(self.replica_view(&pool, &replica, ReplicaStatusType::Deleting)),
        })
    }

    /// UpdateUserPoolReplica: activates or deactivates a secondary replica, at once. Setting
    /// the status it has already is accepted and changes nothing.
    pub async fn update_user_pool_replica(
        &self,
        _ctx: &RequestContext,
        req: UpdateUserPoolReplicaRequest,
    ) -> Result<UpdateUserPoolReplicaResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        // UNVERIFIED: the primary's status cannot be changed; naming the primary's region is
        // refused as check_replica_region refuses it.
        let mut replica = self.replica(&pool, &req.region_name).await?;
        replica.status = match req.status {
            UpdateReplicaStatusType::Active => ReplicaStatusType::Active,
            UpdateReplicaStatusType::Inactive => ReplicaStatusType::Inactive,
        };
        self.put_doc(REPLICA, &pool_key(&pool.id, &replica.region), &pool.id, &replica, false).await?;
        Ok(UpdateUserPoolReplicaResponse {
            user_pool_replica: Some(self.replica_view(&pool, &replica, replica.status)),
        })
    }

    /// ListUserPoolReplicas: the primary first, then the secondaries by region name; pages of
    /// at most 60.
    pub async fn list_user_pool_replicas(
        &self,
        _ctx: &RequestContext,
        req: ListUserPoolReplicasRequest,
    ) -> Result<ListUserPoolReplicasResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        // UNVERIFIED: the operation has no MaxResults; cognate's pages hold 60, Cognito's
        // usual maximum.
        let page = Page::checked(None, 60, req.next_token.as_deref())?;
        let primary_region = self.pool_region(&pool.id).to_owned();
        let mut items: Vec<UserPoolReplicaType> = Vec::new();
        match page.after.as_deref() {
            None => items.push(self.primary_view(&pool)),
            Some(after) => {
                if after != primary_region && !ids::is_region(after) {
                    return Err(CognitoError::invalid_parameter("Paging marker is invalid."));
                }
            }
        }
        let after = page.after.as_deref().filter(|a| *a != primary_region);
        let mut secondaries = self.replicas(&pool.id).await?;
        secondaries.retain(|r| after.is_none_or(|a| r.region.as_str() > a));
        secondaries.sort_by(|a, b| a.region.cmp(&b.region));
        items.extend(secondaries.iter().map(|r| self.replica_view(&pool, r, r.status)));
        let next_token = page.finish(&mut items, |r| r.region_name.clone().unwrap_or_default());
        Ok(ListUserPoolReplicasResponse { user_pool_replicas: Some(items), next_token })
    }

    // --- point-in-time recovery ----------------------------------------------------------------

    /// A recovery as it stands now: an unstarted preview past its lifetime has expired (and is
    /// stored so).
    async fn settle(&self, pool: &UserPool, key: &str, mut restore: Restore) -> Result<Restore> {
        let unstarted =
            matches!(restore.status, RestoreStatusType::PreviewGenerating | RestoreStatusType::PreviewGenerated);
        if unstarted && self.now_ms() >= restore.initiated_ms + PREVIEW_LIFETIME_MS {
            self.release_recovery(pool, &restore.restore_id).await?;
            restore.status = RestoreStatusType::PreviewExpired;
            self.put_doc(RESTORE, key, &pool.id, &restore, false).await?;
        }
        Ok(restore)
    }

    /// Takes the pool's active-recovery slot for `restore_id`; false when another recovery
    /// holds it. A slot whose recovery is no longer active (or was never written) is freed
    /// first.
    async fn claim_recovery(&self, pool: &UserPool, restore_id: &str) -> Result<bool> {
        let mine = serde_json::json!({ "restore_id": restore_id });
        for _ in 0..2 {
            match self.put_doc(RESTORE_ACTIVE, &pool.id, &pool.id, &mine, true).await {
                Ok(()) => return Ok(true),
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
            let Some((holder, since_ms)) = self.recovery_holder(pool).await? else { continue };
            match self.restore(pool, &holder).await {
                Ok((_, r)) if r.active() => return Ok(false),
                Ok(_) => {}
                // A slot whose recovery is not written yet: another initiation is under way,
                // unless it died long ago.
                Err(e) if e.kind == ErrorKind::ResourceNotFound => {
                    if self.now_ms() < since_ms + MINUTE_MS {
                        return Ok(false);
                    }
                }
                Err(e) => return Err(e),
            }
            self.store.delete_object(RESTORE_ACTIVE, &pool.id).await?;
        }
        Ok(false)
    }

    /// The recovery holding the pool's active-recovery slot, and since when.
    async fn recovery_holder(&self, pool: &UserPool) -> Result<Option<(String, i64)>> {
        let Some(object) = self.store.get_object(RESTORE_ACTIVE, &pool.id).await? else { return Ok(None) };
        let id = object.doc.get("restore_id").and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok(Some((id, object.created_ms)))
    }

    /// Frees the pool's active-recovery slot if `restore_id` holds it; true when this call
    /// freed it (another request ending the same recovery at the same time gets false).
    async fn release_recovery(&self, pool: &UserPool, restore_id: &str) -> Result<bool> {
        if self.recovery_holder(pool).await?.is_none_or(|(holder, _)| holder != restore_id) {
            return Ok(false);
        }
        Ok(self.store.delete_object(RESTORE_ACTIVE, &pool.id).await?)
    }

    /// Ends an unstarted or running recovery: only one request may.
    async fn end_recovery(&self, pool: &UserPool, restore_id: &str) -> Result<()> {
        if !self.release_recovery(pool, restore_id).await? {
            return Err(CognitoError::new(
                ErrorKind::ConcurrentModification,
                format!("Recovery {restore_id} was changed by another request."),
            ));
        }
        Ok(())
    }

    /// Every recovery of the pool, newest first, each with its key.
    async fn restores(&self, pool: &UserPool) -> Result<Vec<(String, Restore)>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let objects = self.store.list_objects(RESTORE, &pool.id, after.as_deref(), 100).await?;
            let full = objects.len() == 100;
            after = objects.last().map(|o| o.key.clone());
            for o in objects {
                let restore = serde_json::from_value(Value::Object(o.doc)).map_err(CognitoError::internal)?;
                let restore = self.settle(pool, &o.key, restore).await?;
                out.push((o.key, restore));
            }
            if !full {
                return Ok(out);
            }
        }
    }

    async fn restore(&self, pool: &UserPool, restore_id: &str) -> Result<(String, Restore)> {
        #[derive(Deserialize)]
        struct Index {
            key: String,
        }
        let index: Index = self
            .get_doc(RESTORE_ID, &pool_key(&pool.id, restore_id))
            .await?
            .ok_or_else(|| restore_not_found(restore_id))?;
        let restore: Restore = self.get_doc(RESTORE, &index.key).await?.ok_or_else(|| restore_not_found(restore_id))?;
        let restore = self.settle(pool, &index.key, restore).await?;
        Ok((index.key, restore))
    }

    /// Essentials and Plus pools only; the window into the past each allows.
    fn recovery_window_ms(pool: &UserPool) -> Result<i64> {
        match get_str(&pool.doc, "UserPoolTier") {
            Some("PLUS") => Ok(14 * DAY_MS),
            Some("LITE") => Err(CognitoError::new(
                ErrorKind::FeatureUnavailableInTier,
                "Point-in-time recovery is available in the Essentials and Plus feature plans only.",
            )),
            _ => Ok(DAY_MS),
        }
    }

    /// InitiatePointInTimeRecovery: answers `PREVIEW_GENERATING`; the preview is
    /// `PREVIEW_GENERATED` from the next describe on.
    pub async fn initiate_point_in_time_recovery(
        &self,
        ctx: &RequestContext,
        req: InitiatePointInTimeRecoveryRequest,
    ) -> Result<InitiatePointInTimeRecoveryResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let window_ms = Self::recovery_window_ms(&pool)?;
        self.require_primary_region(ctx, &pool, "InitiatePointInTimeRecovery").await?;
        let now = self.now_ms();
        let point = req.restore_timestamp;
        if !point.is_finite() {
            return Err(CognitoError::invalid_parameter("RestoreTimestamp is not a valid time."));
        }
        let point_ms = (point * 1000.0) as i64;
        if point_ms > now - MIN_AGE_MS {
            return Err(CognitoError::invalid_parameter("The recovery point must be at least 15 minutes in the past."));
        }
        if point_ms < now - window_ms {
            return Err(CognitoError::invalid_parameter(if window_ms == DAY_MS {
                "With the Essentials feature plan, the recovery point can be up to 1 day in the past."
            } else {
                "With the Plus feature plan, the recovery point can be up to 14 days in the past."
            }));
        }
        let created = pool.doc.get("CreationDate").and_then(Value::as_f64);
        if created.is_some_and(|c| point < c) {
            return Err(CognitoError::invalid_parameter(
                "The recovery point can't be earlier than the creation time of the user pool.",
            ));
        }
        let restores = self.restores(&pool).await?;
        if restores.iter().any(|(_, r)| r.active()) {
            return Err(limit_exceeded("A user pool can have only one active recovery at a time."));
        }
        if restores.iter().any(|(_, r)| {
            r.status == RestoreStatusType::RestoreCompleted && r.completed_ms.is_some_and(|c| c > now - DAY_MS)
        }) {
            return Err(limit_exceeded("You can complete one recovery of a user pool in a 24-hour period."));
        }
        let since = |ms: i64| restores.iter().filter(|(_, r)| r.initiated_ms > now - ms).count();
        if since(DAY_MS) >= PREVIEWS_PER_DAY {
            return Err(limit_exceeded(format!(
                "You can create up to {PREVIEWS_PER_DAY} recovery previews of a user pool in a 24-hour period."
            )));
        }
        if since(30 * DAY_MS) >= PREVIEWS_PER_30_DAYS {
            return Err(limit_exceeded(format!(
                "You can create up to {PREVIEWS_PER_30_DAYS} recovery previews of a user pool in a 30-day period."
            )));
        }
        // UNVERIFIED: which exception Cognito answers while an import job runs; the operation
        // conflicts with another one in progress, so ConcurrentModification.
        if self.import_in_progress(&pool.id).await? {
            return Err(CognitoError::new(
                ErrorKind::ConcurrentModification,
                "You can't initiate a recovery while a user import job is in progress in the user pool.",
            ));
        }
        let restore_id = ids::uuid();
        if !self.claim_recovery(&pool, &restore_id).await? {
            return Err(limit_exceeded("A user pool can have only one active recovery at a time."));
        }
        let restore = Restore {
            restore_id,
            status: RestoreStatusType::PreviewGenerated,
            restore_timestamp: point,
            initiated_ms: now,
            completed_ms: None,
        };
        let key = restore_order_key(&pool.id, now, &restore.restore_id);
        self.put_doc(RESTORE, &key, &pool.id, &restore, true).await?;
        self.put_doc(
            RESTORE_ID,
            &pool_key(&pool.id, &restore.restore_id),
            &pool.id,
            &serde_json::json!({ "key": key }),
            true,
        )
        .await?;
        let answered = Restore { status: RestoreStatusType::PreviewGenerating, ..restore };
        Ok(InitiatePointInTimeRecoveryResponse { restoration: Some(answered.view()) })
    }

    /// StartPointInTimeRecovery: only a `PREVIEW_GENERATED` recovery; answers `RESTORING`, and
    /// the recovery is `RESTORE_COMPLETED` from the next describe on.
    pub async fn start_point_in_time_recovery(
        &self,
        _ctx: &RequestContext,
        req: StartPointInTimeRecoveryRequest,
    ) -> Result<StartPointInTimeRecoveryResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let (key, mut restore) = self.restore(&pool, &req.restore_id).await?;
        if restore.status != RestoreStatusType::PreviewGenerated {
            return Err(CognitoError::invalid_parameter(format!(
                "Recovery {} is {}; only a recovery in PREVIEW_GENERATED can be started.",
                restore.restore_id, restore.status
            )));
        }
        self.end_recovery(&pool, &restore.restore_id).await?;
        restore.status = RestoreStatusType::RestoreCompleted;
        restore.completed_ms = Some(self.now_ms());
        self.put_doc(RESTORE, &key, &pool.id, &restore, false).await?;
        let answered = Restore { status: RestoreStatusType::Restoring, ..restore };
        Ok(StartPointInTimeRecoveryResponse { restoration: Some(answered.view()) })
    }

    /// CancelPointInTimeRecovery: only before it starts (`PREVIEW_GENERATING` or
    /// `PREVIEW_GENERATED`); the recovery is `PREVIEW_CANCELLED` at once.
    pub async fn cancel_point_in_time_recovery(
        &self,
        _ctx: &RequestContext,
        req: CancelPointInTimeRecoveryRequest,
    ) -> Result<CancelPointInTimeRecoveryResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let (key, mut restore) = self.restore(&pool, &req.restore_id).await?;
        if !matches!(restore.status, RestoreStatusType::PreviewGenerating | RestoreStatusType::PreviewGenerated) {
            return Err(CognitoError::invalid_parameter(format!(
                "Recovery {} is {}; only a recovery in PREVIEW_GENERATING or PREVIEW_GENERATED can be cancelled.",
                restore.restore_id, restore.status
            )));
        }
        self.end_recovery(&pool, &restore.restore_id).await?;
        restore.status = RestoreStatusType::PreviewCancelled;
        self.put_doc(RESTORE, &key, &pool.id, &restore, false).await?;
        Ok(CancelPointInTimeRecoveryResponse { restoration: Some(restore.view()) })
    }

    pub async fn describe_point_in_time_recovery(
        &self,
        _ctx: &RequestContext,
        req: DescribePointInTimeRecoveryRequest,
    ) -> Result<DescribePointInTimeRecoveryResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let (_, restore) = self.restore(&pool, &req.restore_id).await?;
        Ok(DescribePointInTimeRecoveryResponse { restoration: Some(restore.view()) })
    }

    /// ListPointInTimeRecoveries: newest first, without previews; 1 to 60 a page (60 by
    /// default).
    pub async fn list_point_in_time_recoveries(
        &self,
        _ctx: &RequestContext,
        req: ListPointInTimeRecoveriesRequest,
    ) -> Result<ListPointInTimeRecoveriesResponse> {
        let pool = self.pool(&req.user_pool_id).await?;
        let page = Page::checked(req.max_results, 60, req.next_token.as_deref())?;
        let after = page.after.as_deref().map(|a| format!("{}\n{a}", pool.id));
        let objects = self.store.list_objects(RESTORE, &pool.id, after.as_deref(), page.fetch_limit()).await?;
        let mut rows = Vec::with_capacity(objects.len());
        for o in objects {
            let restore = serde_json::from_value(Value::Object(o.doc)).map_err(CognitoError::internal)?;
            let restore = self.settle(&pool, &o.key, restore).await?;
            rows.push((o.key, restore));
        }
        let next_token = page
            .finish(&mut rows, |(key, _)| key.split_once('\n').map(|(_, rest)| rest.to_owned()).unwrap_or_default());
        let restorations = rows
            .into_iter()
            .map(|(_, r)| RestorationDescriptionType {
                restore_id: Some(r.restore_id),
                restore_status: Some(r.status),
                restore_timestamp: Some(r.restore_timestamp),
            })
            .collect();
        Ok(ListPointInTimeRecoveriesResponse { restorations: Some(restorations), next_token })
    }

    // --- provisioned limits --------------------------------------------------------------------

    fn limit_view(def: &LimitDefinitionType, provisioned: i32, free: i32) -> LimitType {
        LimitType { limit_definition: def.clone(), provisioned_limit_value: provisioned, free_limit_value: free }
    }

    /// GetProvisionedLimit: the rate provisioned in the request's region, the free rate until
    /// one is set.
    pub async fn get_provisioned_limit(
        &self,
        ctx: &RequestContext,
        req: GetProvisionedLimitRequest,
    ) -> Result<GetProvisionedLimitResponse> {
        let (name, free) = category(&req.limit_definition)?;
        let key = pool_key(&self.request_region(ctx), name);
        let provisioned = self.get_doc::<StoredLimit>(LIMIT, &key).await?.map_or(free, |l| l.value);
        Ok(GetProvisionedLimitResponse { limit: Self::limit_view(&req.limit_definition, provisioned, free) })
    }

    /// UpdateProvisionedLimit: between the free rate and the account's maximum.
    pub async fn update_provisioned_limit(
        &self,
        ctx: &RequestContext,
        req: UpdateProvisionedLimitRequest,
    ) -> Result<UpdateProvisionedLimitResponse> {
        let (name, free) = category(&req.limit_definition)?;
        let value = req.requested_limit_value;
        if value < free {
            return Err(CognitoError::invalid_parameter(format!(
                "The requested limit for {name} must be at least its default limit, {free} requests per second."
            )));
        }
        let max = free * MAX_LIMIT_FACTOR;
        if value > max {
            return Err(CognitoError::new(
                ErrorKind::ServiceQuotaExceeded,
                format!("The requested limit for {name} exceeds the account's maximum of {max} requests per second."),
            ));
        }
        let key = pool_key(&self.request_region(ctx), name);
        self.put_doc(LIMIT, &key, NO_POOL, &StoredLimit { value }, false).await?;
        Ok(UpdateProvisionedLimitResponse { limit: Self::limit_view(&req.limit_definition, value, free) })
    }
}
