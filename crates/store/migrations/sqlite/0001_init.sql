-- Pools and clients keep Cognito's document shape as JSON text; the columns beside it are the
-- keys the store looks things up by.
CREATE TABLE pools (
    id         TEXT PRIMARY KEY,
    doc        TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE clients (
    client_id  TEXT PRIMARY KEY,
    pool_id    TEXT NOT NULL,
    doc        TEXT NOT NULL
);
CREATE INDEX clients_by_pool ON clients (pool_id, client_id);

CREATE TABLE users (
    pool_id    TEXT NOT NULL,
    username   TEXT NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (pool_id, username)
);
