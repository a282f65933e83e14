-- Functions deployed through the Lambda API. `config` is the FunctionConfiguration document;
-- `code` the zip package, so every server sharing the database can unpack and run it.
CREATE TABLE functions (
    name        TEXT PRIMARY KEY,
    config      TEXT NOT NULL,
    code        BLOB NOT NULL,
    code_sha256 TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    updated_ms  BIGINT NOT NULL
);
