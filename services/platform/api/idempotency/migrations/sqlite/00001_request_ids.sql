-- +goose Up
-- The request IDs (AIP-155) of the Create and custom methods a service has executed, written in
-- the same transaction as the change, with what a replay needs: a hash of the request, to refuse
-- a reused ID, and the response, to return it again. Pruned after the retention period.
CREATE TABLE request_ids (
    request_id   TEXT        PRIMARY KEY,
    method       TEXT        NOT NULL,
    request_hash BLOB        NOT NULL,
    response     BLOB,
    create_time  TIMESTAMP   NOT NULL
);
CREATE INDEX request_ids_create_time ON request_ids (create_time);

-- +goose Down
DROP TABLE request_ids;
