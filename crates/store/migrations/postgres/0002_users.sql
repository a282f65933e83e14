-- Users, aliases, groups, refresh sessions, nonces, signing keys and the outbox. Records the
-- service reads whole are JSON documents; the columns beside them are what the store looks
-- things up by (and, for users, the optimistic-concurrency version, which the document omits).

-- 0001's placeholder; never written to by a released version.
DROP TABLE users;

CREATE TABLE users (
    pool_id    TEXT NOT NULL,
    lookup_key TEXT NOT NULL,
    username   TEXT NOT NULL,
    sub        TEXT NOT NULL,
    version    BIGINT NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (pool_id, lookup_key),
    UNIQUE (pool_id, username),
    UNIQUE (pool_id, sub)
);

CREATE TABLE user_aliases (
    pool_id    TEXT NOT NULL,
    alias      TEXT NOT NULL,
    username   TEXT NOT NULL,
    PRIMARY KEY (pool_id, alias)
);
CREATE INDEX user_aliases_by_user ON user_aliases (pool_id, username);

CREATE TABLE groups (
    pool_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (pool_id, name)
);

CREATE TABLE group_members (
    pool_id    TEXT NOT NULL,
    group_name TEXT NOT NULL,
    username   TEXT NOT NULL,
    PRIMARY KEY (pool_id, group_name, username)
);
CREATE INDEX group_members_by_user ON group_members (pool_id, username, group_name);

-- One row per sign-in lineage; the token itself is never stored, only its keyed hash.
CREATE TABLE refresh_sessions (
    token_hash TEXT PRIMARY KEY,
    origin_jti TEXT NOT NULL UNIQUE,
    pool_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    username   TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    issued_ms  BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    revoked    BIGINT NOT NULL
);
CREATE INDEX refresh_sessions_by_user ON refresh_sessions (pool_id, username);

CREATE TABLE nonces (
    nonce      TEXT PRIMARY KEY,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX nonces_by_expiry ON nonces (expires_ms);

CREATE TABLE signing_keys (
    pool_id    TEXT NOT NULL,
    kid        TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (pool_id, kid)
);

-- `seq` orders messages by insertion, newest first when listed.
CREATE TABLE outbox (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    pool_id    TEXT NOT NULL,
    username   TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    doc        TEXT NOT NULL
);
CREATE INDEX outbox_by_pool ON outbox (pool_id, seq);
CREATE INDEX outbox_by_user ON outbox (pool_id, username, seq);
