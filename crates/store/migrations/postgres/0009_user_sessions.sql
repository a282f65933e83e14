-- User sessions as ListUserSessions shows them: token sessions (one per refresh-token lineage,
-- `origin_jti`) and SSO sessions (a sign-in on the managed-login pages). A token session that
-- came through an SSO session names it in `parent_id`. Rows are written only while the pool
-- tracks sessions; a revoked row stays (as a tombstone) until it expires and is purged.
CREATE TABLE user_sessions (
    session_id     TEXT PRIMARY KEY,
    pool_id        TEXT NOT NULL,
    username       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    origin_jti     TEXT,
    parent_id      TEXT,
    created_ms     BIGINT NOT NULL,
    last_active_ms BIGINT NOT NULL,
    expires_ms     BIGINT NOT NULL,
    device         TEXT,
    last_ip        TEXT,
    revoked        BIGINT NOT NULL
);
CREATE INDEX user_sessions_by_user ON user_sessions (pool_id, username, session_id);
CREATE INDEX user_sessions_by_origin ON user_sessions (origin_jti);
CREATE INDEX user_sessions_by_parent ON user_sessions (parent_id);
