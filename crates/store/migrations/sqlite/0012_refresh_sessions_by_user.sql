-- Refresh sessions in two B-trees instead of four: the table is keyed by the token's hash itself
-- (no rowid table beside the key's index), and the one other index, by user, also answers a
-- lineage's lookups (every caller of those knows the lineage's pool and user). A sign-in's
-- write touches two pages fewer.
CREATE TABLE refresh_sessions_v3 (
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
) WITHOUT ROWID;
INSERT INTO refresh_sessions_v3 (token_hash, origin_jti, pool_id, client_id, username, auth_time, issued_ms,
                                 expires_ms, revoked, replaced_ms, scopes)
    SELECT token_hash, origin_jti, pool_id, client_id, username, auth_time, issued_ms, expires_ms, revoked,
           replaced_ms, scopes
    FROM refresh_sessions;
DROP TABLE refresh_sessions;
ALTER TABLE refresh_sessions_v3 RENAME TO refresh_sessions;
CREATE INDEX refresh_sessions_by_user ON refresh_sessions (pool_id, username, origin_jti);
