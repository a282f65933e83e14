-- The ListUsers search index: one row per user and searchable attribute it has (the username,
-- standard attributes, `cognito:user_status`, `status`; see `cognate_core::ports::search_terms`).
-- `value` answers exact filters, `folded` (Unicode lowercase) prefix filters as a range; both
-- compare bytewise (SQLite's BINARY collation), so a prefix is a contiguous range. Rows are
-- written in the same transaction as the user. `lookup_key` is the user's key in `users`: pages
-- are in that order, as unfiltered ListUsers pages are.
CREATE TABLE user_search (
    pool_id    TEXT NOT NULL,
    username   TEXT NOT NULL,
    attr       TEXT NOT NULL,
    value      TEXT NOT NULL,
    folded     TEXT NOT NULL,
    lookup_key TEXT NOT NULL,
    PRIMARY KEY (pool_id, username, attr)
);
CREATE INDEX user_search_exact ON user_search (pool_id, attr, value, lookup_key);
CREATE INDEX user_search_prefix ON user_search (pool_id, attr, folded, lookup_key);
-- Prefix searches with many matches walk an attribute's rows in key order instead.
CREATE INDEX user_search_walk ON user_search (pool_id, attr, lookup_key, folded);

-- Users stored before this migration are indexed by the store when it opens (the folding is
-- Rust's, not SQL's): this row says that is still to do, and goes when it is done.
CREATE TABLE user_search_backfill (
    pending BIGINT NOT NULL
);
INSERT INTO user_search_backfill (pending) VALUES (1);
