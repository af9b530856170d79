-- +goose Up
-- The deferred renewal parts and invoices an operator deleted (DeleteDeferredCommitment,
-- DeleteDeferredActual), by their IDs. An ID is derived from the renewal term or the invoice, the
-- same for every event of it: a later event of the same renewal or invoice (a new version, a dead
-- letter replayed, a consumer reset) finds its ID here and does not defer it again, so that no
-- approval books what the operator dropped.
CREATE TABLE deferred_deletions (
    id          TEXT        PRIMARY KEY,
    delete_time TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE deferred_deletions;
