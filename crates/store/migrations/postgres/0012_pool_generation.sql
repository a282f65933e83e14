-- Every transaction that inserts, updates or deletes a pool, an app client, a group or a group's
-- member counts one change here under that pool. A server acts on a password sign-in's client,
-- pool and user kept from an earlier read only after one statement finds the user's version and
-- its pool's count unchanged (src/config_cache.rs). A pool with no row counts 0; rows are never
-- deleted, so a count never repeats.
CREATE TABLE pool_generation (
    pool_id    TEXT PRIMARY KEY,
    generation BIGINT NOT NULL
);

-- Deferred to the commit, so the count's row is the last lock a transaction takes (no lock
-- cycle with the rows it changed), and counted once per pool and transaction (a transaction
-- setting ends with it), however many rows changed.
CREATE FUNCTION count_pool_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed TEXT;
    counted TEXT;
BEGIN
    IF TG_TABLE_NAME = 'pools' THEN
        changed := COALESCE(NEW.id, OLD.id);
    ELSE
        changed := COALESCE(NEW.pool_id, OLD.pool_id);
    END IF;
    counted := 'cognate.pool_changed_' || md5(changed);
    IF current_setting(counted, true) = 'y' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config(counted, 'y', true);
    INSERT INTO pool_generation (pool_id, generation) VALUES (changed, 1)
        ON CONFLICT (pool_id) DO UPDATE SET generation = pool_generation.generation + 1;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER pools_count AFTER INSERT OR UPDATE OR DELETE ON pools
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_pool_change();
CREATE CONSTRAINT TRIGGER clients_count AFTER INSERT OR UPDATE OR DELETE ON clients
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_pool_change();
CREATE CONSTRAINT TRIGGER groups_count AFTER INSERT OR UPDATE OR DELETE ON groups
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_pool_change();
CREATE CONSTRAINT TRIGGER group_members_count AFTER INSERT OR UPDATE OR DELETE ON group_members
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_pool_change();
