-- One index for a user's refresh sessions and a lineage's (every caller of the latter knows the
-- lineage's pool and user): a sign-in's write updates one index fewer. (The table keeps its
-- rowid: appended in order, its pages stay few and hot; keyed by the token's random hash, as a
-- WITHOUT ROWID table, every write would land on a random page of the whole table, and a table
-- of a few hundred thousand sessions outgrows the page cache.)
DROP INDEX refresh_sessions_by_origin;
DROP INDEX refresh_sessions_by_user;
CREATE INDEX refresh_sessions_by_user ON refresh_sessions (pool_id, username, origin_jti);
