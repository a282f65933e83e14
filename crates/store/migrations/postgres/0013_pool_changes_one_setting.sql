-- Migration 0012's count marked each pool counted in a transaction with a setting of its own
-- (`cognate.pool_changed_<md5>`). A transaction-local setting reverts at the end of the
-- transaction, but the variable stays defined in the session: a connection that changes many
-- pools over its life gained one variable per pool, and PostgreSQL up to 15 re-sorts its list of
-- variables for each new one. One setting now holds the pools counted in the transaction
-- (`,<md5>,<md5>,`; empty again after it), so a session defines one variable however many
-- pools it changes. What is counted is unchanged: once per pool and transaction, at commit.
CREATE OR REPLACE FUNCTION count_pool_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed TEXT;
    mark TEXT;
    counted TEXT;
BEGIN
    IF TG_TABLE_NAME = 'pools' THEN
        changed := COALESCE(NEW.id, OLD.id);
    ELSE
        changed := COALESCE(NEW.pool_id, OLD.pool_id);
    END IF;
    mark := md5(changed) || ',';
    counted := COALESCE(NULLIF(current_setting('cognate.pools_counted', true), ''), ',');
    IF position(',' || mark IN counted) > 0 THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('cognate.pools_counted', counted || mark, true);
    INSERT INTO pool_generation (pool_id, generation) VALUES (changed, 1)
        ON CONFLICT (pool_id) DO UPDATE SET generation = pool_generation.generation + 1;
    RETURN NULL;
END
$$;
