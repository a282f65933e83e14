-- Every insert, update and delete of a pool or an app client counts here, in the writing
-- transaction: a server keeps the clients and pools it read only while the count is the one
-- it read before them (src/config_cache.rs).
CREATE TABLE config_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO config_generation (id, generation) VALUES (1, 0);
CREATE TRIGGER pools_inserted_count AFTER INSERT ON pools
BEGIN UPDATE config_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER pools_updated_count AFTER UPDATE ON pools
BEGIN UPDATE config_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER pools_deleted_count AFTER DELETE ON pools
BEGIN UPDATE config_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER clients_inserted_count AFTER INSERT ON clients
BEGIN UPDATE config_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER clients_updated_count AFTER UPDATE ON clients
BEGIN UPDATE config_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER clients_deleted_count AFTER DELETE ON clients
BEGIN UPDATE config_generation SET generation = generation + 1 WHERE id = 1; END;
