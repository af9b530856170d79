-- +goose Up
-- Events wait here, written in the same transaction as the change they describe, until the
-- relay has them acknowledged by JetStream. AUTOINCREMENT: a sequence number is never reused,
-- even after pruning.
CREATE TABLE outbox (
    seq               INTEGER   PRIMARY KEY AUTOINCREMENT,
    event_id          TEXT      NOT NULL UNIQUE,
    subject           TEXT      NOT NULL,
    event_type        TEXT      NOT NULL,
    source            TEXT      NOT NULL,
    resource_name     TEXT      NOT NULL,
    aggregate_version INTEGER   NOT NULL,
    event_time        TIMESTAMP NOT NULL,
    payload           BLOB      NOT NULL,
    traceparent       TEXT      NOT NULL DEFAULT '',
    tracestate        TEXT      NOT NULL DEFAULT '',
    published_at      TIMESTAMP
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

-- +goose Down
DROP TABLE outbox;
