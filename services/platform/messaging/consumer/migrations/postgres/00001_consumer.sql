-- +goose Up
-- One row per event a consumer has handled, written in the same transaction as the handler's
-- effect: a redelivered or re-published event finds its row and has no second effect.
-- outcome is APPLIED (the handler ran) or STALE (skipped: an equal or newer version of the
-- resource had already been applied).
CREATE TABLE consumer_inbox (
    consumer          TEXT        NOT NULL,
    event_id          TEXT        NOT NULL,
    outcome           TEXT        NOT NULL,
    resource_name     TEXT        NOT NULL DEFAULT '',
    aggregate_version BIGINT      NOT NULL DEFAULT 0,
    processed_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX consumer_inbox_processed ON consumer_inbox (processed_at);

-- The highest aggregate version each consumer has applied per resource (ce-subject).
CREATE TABLE consumer_versions (
    consumer          TEXT   NOT NULL,
    resource_name     TEXT   NOT NULL,
    aggregate_version BIGINT NOT NULL,
    PRIMARY KEY (consumer, resource_name)
);

-- Events a consumer gave up on after its last delivery attempt, for an operator to replay.
CREATE TABLE consumer_dead_letters (
    id                TEXT        PRIMARY KEY,
    consumer          TEXT        NOT NULL,
    event_id          TEXT        NOT NULL,
    event_type        TEXT        NOT NULL,
    subject           TEXT        NOT NULL,
    resource_name     TEXT        NOT NULL DEFAULT '',
    aggregate_version BIGINT      NOT NULL DEFAULT 0,
    payload           BYTEA       NOT NULL,
    headers           TEXT        NOT NULL,
    error             TEXT        NOT NULL,
    attempts          INTEGER     NOT NULL,
    state             TEXT        NOT NULL,
    create_time       TIMESTAMPTZ NOT NULL,
    replay_time       TIMESTAMPTZ,
    replay_request_id TEXT        NOT NULL DEFAULT '',
    UNIQUE (consumer, event_id)
);
CREATE INDEX consumer_dead_letters_pending ON consumer_dead_letters (consumer) WHERE state = 'PENDING';

-- +goose Down
DROP TABLE consumer_dead_letters;
DROP TABLE consumer_versions;
DROP TABLE consumer_inbox;
