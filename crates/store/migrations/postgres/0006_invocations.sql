-- The trigger invocation log, shared by every server on the database. Listed newest first (by
-- seq), filtered by pool, user, trigger source and outcome, and purged by age and count. The
-- record itself, secrets already redacted, is the document.
CREATE TABLE invocations (
    seq            BIGSERIAL PRIMARY KEY,
    created_ms     BIGINT NOT NULL,
    pool_id        TEXT NOT NULL,
    trigger_source TEXT NOT NULL,
    username       TEXT,
    outcome        TEXT NOT NULL,
    api_request_id TEXT,
    doc            TEXT NOT NULL
);
CREATE INDEX invocations_by_pool ON invocations (pool_id, seq);
CREATE INDEX invocations_by_user ON invocations (username, seq);
CREATE INDEX invocations_by_request ON invocations (api_request_id);
CREATE INDEX invocations_by_time ON invocations (created_ms);
