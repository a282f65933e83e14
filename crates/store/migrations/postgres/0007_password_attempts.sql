-- Failed-password bookkeeping for sign-in names no user has, so that with
-- PreventUserExistenceErrors they lock out as real users do. `subject` is a keyed hash of the
-- name, never the name. Rows whose last failure is older than the lockout's memory are purged.
CREATE TABLE password_attempts (
    pool_id         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    failures        BIGINT NOT NULL,
    last_failure_ms BIGINT NOT NULL,
    locked_until_ms BIGINT NOT NULL,
    PRIMARY KEY (pool_id, subject)
);
CREATE INDEX password_attempts_by_age ON password_attempts (last_failure_ms);
