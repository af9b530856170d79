-- +goose Up
-- One row per mutation, appended in the same transaction as the change. Rows form a hash chain
-- (see docs/audit.md): they are never updated, and are not pruned by the service.
CREATE TABLE audit_records (
    sequence      INTEGER     PRIMARY KEY,
    actor         TEXT        NOT NULL,
    method        TEXT        NOT NULL,
    resource      TEXT        NOT NULL,
    action        TEXT        NOT NULL,
    request_id    TEXT        NOT NULL DEFAULT '',
    trace_id      TEXT        NOT NULL DEFAULT '',
    create_time   TIMESTAMP   NOT NULL,
    changes       TEXT        NOT NULL,
    previous_hash TEXT        NOT NULL,
    hash          TEXT        NOT NULL
);
CREATE INDEX audit_records_resource ON audit_records (resource, sequence);
CREATE INDEX audit_records_actor ON audit_records (actor, sequence);
CREATE INDEX audit_records_create_time ON audit_records (create_time);

-- The head of the chain. SQLite has one writer at a time (transactions begin IMMEDIATE), which
-- serialises appends; the head gives the next sequence and lets the verifier
-- notice records deleted from the end of the chain.
CREATE TABLE audit_chain (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    sequence INTEGER NOT NULL,
    hash     TEXT    NOT NULL
);
INSERT INTO audit_chain (id, sequence, hash) VALUES (1, 0, '');

-- +goose Down
DROP TABLE audit_chain;
DROP TABLE audit_records;
