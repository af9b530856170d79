-- +goose Up
-- Due items: the dates a service declared, each written in the same transaction as the change
-- that set it, until the scheduler's worker fires it (runtime/scheduler). A fired item keeps its
-- row, so that declaring the same date again does not fire it twice.
--
--   due_at     when the item is due
--   next_at    when the worker takes it up next: due_at, later after a failed attempt
--   fired_at   when it fired (NULL until then)
--   failed_at  when the worker gave up on it after its last attempt (NULL otherwise)
CREATE TABLE scheduled_items (
    item_key      TEXT      PRIMARY KEY,
    kind          TEXT      NOT NULL,
    resource_name TEXT      NOT NULL,
    due_at        TIMESTAMP NOT NULL,
    next_at       TIMESTAMP NOT NULL,
    payload       BLOB,
    fired_at      TIMESTAMP,
    failed_at     TIMESTAMP,
    attempts      INTEGER   NOT NULL DEFAULT 0,
    last_error    TEXT      NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
-- The worker reads the items to fire, and the time to wake up at, in this order.
CREATE INDEX scheduled_items_next ON scheduled_items (next_at, item_key)
    WHERE fired_at IS NULL AND failed_at IS NULL;
-- Due and unfired, in due order: the due_items and oldest_lag gauges.
CREATE INDEX scheduled_items_due ON scheduled_items (due_at)
    WHERE fired_at IS NULL AND failed_at IS NULL;
-- The items the worker gave up on: the failed_items gauge.
CREATE INDEX scheduled_items_failed ON scheduled_items (failed_at) WHERE failed_at IS NOT NULL;
-- CancelResource.
CREATE INDEX scheduled_items_resource ON scheduled_items (resource_name) WHERE fired_at IS NULL;

-- +goose Down
DROP TABLE scheduled_items;
