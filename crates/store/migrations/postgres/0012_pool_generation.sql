-- Every insert, update and delete of a pool, an app client, a group or a group's member counts
-- here under its pool, in the writing transaction. A server acts on a password sign-in's client,
-- pool and user kept from an earlier read only after one statement finds the user's version and
-- its pool's count unchanged (src/config_cache.rs). A pool with no row counts 0; rows are never
-- deleted, so a count never repeats.
CREATE TABLE pool_generation (
    pool_id    TEXT PRIMARY KEY,
    generation BIGINT NOT NULL
);

CREATE FUNCTION count_pool_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed TEXT;
BEGIN
    IF TG_TABLE_NAME = 'pools' THEN
        changed := COALESCE(NEW.id, OLD.id);
    ELSE
        changed := COALESCE(NEW.pool_id, OLD.pool_id);
    END IF;
    INSERT INTO pool_generation (pool_id, generation) VALUES (changed, 1)
        ON CONFLICT (pool_id) DO UPDATE SET generation = pool_generation.generation + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER pools_count AFTER INSERT OR UPDATE OR DELETE ON pools
    FOR EACH ROW EXECUTE FUNCTION count_pool_change();
CREATE TRIGGER clients_count AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION count_pool_change();
CREATE TRIGGER groups_count AFTER INSERT OR UPDATE OR DELETE ON groups
    FOR EACH ROW EXECUTE FUNCTION count_pool_change();
CREATE TRIGGER group_members_count AFTER INSERT OR UPDATE OR DELETE ON group_members
    FOR EACH ROW EXECUTE FUNCTION count_pool_change();
