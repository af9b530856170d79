-- +goose Up
-- Events wait here, written in the same transaction as the change they describe, until the
-- relay has them acknowledged by JetStream.
CREATE TABLE outbox (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id          TEXT        NOT NULL UNIQUE,
    subject           TEXT        NOT NULL,
    event_type        TEXT        NOT NULL,
    source            TEXT        NOT NULL,
    resource_name     TEXT        NOT NULL,
    aggregate_version BIGINT      NOT NULL,
    event_time        TIMESTAMPTZ NOT NULL,
    payload           BYTEA       NOT NULL,
    traceparent       TEXT        NOT NULL DEFAULT '',
    tracestate        TEXT        NOT NULL DEFAULT '',
    published_at      TIMESTAMPTZ
);
-- The relay reads pending rows in commit-ish order; published rows are pruned by age.
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

-- +goose Down
DROP TABLE outbox;
