-- +goose Up
-- Amounts are INTEGER (64-bit) minor units of their currency. Dates are TEXT 'YYYY-MM-DD' and months TEXT
-- 'YYYY-MM' on both engines: they compare and sort as text the way they do as dates, and need no
-- time zone. Phasing amounts and thresholds are JSON arrays of integers in TEXT.

-- One chain per cost centre and fiscal year: the budget's revisions share it, and spend writers
-- lock its row.
CREATE TABLE budget_chains (
    id                 TEXT    PRIMARY KEY,
    -- RESTRICT: a cost centre with budgets cannot be deleted, even by a racing transaction.
    cost_center_id     TEXT    NOT NULL REFERENCES cost_centers (id) ON DELETE RESTRICT,
    fiscal_year        INTEGER NOT NULL,
    -- No foreign keys to budgets: a chain is written before its first revision.
    in_force_id        TEXT,
    open_id            TEXT,
    forecast_over_plan BOOLEAN NOT NULL DEFAULT FALSE,
    version            INTEGER NOT NULL,
    CONSTRAINT budget_chains_cost_center_fiscal_year_key UNIQUE (cost_center_id, fiscal_year)
);
CREATE INDEX budget_chains_in_force_id_idx ON budget_chains (in_force_id);

CREATE TABLE budgets (
    id               TEXT        PRIMARY KEY,
    chain_id         TEXT        NOT NULL REFERENCES budget_chains (id) ON DELETE RESTRICT,
    revision         INTEGER     NOT NULL,
    cost_center_id   TEXT        NOT NULL,
    fiscal_year      INTEGER     NOT NULL,
    start_month      INTEGER     NOT NULL,
    currency         TEXT        NOT NULL,
    display_name     TEXT        NOT NULL,
    owner            TEXT        NOT NULL DEFAULT '',
    description      TEXT        NOT NULL DEFAULT '',
    policy           INTEGER     NOT NULL,
    state            INTEGER     NOT NULL,
    previous_id      TEXT,
    superseded_by_id TEXT,
    submitter        TEXT        NOT NULL DEFAULT '',
    submit_time      TIMESTAMP,
    decider          TEXT        NOT NULL DEFAULT '',
    decision_time    TIMESTAMP,
    decision_reason  TEXT        NOT NULL DEFAULT '',
    closer           TEXT        NOT NULL DEFAULT '',
    close_time       TIMESTAMP,
    planned_minor    INTEGER     NOT NULL,
    create_time      TIMESTAMP   NOT NULL,
    update_time      TIMESTAMP   NOT NULL,
    version          INTEGER     NOT NULL,
    CONSTRAINT budgets_chain_revision_key UNIQUE (chain_id, revision)
);
CREATE INDEX budgets_cost_center_id_idx ON budgets (cost_center_id, fiscal_year);

CREATE TABLE budget_lines (
    -- CASCADE: deleting a draft revision deletes its lines with it.
    budget_id           TEXT        NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
    id                  TEXT        NOT NULL,
    display_name        TEXT        NOT NULL,
    category            INTEGER     NOT NULL,
    expense_type        INTEGER     NOT NULL,
    planned_minor       INTEGER     NOT NULL,
    phasing_granularity INTEGER     NOT NULL,
    phasing_amounts     TEXT        NOT NULL,
    thresholds          TEXT        NOT NULL,
    tag                 TEXT        NOT NULL DEFAULT '',
    description         TEXT        NOT NULL DEFAULT '',
    create_time         TIMESTAMP   NOT NULL,
    update_time         TIMESTAMP   NOT NULL,
    version             INTEGER     NOT NULL,
    PRIMARY KEY (budget_id, id)
);

CREATE TABLE line_balances (
    chain_id        TEXT   NOT NULL REFERENCES budget_chains (id) ON DELETE CASCADE,
    line_id         TEXT   NOT NULL,
    actual_minor    INTEGER NOT NULL,
    committed_minor INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    PRIMARY KEY (chain_id, line_id)
);

-- The running spend of each line per fiscal period, kept in the transaction of every change of
-- spend (actuals, commitments, releases): figures and alerts read 12 rows per line instead of
-- summing every actual. store.Reader.Spend recomputes it from the records, which tests compare.
CREATE TABLE period_balances (
    chain_id        TEXT   NOT NULL REFERENCES budget_chains (id) ON DELETE CASCADE,
    line_id         TEXT   NOT NULL,
    period          INTEGER NOT NULL,
    actual_minor    INTEGER NOT NULL,
    committed_minor INTEGER NOT NULL,
    PRIMARY KEY (chain_id, line_id, period)
);

CREATE TABLE commitments (
    id              TEXT        PRIMARY KEY,
    budget_id       TEXT        NOT NULL,
    chain_id        TEXT        NOT NULL REFERENCES budget_chains (id) ON DELETE RESTRICT,
    line_id         TEXT        NOT NULL,
    amount_minor    INTEGER     NOT NULL,
    amount_currency TEXT        NOT NULL,
    converted_minor INTEGER     NOT NULL,
    remaining_minor INTEGER     NOT NULL,
    -- The rate use: all NULL when the amount is in the budget currency.
    rate_id         TEXT,
    rate_month      TEXT,
    rate_source     TEXT,
    rate_target     TEXT,
    rate_value      TEXT,
    expected_date   TEXT        NOT NULL,
    period          INTEGER     NOT NULL,
    description     TEXT        NOT NULL DEFAULT '',
    source          INTEGER     NOT NULL,
    source_ref      TEXT        NOT NULL DEFAULT '',
    state           INTEGER     NOT NULL,
    creator         TEXT        NOT NULL DEFAULT '',
    create_time     TIMESTAMP   NOT NULL,
    update_time     TIMESTAMP   NOT NULL,
    version         INTEGER     NOT NULL,
    FOREIGN KEY (budget_id, line_id) REFERENCES budget_lines (budget_id, id) ON DELETE RESTRICT
);
CREATE INDEX commitments_budget_line_idx ON commitments (budget_id, line_id);
CREATE INDEX commitments_chain_line_idx ON commitments (chain_id, line_id, period);

CREATE TABLE actuals (
    id                 TEXT        PRIMARY KEY,
    budget_id          TEXT        NOT NULL,
    chain_id           TEXT        NOT NULL REFERENCES budget_chains (id) ON DELETE RESTRICT,
    line_id            TEXT        NOT NULL,
    amount_minor       INTEGER     NOT NULL,
    amount_currency    TEXT        NOT NULL,
    converted_minor    INTEGER     NOT NULL,
    rate_id            TEXT,
    rate_month         TEXT,
    rate_source        TEXT,
    rate_target        TEXT,
    rate_value         TEXT,
    booking_date       TEXT        NOT NULL,
    period             INTEGER     NOT NULL,
    description        TEXT        NOT NULL DEFAULT '',
    source             INTEGER     NOT NULL,
    external_reference TEXT        NOT NULL DEFAULT '',
    corrects_id        TEXT        REFERENCES actuals (id) ON DELETE RESTRICT,
    -- The revisions the corrected actual and the commitment were recorded under, which may be
    -- earlier than budget_id (spend carries over revisions): their resource names need them.
    corrects_budget_id TEXT,
    commitment_id      TEXT        REFERENCES commitments (id) ON DELETE RESTRICT,
    commitment_budget_id TEXT,
    released_minor     INTEGER     NOT NULL DEFAULT 0,
    creator            TEXT        NOT NULL DEFAULT '',
    create_time        TIMESTAMP   NOT NULL,
    FOREIGN KEY (budget_id, line_id) REFERENCES budget_lines (budget_id, id) ON DELETE RESTRICT,
    CHECK ((corrects_id IS NULL) = (corrects_budget_id IS NULL)),
    CHECK ((commitment_id IS NULL) = (commitment_budget_id IS NULL))
);
CREATE INDEX actuals_budget_line_idx ON actuals (budget_id, line_id);
CREATE INDEX actuals_chain_line_idx ON actuals (chain_id, line_id, period);
CREATE INDEX actuals_corrects_id_idx ON actuals (corrects_id);

CREATE TABLE transfers (
    id               TEXT        PRIMARY KEY,
    budget_id        TEXT        NOT NULL,
    source_line_id   TEXT        NOT NULL,
    target_budget_id TEXT        NOT NULL,
    target_line_id   TEXT        NOT NULL,
    amount_minor     INTEGER     NOT NULL,
    effective_date   TEXT        NOT NULL,
    period           INTEGER     NOT NULL,
    reason           TEXT        NOT NULL DEFAULT '',
    state            INTEGER     NOT NULL,
    requester        TEXT        NOT NULL DEFAULT '',
    decider          TEXT        NOT NULL DEFAULT '',
    decision_time    TIMESTAMP,
    decision_reason  TEXT        NOT NULL DEFAULT '',
    create_time      TIMESTAMP   NOT NULL,
    update_time      TIMESTAMP   NOT NULL,
    version          INTEGER     NOT NULL,
    FOREIGN KEY (budget_id, source_line_id) REFERENCES budget_lines (budget_id, id) ON DELETE RESTRICT,
    FOREIGN KEY (target_budget_id, target_line_id) REFERENCES budget_lines (budget_id, id) ON DELETE RESTRICT
);
CREATE INDEX transfers_budget_id_idx ON transfers (budget_id);
CREATE INDEX transfers_target_idx ON transfers (target_budget_id, target_line_id);

CREATE TABLE exchange_rates (
    id          TEXT        PRIMARY KEY,
    month       TEXT        NOT NULL,
    source      TEXT        NOT NULL,
    target      TEXT        NOT NULL,
    value       TEXT        NOT NULL,
    create_time TIMESTAMP   NOT NULL,
    update_time TIMESTAMP   NOT NULL,
    version     INTEGER     NOT NULL,
    CONSTRAINT exchange_rates_month_pair_key UNIQUE (month, source, target)
);

-- +goose Down
DROP TABLE exchange_rates;
DROP TABLE transfers;
DROP TABLE actuals;
DROP TABLE commitments;
DROP TABLE period_balances;
DROP TABLE line_balances;
DROP TABLE budget_lines;
DROP TABLE budgets;
DROP TABLE budget_chains;
