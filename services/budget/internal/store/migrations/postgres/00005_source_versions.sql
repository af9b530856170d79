-- +goose Up
-- The version of another service's resource whose spend budget last applied, per resource name
-- (an incident's cost, "incidents/{incident}"). Budget applies an event of the resource only
-- when its version is higher, in the transaction of its effect, so that an event read again past
-- the consumer's inbox (a replay of the stream, an inbox pruned) or an older one arriving late
-- changes nothing.
CREATE TABLE source_versions (
    source_ref  TEXT        PRIMARY KEY,
    version     BIGINT      NOT NULL,
    update_time TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE source_versions;
