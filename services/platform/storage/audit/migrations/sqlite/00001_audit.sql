-- +goose Up
-- One row per mutation, inserted unsealed in the same transaction as the change: its content,
-- and pending_id for the sealer's order. The sealer later gives it its place in the hash chain
-- (sequence, previous_hash, hash; see docs/audit.md) in a transaction of its own. Sealed rows
-- are never updated, and are not pruned by the service.
CREATE TABLE audit_records (
    pending_id    INTEGER     PRIMARY KEY AUTOINCREMENT,
    sequence      INTEGER     UNIQUE,
    actor         TEXT        NOT NULL,
    method        TEXT        NOT NULL,
    resource      TEXT        NOT NULL,
    action        TEXT        NOT NULL,
    request_id    TEXT        NOT NULL DEFAULT '',
    trace_id      TEXT        NOT NULL DEFAULT '',
    create_time   TIMESTAMP   NOT NULL,
    changes       TEXT        NOT NULL,
    previous_hash TEXT,
    hash          TEXT,
    CHECK ((sequence IS NULL) = (hash IS NULL) AND (sequence IS NULL) = (previous_hash IS NULL))
);
CREATE INDEX audit_records_resource ON audit_records (resource, sequence);
CREATE INDEX audit_records_actor ON audit_records (actor, sequence);
CREATE INDEX audit_records_create_time ON audit_records (create_time);
-- What the sealer reads, and what the unsealed gauge counts, whatever the table's size.
CREATE INDEX audit_records_unsealed ON audit_records (pending_id) WHERE sequence IS NULL;

-- The head of the chain: the last sealed record. SQLite has one writer at a time (transactions
-- begin IMMEDIATE), which serialises sealing; the head gives the next sequence and lets the
-- verifier notice records deleted from the end of the chain.
CREATE TABLE audit_chain (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    sequence INTEGER NOT NULL,
    hash     TEXT    NOT NULL
);
INSERT INTO audit_chain (id, sequence, hash) VALUES (1, 0, '');

-- +goose Down
DROP TABLE audit_chain;
DROP TABLE audit_records;
