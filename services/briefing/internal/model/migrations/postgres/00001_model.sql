-- +goose Up
-- The read model of the executive briefing, built only from the domains' events: what each event
-- says about its resource, kept per resource and replaced by the next event about it. Every table
-- here is dropped and built again by a rebuild (RebuildBriefing); nothing else writes them. Dates
-- are TEXT 'YYYY-MM-DD'; enumerations are INTEGER (the proto's values); money is integer minor
-- units with its currency code, never a float.

-- Cost centres, for their display names.
CREATE TABLE briefing_cost_centers (
    name         TEXT PRIMARY KEY,
    display_name TEXT NOT NULL
);

-- Budget revisions: a cost centre's revisions of one fiscal year share its spend.
CREATE TABLE briefing_budgets (
    name          TEXT    PRIMARY KEY,
    cost_center   TEXT    NOT NULL,
    fiscal_year   INTEGER NOT NULL,
    currency_code TEXT    NOT NULL,
    start_date    TEXT    NOT NULL,
    display_name  TEXT    NOT NULL,
    state         INTEGER NOT NULL,
    planned_minor BIGINT  NOT NULL
);
CREATE INDEX briefing_budgets_state ON briefing_budgets (state, fiscal_year);

-- The actuals of each revision and fiscal period, summed as they arrive (the inbox applies each
-- actual once), in the budget's currency.
CREATE TABLE briefing_actuals (
    budget       TEXT    NOT NULL,
    period       INTEGER NOT NULL,
    amount_minor BIGINT  NOT NULL,
    PRIMARY KEY (budget, period)
);

-- Commitments with what remains of them, in the budget's currency.
CREATE TABLE briefing_commitments (
    name            TEXT   PRIMARY KEY,
    budget          TEXT   NOT NULL,
    remaining_minor BIGINT NOT NULL
);
CREATE INDEX briefing_commitments_budget ON briefing_commitments (budget);

-- Vendors, for their display names.
CREATE TABLE briefing_vendors (
    name         TEXT PRIMARY KEY,
    display_name TEXT NOT NULL
);

-- Contracts with their dates and values.
CREATE TABLE briefing_contracts (
    name                    TEXT    PRIMARY KEY,
    vendor                  TEXT    NOT NULL,
    title                   TEXT    NOT NULL,
    owner                   TEXT    NOT NULL,
    state                   INTEGER NOT NULL,
    end_date                TEXT    NOT NULL,
    auto_renew              BOOLEAN NOT NULL,
    renewal_term_months     INTEGER NOT NULL,
    cancel_by_date          TEXT    NOT NULL,
    notice_window_open_date TEXT    NOT NULL,
    annual_value_minor      BIGINT  NOT NULL,
    currency_code           TEXT    NOT NULL
);
CREATE INDEX briefing_contracts_end ON briefing_contracts (state, end_date);

-- Risks with their residual score.
CREATE TABLE briefing_risks (
    name           TEXT    PRIMARY KEY,
    title          TEXT    NOT NULL,
    category       INTEGER NOT NULL,
    owner          TEXT    NOT NULL,
    state          INTEGER NOT NULL,
    likelihood     INTEGER NOT NULL,
    impact         INTEGER NOT NULL,
    score          INTEGER NOT NULL,
    level          INTEGER NOT NULL,
    above_appetite BOOLEAN NOT NULL
);

-- Facts about a whole domain, by key: the risk matrix's steps.
CREATE TABLE briefing_facts (
    fact  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
);

-- Per domain stream, the last event applied: the briefing's freshness.
CREATE TABLE briefing_streams (
    domain          TEXT        PRIMARY KEY,
    last_event_id   TEXT        NOT NULL,
    last_event_type TEXT        NOT NULL,
    last_event_time TIMESTAMPTZ,
    apply_time      TIMESTAMPTZ NOT NULL,
    stream_sequence BIGINT      NOT NULL,
    applied_count   BIGINT      NOT NULL
);

-- +goose Down
DROP TABLE briefing_streams;
DROP TABLE briefing_facts;
DROP TABLE briefing_risks;
DROP TABLE briefing_contracts;
DROP TABLE briefing_vendors;
DROP TABLE briefing_commitments;
DROP TABLE briefing_actuals;
DROP TABLE briefing_budgets;
DROP TABLE briefing_cost_centers;
