-- One index for a user's refresh sessions and a lineage's (every caller of the latter knows the
-- lineage's pool and user): a sign-in's write updates one index fewer.
DROP INDEX refresh_sessions_by_origin;
DROP INDEX refresh_sessions_by_user;
CREATE INDEX refresh_sessions_by_user ON refresh_sessions (pool_id, username, origin_jti);
