-- +goose Up
-- The vendor invoices (and credit notes) dated in a later fiscal year than their contract's line
-- that budget could not book when it applied invoice.recorded (ADR 0010): the cost centre had no
-- budget for the year, its budget was not approved yet, or it had no line of the contract line's
-- ID. The approval of a revision of that budget with such a line books each, with the ID kept
-- here, as an actual on the line, after the commitments deferred to it, and deletes its row in
-- the same transaction. An invoice is money spent: the contract's end keeps its rows. The ID is
-- the actual's, derived from the invoice, so that a copy of the event adds no row.
CREATE TABLE deferred_actuals (
    id              TEXT        PRIMARY KEY,
    -- RESTRICT: the cost centre has the budget of the contract's line, so it cannot go anyway.
    cost_center_id  TEXT        NOT NULL REFERENCES cost_centers (id) ON DELETE RESTRICT,
    fiscal_year     INTEGER     NOT NULL,
    line_id         TEXT        NOT NULL,
    -- The invoice's amount in its currency; negative for a credit note.
    amount_minor    INTEGER     NOT NULL,
    amount_currency TEXT        NOT NULL,
    booking_date    TEXT        NOT NULL,
    description     TEXT        NOT NULL DEFAULT '',
    -- The invoice, e.g. vendors/acme/contracts/crm/invoices/i-1: the actual's external reference.
    source_ref      TEXT        NOT NULL,
    -- The contract, whose commitments on the line the invoice consumes (or whose invoices a
    -- credit note corrects).
    contract        TEXT        NOT NULL,
    create_time     TIMESTAMP   NOT NULL
);
CREATE INDEX deferred_actuals_budget_idx ON deferred_actuals (cost_center_id, fiscal_year);

-- +goose Down
DROP TABLE deferred_actuals;
