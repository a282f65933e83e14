-- OAuth: refresh tokens that rotate (several tokens of one lineage, the replaced one valid for a
-- grace period), the scopes a lineage was granted, and pool-scoped objects (domains, resource
-- servers, branding, UI customization) kept as documents under a kind and a key.
ALTER TABLE refresh_sessions DROP CONSTRAINT refresh_sessions_origin_jti_key;
ALTER TABLE refresh_sessions ADD COLUMN replaced_ms BIGINT;
ALTER TABLE refresh_sessions ADD COLUMN scopes TEXT;
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
