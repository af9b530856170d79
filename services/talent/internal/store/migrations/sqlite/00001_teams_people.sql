-- +goose Up
-- Dates (start, end) are TEXT YYYY-MM-DD: they compare and sort as text the way they do as dates,
-- and need no time zone. Enumerations are INTEGER, the API enum's number. Money is an integer
-- amount in minor units beside its currency.
CREATE TABLE teams (
    id           TEXT        PRIMARY KEY,
    display_name TEXT        NOT NULL,
    -- RESTRICT: a team with children cannot be deleted, even by a racing transaction.
    parent_id    TEXT        REFERENCES teams (id) ON DELETE RESTRICT,
    -- A person's ID; people are never deleted (they leave), so no key is needed to keep it valid.
    manager_id   TEXT,
    -- A budget cost centre's name, checked with budget when set.
    cost_center  TEXT,
    description  TEXT        NOT NULL DEFAULT '',
    create_time  TIMESTAMP NOT NULL,
    update_time  TIMESTAMP NOT NULL,
    version      INTEGER NOT NULL
);
CREATE INDEX teams_parent_id_idx ON teams (parent_id);

CREATE TABLE people (
    id              TEXT PRIMARY KEY,
    display_name    TEXT NOT NULL,
    email           TEXT UNIQUE,
    title           TEXT NOT NULL DEFAULT '',
    level           TEXT NOT NULL DEFAULT '',
    -- RESTRICT: a team with people cannot be deleted.
    team_id         TEXT NOT NULL REFERENCES teams (id) ON DELETE RESTRICT,
    employment_type INTEGER NOT NULL,
    start_date      TEXT NOT NULL,
    end_date        TEXT,
    location        TEXT NOT NULL DEFAULT '',
    -- Compensation: the loaded annual cost, NULL when not recorded.
    cost_minor      INTEGER,
    cost_currency   TEXT,
    state           INTEGER NOT NULL,
    create_time     TIMESTAMP NOT NULL,
    update_time     TIMESTAMP NOT NULL,
    version         INTEGER NOT NULL
);
CREATE INDEX people_team_id_idx ON people (team_id);

-- +goose Down
DROP TABLE people;
DROP TABLE teams;
