-- +goose Up
CREATE TABLE cost_centers (
    id           TEXT      PRIMARY KEY,
    display_name TEXT      NOT NULL,
    code         TEXT      NOT NULL UNIQUE,
    owner        TEXT      NOT NULL DEFAULT '',
    -- RESTRICT: a cost centre with children cannot be deleted, even by a racing transaction.
    parent_id    TEXT      REFERENCES cost_centers (id) ON DELETE RESTRICT,
    active       BOOLEAN   NOT NULL,
    description  TEXT      NOT NULL DEFAULT '',
    create_time  TIMESTAMP NOT NULL,
    update_time  TIMESTAMP NOT NULL,
    version      INTEGER   NOT NULL
);
CREATE INDEX cost_centers_parent_id_idx ON cost_centers (parent_id);

-- +goose Down
DROP TABLE cost_centers;
