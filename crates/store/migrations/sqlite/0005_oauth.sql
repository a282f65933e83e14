-- OAuth: refresh tokens that rotate (several tokens of one lineage, the replaced one valid for a
-- grace period), the scopes a lineage was granted, and pool-scoped objects (domains, resource
-- servers, branding, UI customization) kept as documents under a kind and a key.
CREATE TABLE refresh_sessions_v2 (
    token_hash  TEXT PRIMARY KEY,
    origin_jti  TEXT NOT NULL,
    pool_id     TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    username    TEXT NOT NULL,
    auth_time   BIGINT NOT NULL,
    issued_ms   BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    revoked     BIGINT NOT NULL,
    replaced_ms BIGINT,
    scopes      TEXT
);
INSERT INTO refresh_sessions_v2 (token_hash, origin_jti, pool_id, client_id, username, auth_time, issued_ms, expires_ms, revoked)
    SELECT token_hash, origin_jti, pool_id, client_id, username, auth_time, issued_ms, expires_ms, revoked FROM refresh_sessions;
DROP TABLE refresh_sessions;
ALTER TABLE refresh_sessions_v2 RENAME TO refresh_sessions;
CREATE INDEX refresh_sessions_by_user ON refresh_sessions (pool_id, username);
CREATE INDEX refresh_sessions_by_origin ON refresh_sessions (origin_jti);

CREATE TABLE pool_objects (
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    pool_id    TEXT NOT NULL,
    doc        TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX pool_objects_by_pool ON pool_objects (pool_id, kind, key);
