-- +goose Up
-- Holds (ADR 0010): money reserved on a line for a short time, until a commitment is recorded
-- from it. HELD holds count in the line's held figure, kept with the other running figures.
ALTER TABLE line_balances ADD COLUMN held_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE period_balances ADD COLUMN held_minor BIGINT NOT NULL DEFAULT 0;

CREATE TABLE holds (
    id                   TEXT        PRIMARY KEY,
    budget_id            TEXT        NOT NULL,
    chain_id             TEXT        NOT NULL REFERENCES budget_chains (id) ON DELETE RESTRICT,
    line_id              TEXT        NOT NULL,
    -- The whole value in its currency, the fiscal year's part of it (same currency) and that
    -- part converted into the budget currency.
    amount_minor         BIGINT      NOT NULL,
    amount_currency      TEXT        NOT NULL,
    part_minor           BIGINT      NOT NULL,
    held_minor           BIGINT      NOT NULL,
    rate_id              TEXT,
    rate_month           TEXT,
    rate_source          TEXT,
    rate_target          TEXT,
    rate_value           TEXT,
    service_start        TEXT        NOT NULL,
    service_end          TEXT        NOT NULL,
    expected_date        TEXT        NOT NULL,
    period               INTEGER     NOT NULL,
    description          TEXT        NOT NULL DEFAULT '',
    source               INTEGER     NOT NULL,
    source_ref           TEXT        NOT NULL DEFAULT '',
    expire_time          TIMESTAMPTZ NOT NULL,
    state                INTEGER     NOT NULL,
    commitment_id        TEXT        REFERENCES commitments (id) ON DELETE RESTRICT,
    commitment_budget_id TEXT,
    creator              TEXT        NOT NULL DEFAULT '',
    create_time          TIMESTAMPTZ NOT NULL,
    update_time          TIMESTAMPTZ NOT NULL,
    version              BIGINT      NOT NULL,
    FOREIGN KEY (budget_id, line_id) REFERENCES budget_lines (budget_id, id) ON DELETE RESTRICT,
    CHECK ((commitment_id IS NULL) = (commitment_budget_id IS NULL))
);
CREATE INDEX holds_budget_line_idx ON holds (budget_id, line_id);
CREATE INDEX holds_chain_line_idx ON holds (chain_id, line_id, period);
CREATE INDEX holds_source_ref_idx ON holds (source_ref);

-- The hold a commitment was converted from; the revision it was placed under names it.
ALTER TABLE commitments ADD COLUMN hold_id TEXT;
ALTER TABLE commitments ADD COLUMN hold_budget_id TEXT;

-- +goose Down
ALTER TABLE commitments DROP COLUMN hold_budget_id;
ALTER TABLE commitments DROP COLUMN hold_id;
DROP TABLE holds;
ALTER TABLE period_balances DROP COLUMN held_minor;
ALTER TABLE line_balances DROP COLUMN held_minor;
