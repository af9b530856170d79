-- +goose Up
-- Positions (requisitions) and headcount plans with their scenarios. Dates are TEXT YYYY-MM-DD,
-- enumerations INTEGER (the API enum's number), money an integer in minor units beside its
-- currency, as for people.
CREATE TABLE positions (
    id                TEXT        PRIMARY KEY,
    -- RESTRICT: a team with positions cannot be deleted.
    team_id           TEXT        NOT NULL REFERENCES teams (id) ON DELETE RESTRICT,
    title             TEXT        NOT NULL,
    level             TEXT        NOT NULL DEFAULT '',
    -- The required skills' IDs, a JSON array.
    required_skills   TEXT        NOT NULL DEFAULT '[]',
    -- The budgeted annual cost: budget, not a person's pay.
    cost_minor        INTEGER     NOT NULL,
    cost_currency     TEXT        NOT NULL,
    target_start      TEXT        NOT NULL,
    reason            INTEGER     NOT NULL,
    -- A person's ID; people are never deleted.
    backfill_of       TEXT,
    description       TEXT        NOT NULL DEFAULT '',
    state             INTEGER     NOT NULL,
    requester         TEXT        NOT NULL DEFAULT '',
    approver          TEXT        NOT NULL DEFAULT '',
    budget_line       TEXT        NOT NULL DEFAULT '',
    hold              TEXT        NOT NULL DEFAULT '',
    -- The person who filled it: one position per person.
    person_id         TEXT        UNIQUE,
    start_date        TEXT,
    open_time         TIMESTAMP,
    fill_time         TIMESTAMP,
    time_to_fill_days INTEGER     NOT NULL DEFAULT 0,
    cancel_reason     TEXT        NOT NULL DEFAULT '',
    create_time       TIMESTAMP   NOT NULL,
    update_time       TIMESTAMP   NOT NULL,
    version           INTEGER     NOT NULL
);
CREATE INDEX positions_team_id_state_idx ON positions (team_id, state);

-- A plan's ID is its fiscal year; its four quarters are columns.
CREATE TABLE headcount_plans (
    team_id          TEXT        NOT NULL REFERENCES teams (id) ON DELETE RESTRICT,
    fiscal_year      INTEGER     NOT NULL,
    currency         TEXT        NOT NULL,
    q1_headcount     INTEGER     NOT NULL,
    q1_cost_minor    INTEGER     NOT NULL,
    q2_headcount     INTEGER     NOT NULL,
    q2_cost_minor    INTEGER     NOT NULL,
    q3_headcount     INTEGER     NOT NULL,
    q3_cost_minor    INTEGER     NOT NULL,
    q4_headcount     INTEGER     NOT NULL,
    q4_cost_minor    INTEGER     NOT NULL,
    adopted_scenario TEXT        NOT NULL DEFAULT '',
    create_time      TIMESTAMP   NOT NULL,
    update_time      TIMESTAMP   NOT NULL,
    version          INTEGER     NOT NULL,
    PRIMARY KEY (team_id, fiscal_year)
);

CREATE TABLE headcount_scenarios (
    team_id       TEXT        NOT NULL,
    fiscal_year   INTEGER     NOT NULL,
    id            TEXT        NOT NULL,
    display_name  TEXT        NOT NULL,
    description   TEXT        NOT NULL DEFAULT '',
    q1_headcount  INTEGER     NOT NULL,
    q1_cost_minor INTEGER     NOT NULL,
    q2_headcount  INTEGER     NOT NULL,
    q2_cost_minor INTEGER     NOT NULL,
    q3_headcount  INTEGER     NOT NULL,
    q3_cost_minor INTEGER     NOT NULL,
    q4_headcount  INTEGER     NOT NULL,
    q4_cost_minor INTEGER     NOT NULL,
    adopt_time    TIMESTAMP,
    create_time   TIMESTAMP   NOT NULL,
    update_time   TIMESTAMP   NOT NULL,
    version       INTEGER     NOT NULL,
    PRIMARY KEY (team_id, fiscal_year, id),
    FOREIGN KEY (team_id, fiscal_year) REFERENCES headcount_plans (team_id, fiscal_year) ON DELETE RESTRICT
);

-- +goose Down
DROP TABLE headcount_scenarios;
DROP TABLE headcount_plans;
DROP TABLE positions;
