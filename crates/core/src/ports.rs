//! The ports the service calls. Adapters (SQLite / PostgreSQL stores, clocks) implement them.

use async_trait::async_trait;

pub use crate::error::StoreError;
use crate::model::{
    AppClient, Group, InvocationFilter, Lockout, OutboxFilter, OutboxMessage, PoolObject, RefreshSession,
    StoredFunction, StoredInvocation, StoredKey, User, UserPool,
};

pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// The most groups a user's tokens list.
pub const MAX_TOKEN_GROUPS: usize = 100;

/// What a store kept of a sign-in's read ([`Store::get_client_pool_and_users`]): the client, its
/// pool, and the users read under the keys, each with its groups. It may be out of date: see
/// [`Store::kept_sign_in`]. (No `Debug`: a client's document holds its secret.)
#[derive(Clone)]
pub struct KeptSignIn {
    pub client: AppClient,
    pub pool: UserPool,
    pub users: Vec<User>,
    /// The store's count of changes to the pool, its clients, groups and members when they were
    /// read, for [`Store::confirm_kept`].
    pub generation: i64,
}

/// Persistent state. Every method is atomic on its own; the service never holds a transaction
/// open across a trigger call. Implementations keep no per-process cache that is acted on
/// unconfirmed: several servers may share one database and must see each other's writes at
/// once (what [`Store::kept_sign_in`] hands out is confirmed in a statement of its own).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip proving the store answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Inserts a new pool; `Conflict` if the id is taken.
    async fn insert_pool(&self, pool: &UserPool) -> StoreResult<()>;
    async fn get_pool(&self, id: &str) -> StoreResult<Option<UserPool>>;
    /// Replaces a pool's document; false when the pool is gone.
    async fn update_pool(&self, pool: &UserPool) -> StoreResult<bool>;
    /// Deletes a pool with its clients and everything else it owns; false when it was gone.
    async fn delete_pool(&self, id: &str) -> StoreResult<bool>;
    /// Pools ordered by id, starting after `after`.
    async fn list_pools(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<UserPool>>;

    /// Inserts a new client; `Conflict` if the id is taken.
    async fn insert_client(&self, client: &AppClient) -> StoreResult<()>;
    /// A client by its id alone (client-authenticated operations carry no pool id).
    async fn get_client(&self, client_id: &str) -> StoreResult<Option<AppClient>>;
    /// A client and its pool in one read (the start of every client-authenticated call); None
    /// when the client is unknown. A client whose pool is gone reads as unknown.
    async fn get_client_and_pool(&self, client_id: &str) -> StoreResult<Option<(AppClient, UserPool)>> {
        let Some(client) = self.get_client(client_id).await? else { return Ok(None) };
        Ok(self.get_pool(&client.pool_id).await?.map(|pool| (client, pool)))
    }
    /// For a sign-in that names its user: [`Store::get_client_and_pool`], and the users whose
    /// lookup key is one of `keys`, each with its first 100 groups as
    /// [`Store::get_user_with_groups`] reads them, in the same read where that saves a round
    /// trip to the database. The users are None when they were not read (the default, for a
    /// store whose reads cost no round trip): read them with `get_user_with_groups`.
    async fn get_client_pool_and_users(
        &self,
        client_id: &str,
        keys: [&str; 2],
    ) -> StoreResult<Option<(AppClient, UserPool, Option<Vec<User>>)>> {
        let _ = keys;
        Ok(self.get_client_and_pool(client_id).await?.map(|(client, pool)| (client, pool, None)))
    }
    /// What [`Store::get_client_pool_and_users`] read lately for `client_id` and keys whose
    /// first is `key`, kept in this process (no round trip); None when nothing is (the default,
    /// for a store that keeps nothing). It may be out of date: act on it only once
    /// [`Store::confirm_kept`] says it is current.
    fn kept_sign_in(&self, client_id: &str, key: &str) -> Option<KeptSignIn> {
        let _ = (client_id, key);
        None
    }
    /// Whether `user` of a kept read is still at its version and its pool, the pool's clients,
    /// groups and members are as they were at `generation`: then the kept client, pool and
    /// `user` (with its groups) are what a read now would give. One statement.
    async fn confirm_kept(&self, user: &User, generation: i64) -> StoreResult<bool> {
        let _ = (user, generation);
        Ok(false)
    }
    async fn update_client(&self, client: &AppClient) -> StoreResult<bool>;
    async fn delete_client(&self, pool_id: &str, client_id: &str) -> StoreResult<bool>;
    /// A pool's clients ordered by id, starting after `after`.
    async fn list_clients(&self, pool_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Vec<AppClient>>;

    /// How many users the pool holds (for `EstimatedNumberOfUsers`).
    async fn count_users(&self, pool_id: &str) -> StoreResult<u64>;

    // --- users -------------------------------------------------------------------------------
    // A user is found by its lookup key (the username, lowercased unless the pool is
    // case-sensitive), by its `sub`, or by an alias. Aliases are strings such as
    // `email:ana@example.com` (lowercased) that point at one user of the pool.

    /// Inserts a user and claims its aliases in one transaction. `Conflict` if the key or the
    /// sub is taken, or if any alias belongs to another user (nothing is written then).
    async fn insert_user(&self, user: &User, key: &str, aliases: &[String]) -> StoreResult<()>;
    /// As [`Store::insert_user`], for a bulk load that records its progress with a later write
    /// of its own: the store may answer before the user is durable (on PostgreSQL the commit
    /// does not wait for its WAL flush; the next ordinary commit flushes it). Visible to every
    /// reader at once, as any insert.
    async fn insert_user_bulk(&self, user: &User, key: &str, aliases: &[String]) -> StoreResult<()> {
        self.insert_user(user, key, aliases).await
    }
    /// The user with this lookup key; `version` is filled in.
    async fn get_user(&self, pool_id: &str, key: &str) -> StoreResult<Option<User>>;
    async fn get_user_by_sub(&self, pool_id: &str, sub: &str) -> StoreResult<Option<User>>;
    /// The user with this sub and its first 100 groups (by name) in `User::groups`, in one read.
    async fn get_user_by_sub_with_groups(&self, pool_id: &str, sub: &str) -> StoreResult<Option<User>>;
    /// The user with this lookup key and its first 100 groups (by name) in `User::groups`, in
    /// one read.
    async fn get_user_with_groups(&self, pool_id: &str, key: &str) -> StoreResult<Option<User>>;
    /// The user an alias points at.
    async fn get_user_by_alias(&self, pool_id: &str, alias: &str) -> StoreResult<Option<User>>;
    /// Writes a user back if nobody changed it since it was read (its `version` still matches);
    /// false otherwise (reload and retry). The stored version is incremented.
    async fn update_user(&self, user: &User) -> StoreResult<bool>;
    /// Deletes a user with its aliases, group memberships and refresh sessions.
    async fn delete_user(&self, pool_id: &str, username: &str) -> StoreResult<bool>;
    /// Users ordered by lookup key, after `after`; returns (key, user) pairs.
    async fn list_users(&self, pool_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Vec<(String, User)>>;
    /// The users a ListUsers filter matches, after the cursor `after`; returns (cursor, user)
    /// pairs. An exact filter's users come in lookup-key order and the cursor is the key; a
    /// prefix filter's come in the order of their folded value, then key, and the cursor is
    /// [`prefix_cursor`] (a cursor [`split_prefix_cursor`] cannot read finds nobody). Answered
    /// from an index the store keeps in step with every user write (see [`search_terms`]), so
    /// the cost grows with the page, not with the pool or the matches.
    async fn search_users(
        &self,
        pool_id: &str,
        search: &UserSearch,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<(String, User)>>;

    /// Points `alias` at `username`. If another user holds it: with `steal`, it moves and the
    /// previous holder's username is returned; without, `Conflict`.
    async fn set_alias(&self, pool_id: &str, alias: &str, username: &str, steal: bool) -> StoreResult<Option<String>>;
    /// Removes `alias` if it points at `username`.
    async fn remove_alias(&self, pool_id: &str, alias: &str, username: &str) -> StoreResult<()>;
    /// The aliases pointing at a user.
    async fn aliases_of(&self, pool_id: &str, username: &str) -> StoreResult<Vec<String>>;

    // --- groups ------------------------------------------------------------------------------

    /// `Conflict` if the pool has a group of that name.
    async fn insert_group(&self, group: &Group) -> StoreResult<()>;
    async fn get_group(&self, pool_id: &str, name: &str) -> StoreResult<Option<Group>>;
    async fn update_group(&self, group: &Group) -> StoreResult<bool>;
    /// Deletes a group and its memberships.
    async fn delete_group(&self, pool_id: &str, name: &str) -> StoreResult<bool>;
    /// Groups ordered by name, after `after`.
    async fn list_groups(&self, pool_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Vec<Group>>;
    /// Idempotent.
    async fn add_to_group(&self, pool_id: &str, group: &str, username: &str) -> StoreResult<()>;
    /// Idempotent.
    async fn remove_from_group(&self, pool_id: &str, group: &str, username: &str) -> StoreResult<()>;
    /// A user's groups ordered by name, after `after`.
    async fn groups_of_user(
        &self,
        pool_id: &str,
        username: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Group>>;
    /// A group's members ordered by username, after `after`.
    async fn users_in_group(
        &self,
        pool_id: &str,
        group: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<User>>;

    // --- tokens and one-time state ---------------------------------------------------------

    /// Stores a token's record (the tokens issued before tokens carried their own, and tests);
    /// `Conflict` when its lineage has a stored record already.
    async fn insert_refresh(&self, session: &RefreshSession) -> StoreResult<()>;
    /// Whether the user `sub` of the pool `pool_id` is still at `version` (a sign-in that
    /// checked a password against that version confirms it so before issuing tokens).
    async fn user_at_version(&self, pool_id: &str, sub: &str, version: i64) -> StoreResult<bool>;
    async fn get_refresh(&self, token_hash: &str) -> StoreResult<Option<RefreshSession>>;
    /// A stored record of the lineage `origin_jti` of the user `username` of the pool `pool_id`
    /// (a lineage is looked up under its user, whose index holds it), a revoked one first.
    async fn get_refresh_by_origin(
        &self,
        pool_id: &str,
        username: &str,
        origin_jti: &str,
    ) -> StoreResult<Option<RefreshSession>>;
    /// Revokes the lineage of `session`: marks its stored records revoked, stores a revoked
    /// record of the lineage (so that a lineage nothing was stored of is revoked too) and ends
    /// the lineage's token session, under its pool and user.
    async fn revoke_refresh(&self, session: &RefreshSession) -> StoreResult<()>;
    /// Marks all of a user's stored lineages revoked.
    async fn revoke_user_refresh(&self, pool_id: &str, username: &str) -> StoreResult<()>;
    /// Deletes the records that expired before `expired_before_ms`; returns how many.
    async fn purge_refresh_sessions(&self, expired_before_ms: i64) -> StoreResult<u64>;
    /// Rotation: records the token `session` (by its `token_hash`) as replaced at `replaced_ms`,
    /// unless it already was; the new token of the lineage carries its own record.
    async fn mark_replaced(&self, session: &RefreshSession, replaced_ms: i64) -> StoreResult<()>;

    // --- user sessions (ListUserSessions) ------------------------------------------------------
    // `revoke_refresh` also revokes the token session of the lineage, `revoke_user_refresh` all
    // of the user's sessions; `delete_user` and `delete_pool` delete them; and
    // `purge_refresh_sessions` deletes the sessions that expired before its cutoff too.
    // `revoke_user_session` revokes the lineages of the token sessions it revokes as
    // `revoke_refresh` does (a revoked record stored for each).

    /// Inserts a session; `Conflict` if its id is taken.
    async fn insert_user_session(&self, session: &UserSession) -> StoreResult<()>;
    async fn get_user_session(&self, session_id: &str) -> StoreResult<Option<UserSession>>;
    /// A user's sessions that are neither revoked nor expired at `now_ms`, ordered by id,
    /// starting after `after`.
    async fn list_user_sessions(
        &self,
        pool_id: &str,
        username: &str,
        now_ms: i64,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<UserSession>>;
    /// Records activity on a live session: its last-active time and, when given, device and
    /// address. False when the session is unknown or revoked.
    async fn touch_user_session(
        &self,
        session_id: &str,
        at_ms: i64,
        device: Option<&str>,
        ip: Option<&str>,
    ) -> StoreResult<bool>;
    /// Revokes a session and, with `children`, the sessions whose parent it is, together with
    /// the refresh-token lineages of the token sessions among them, in one transaction. False
    /// when the session is unknown.
    async fn revoke_user_session(&self, session_id: &str, children: bool) -> StoreResult<bool>;

    // --- pool objects ------------------------------------------------------------------------

    /// Stores an object: `Conflict` when `create` and the kind already has the key; otherwise
    /// replaces it (keeping its creation time).
    async fn put_object(&self, object: &PoolObject, create: bool) -> StoreResult<()>;
    async fn get_object(&self, kind: &str, key: &str) -> StoreResult<Option<PoolObject>>;
    /// A pool's objects of one kind, ordered by key, after `after`.
    async fn list_objects(
        &self,
        kind: &str,
        pool_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<PoolObject>>;
    /// False when there was no such object.
    async fn delete_object(&self, kind: &str, key: &str) -> StoreResult<bool>;

    /// Records a single-use nonce (sealed sessions, SRP secret blocks). True the first time,
    /// false if it was seen before. Entries may be forgotten after `expires_ms`.
    async fn consume_nonce(&self, nonce: &str, expires_ms: i64) -> StoreResult<bool>;

    // --- password attempts for unknown names -------------------------------------------------
    /// Failed-password bookkeeping for sign-in names no user has, kept so that with
    /// PreventUserExistenceErrors they lock out as real users do. `subject` is an opaque keyed
    /// hash of the name: the store never sees the name itself.
    async fn get_password_attempts(&self, pool_id: &str, subject: &str) -> StoreResult<Option<Lockout>>;
    /// Compare-and-set: writes `new` if the record is still `expected` (`None`: there is no
    /// record yet) and returns true; returns false, writing nothing, when another writer changed
    /// it first.
    async fn swap_password_attempts(
        &self,
        pool_id: &str,
        subject: &str,
        expected: Option<&Lockout>,
        new: &Lockout,
    ) -> StoreResult<bool>;
    /// Deletes the records whose last failure is before `before_ms`; returns how many.
    async fn purge_password_attempts(&self, before_ms: i64) -> StoreResult<u64>;

    async fn insert_signing_keys(&self, keys: &[StoredKey]) -> StoreResult<()>;
    async fn signing_keys(&self, pool_id: &str) -> StoreResult<Vec<StoredKey>>;

    // --- outbox ------------------------------------------------------------------------------

    async fn insert_message(&self, message: &OutboxMessage) -> StoreResult<()>;
    /// Newest first.
    async fn list_messages(&self, filter: &OutboxFilter) -> StoreResult<Vec<OutboxMessage>>;
    /// Takes up to `limit` `Pending` messages due by `now_ms` (oldest due first) and moves
    /// their `next_attempt_ms` to `lease_until_ms`, so no other sender sharing the database
    /// takes them until then. Each row is taken by a compare-and-set: of several concurrent
    /// callers, exactly one gets a given message. Returned messages carry the new lease.
    async fn claim_due_messages(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<OutboxMessage>>;
    /// Records the outcome of an attempt: writes `message` (its status, attempts,
    /// `next_attempt_ms`, `last_error`, `sent_ms`) if it is still `Pending` under the lease
    /// `claimed_until_ms` it was claimed with; false if the lease was lost meanwhile.
    async fn update_message_delivery(&self, message: &OutboxMessage, claimed_until_ms: i64) -> StoreResult<bool>;
    /// Deletes the outbox messages created before `created_before_ms`, whatever their status;
    /// returns how many went.
    async fn purge_messages(&self, created_before_ms: i64) -> StoreResult<u64>;

    // --- functions deployed through the Lambda API -----------------------------------------

    /// `Conflict` if the name is taken.
    async fn insert_function(&self, function: &StoredFunction) -> StoreResult<()>;
    /// Without `with_code`, `code` is left empty (the package can be tens of megabytes).
    async fn get_function(&self, name: &str, with_code: bool) -> StoreResult<Option<StoredFunction>>;
    /// Replaces a function (configuration and code); false when it is gone.
    /// Without `with_code`, the stored package (`code`, `code_sha256`) is left as it is, so a
    /// configuration change does not move tens of megabytes.
    async fn update_function(&self, function: &StoredFunction, with_code: bool) -> StoreResult<bool>;
    async fn delete_function(&self, name: &str) -> StoreResult<bool>;
    /// Functions ordered by name, after `after`, without their code (`code` is empty).
    async fn list_functions(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<StoredFunction>>;

    // --- the trigger invocation log --------------------------------------------------------

    /// Appends an invocation (its `id` is ignored) and returns the id it got: larger than the
    /// id of every invocation inserted before it.
    async fn insert_invocation(&self, invocation: &StoredInvocation) -> StoreResult<u64>;
    /// Matching invocations, newest (largest id) first; a `limit` of 0 means 100.
    async fn list_invocations(&self, filter: &InvocationFilter) -> StoreResult<Vec<StoredInvocation>>;
    async fn get_invocation(&self, id: u64) -> StoreResult<Option<StoredInvocation>>;
    /// Deletes the invocations created before `created_before_ms` and all but the newest
    /// `keep`; returns how many went.
    async fn purge_invocations(&self, created_before_ms: i64, keep: usize) -> StoreResult<u64>;
}

/// What a user session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// An app's session, tied to one refresh-token lineage.
    Token,
    /// A sign-in on the managed-login pages, which app clients may reuse.
    Sso,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "TOKEN",
            Self::Sso => "SSO",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "TOKEN" => Some(Self::Token),
            "SSO" => Some(Self::Sso),
            _ => None,
        }
    }
}

/// A user session, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSession {
    /// `tkn…` or `sso…`, 28 characters.
    pub session_id: String,
    pub pool_id: String,
    pub username: String,
    pub kind: SessionKind,
    /// The client the session belongs to (for an SSO session, the one signed in through).
    pub client_id: String,
    /// A token session's refresh-token lineage.
    pub origin_jti: Option<String>,
    /// The SSO session a token session came through.
    pub parent_id: Option<String>,
    pub created_ms: i64,
    pub last_active_ms: i64,
    pub expires_ms: i64,
    /// What the caller's User-Agent says about its device, at the last activity.
    pub device: Option<String>,
    /// The caller's address at the last activity.
    pub last_ip: Option<String>,
    pub revoked: bool,
}

/// The attributes ListUsers can filter on (Cognito's list; custom attributes are not searchable).
pub const SEARCHABLE: &[&str] = &[
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
];

/// A ListUsers filter: `attribute = "value"` (exact, case-sensitive) or `attribute ^= "value"`
/// (prefix, compared after [`fold_search`] on both sides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSearch {
    /// One of [`SEARCHABLE`].
    pub attribute: String,
    pub value: String,
    pub prefix: bool,
}

/// How prefix searches compare values: Unicode lowercase.
pub fn fold_search(value: &str) -> String {
    value.to_lowercase()
}

/// A prefix search's cursor: the folded value and lookup key of the last user of a page, as
/// one string (`<bytes of folded>:<folded><key>`).
pub fn prefix_cursor(folded: &str, key: &str) -> String {
    format!("{}:{folded}{key}", folded.len())
}

/// The (folded value, key) a [`prefix_cursor`] holds; None for any other string.
pub fn split_prefix_cursor(cursor: &str) -> Option<(&str, &str)> {
    let (len, rest) = cursor.split_once(':')?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let len: usize = len.parse().ok()?;
    (len <= rest.len() && rest.is_char_boundary(len)).then(|| rest.split_at(len))
}

/// The (attribute, value) pairs a user can be found by with ListUsers: the username, the
/// searchable attributes it has, `cognito:user_status` (`CONFIRMED`, ...) and `status`
/// (`Enabled` / `Disabled`). Stores index exactly these.
pub fn search_terms(user: &User) -> Vec<(&'static str, String)> {
    let mut out = Vec::with_capacity(SEARCHABLE.len());
    for &attr in SEARCHABLE {
        let value = match attr {
            "username" => Some(user.username.clone()),
            "cognito:user_status" => Some(user.status.as_str().to_owned()),
            "status" => Some(if user.enabled { "Enabled" } else { "Disabled" }.to_owned()),
            "sub" => Some(user.attribute("sub").unwrap_or(&user.sub).to_owned()),
            other => user.attribute(other).map(str::to_owned),
        };
        if let Some(value) = value {
            out.push((attr, value));
        }
    }
    out
}

impl UserSearch {
    /// Whether `user` matches, by the same rule the stores' indexes apply.
    pub fn matches(&self, user: &User) -> bool {
        let folded = self.prefix.then(|| fold_search(&self.value));
        search_terms(user).into_iter().filter(|(attr, _)| *attr == self.attribute).any(|(_, v)| match &folded {
            Some(p) => fold_search(&v).starts_with(p.as_str()),
            None => v == self.value,
        })
    }
}

/// Hands outbox messages to real transports (SMTP, an SMS provider). The service only asks
/// whether a transport exists, stores the message `Pending` if so, and wakes the sender; the
/// sender claims due messages from the store, so a message survives restarts and crashes.
pub trait Sender: Send + Sync + 'static {
    /// Whether messages on `channel` (`EMAIL` or `SMS`) from pool `pool_id` go out through a
    /// transport; when not, they are only recorded in the outbox.
    fn has_transport(&self, pool_id: &str, channel: &str) -> bool;
    /// A message became due: look now instead of at the next poll. Never blocks.
    fn wake(&self);
}

/// A sender for servers with no transports: every message is only recorded.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTransports;

impl Sender for NoTransports {
    fn has_transport(&self, _pool_id: &str, _channel: &str) -> bool {
        false
    }

    fn wake(&self) {}
}

/// Wall-clock time, injectable so tests can move it.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }
}

/// A clock that stands still until told to move: lets tests expire codes, sessions and tokens.
#[derive(Debug)]
pub struct ManualClock {
    millis: std::sync::atomic::AtomicI64,
}

impl ManualClock {
    /// Starts at the current system time.
    pub fn new() -> Self {
        Self { millis: std::sync::atomic::AtomicI64::new(SystemClock.now_millis()) }
    }

    pub fn advance(&self, millis: i64) {
        self.millis.fetch_add(millis, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.millis.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Why a trigger function produced no usable answer (the runtimes' own type, with Lambda's
/// error code and whether a retry may help).
pub use cognate_api::invoke::{InvokeFailure, LambdaErrorCode};

/// Which trigger an invocation is for, for the invocation log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeMeta {
    pub pool_id: String,
    /// None only for events run by hand (`cognate invoke`) that name no known source.
    pub trigger_source: Option<cognate_api::trigger::TriggerSource>,
    /// One id per logical invocation: Cognito's retries of it share it.
    pub invocation_id: String,
    /// 1 for the first try, 2 and 3 for retries.
    pub attempt: u32,
    /// The API request that caused the invocation, when it came from one.
    pub api_request: Option<crate::context::ApiRequest>,
}

/// Runs trigger functions. `function` is the value from a pool's `LambdaConfig`: a Lambda ARN
/// (`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`) or a bare name; the
/// adapter resolves it (declared functions first, then deployed ones, then a configured Lambda
/// endpoint). Synchronous: returns the function's response event. Adapters record every call.
#[async_trait]
pub trait Invoker: Send + Sync + 'static {
    async fn invoke(
        &self,
        function: &str,
        event: &serde_json::Value,
        meta: &InvokeMeta,
    ) -> Result<serde_json::Value, InvokeFailure>;

    /// Fire-and-forget (custom email / SMS senders): the caller never waits for or sees the
    /// outcome, which is still recorded.
    fn invoke_async(&self, function: &str, event: serde_json::Value, meta: InvokeMeta);
}

/// An invoker for servers with no functions: every function is unknown.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFunctions;

#[async_trait]
impl Invoker for NoFunctions {
    async fn invoke(
        &self,
        function: &str,
        _event: &serde_json::Value,
        _meta: &InvokeMeta,
    ) -> Result<serde_json::Value, InvokeFailure> {
        Err(InvokeFailure::unavailable(LambdaErrorCode::ResourceNotFound, format!("no function {function}")))
    }

    fn invoke_async(&self, _function: &str, _event: serde_json::Value, _meta: InvokeMeta) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_cursors_round_trip_and_strangers_are_none() {
        for (folded, key) in [("jo@example.com", "ana"), ("", "k"), ("a:1", "b:2"), ("ü\u{10FFFF}", "é"), ("x", "")] {
            assert_eq!(split_prefix_cursor(&prefix_cursor(folded, key)), Some((folded, key)));
        }
        for stranger in ["", "ana", ":x", "+1:ab", "-1:ab", "9:short", "1:é", "99999999999999999999999:x"] {
            assert_eq!(split_prefix_cursor(stranger), None, "{stranger:?}");
        }
    }
}
