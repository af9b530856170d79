-- +goose Up
-- The parts of contracts' renewal terms in later fiscal years that budget could not record when
-- it applied the renewal (ADR 0010): the cost centre had no budget for the year, its budget was
-- not approved yet, or it had no line of the contract line's ID. The approval of a revision of
-- that budget with such a line records each part, with the ID kept here, on the line, and
-- deletes its row in the same transaction; the contract's end deletes its rows. The ID is the
-- commitment's, derived from the contract, the term's first day and the year, so that a copy of
-- the renewal adds no row.
CREATE TABLE deferred_commitments (
    id              TEXT        PRIMARY KEY,
    -- RESTRICT: the cost centre has the budget of the contract's line, so it cannot go anyway.
    cost_center_id  TEXT        NOT NULL REFERENCES cost_centers (id) ON DELETE RESTRICT,
    fiscal_year     INTEGER     NOT NULL,
    line_id         TEXT        NOT NULL,
    -- The renewal term's whole value in its currency; the year's part of it is committed.
    amount_minor    INTEGER     NOT NULL,
    amount_currency TEXT        NOT NULL,
    service_start   TEXT        NOT NULL,
    service_end     TEXT        NOT NULL,
    source          INTEGER     NOT NULL,
    source_ref      TEXT        NOT NULL,
    description     TEXT        NOT NULL DEFAULT '',
    create_time     TIMESTAMP   NOT NULL
);
CREATE INDEX deferred_commitments_budget_idx ON deferred_commitments (cost_center_id, fiscal_year);
CREATE INDEX deferred_commitments_source_ref_idx ON deferred_commitments (source_ref);

-- +goose Down
DROP TABLE deferred_commitments;
