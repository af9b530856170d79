-- +goose Up
-- Contracts and their invoices. Money is integer minor units with its currency code (an empty
-- code is an unset amount), never a float; dates are TEXT 'YYYY-MM-DD' as in 00001; service
-- levels are a JSON array in TEXT, read and written whole.
CREATE TABLE contracts (
    -- RESTRICT: a vendor with contracts cannot be deleted, even by a racing transaction.
    vendor_id                  TEXT        NOT NULL REFERENCES vendors (id) ON DELETE RESTRICT,
    id                         TEXT        NOT NULL,
    title                      TEXT        NOT NULL,
    description                TEXT        NOT NULL DEFAULT '',
    total_minor                BIGINT      NOT NULL DEFAULT 0,
    total_currency             TEXT        NOT NULL DEFAULT '',
    annual_minor               BIGINT      NOT NULL DEFAULT 0,
    annual_currency            TEXT        NOT NULL DEFAULT '',
    billing_frequency          INTEGER     NOT NULL DEFAULT 0,
    start_date                 TEXT,
    end_date                   TEXT        NOT NULL,
    auto_renew                 BOOLEAN     NOT NULL DEFAULT FALSE,
    renewal_term_months        INTEGER     NOT NULL DEFAULT 0,
    minimum_term_months        INTEGER     NOT NULL DEFAULT 0,
    notice_period_days         INTEGER     NOT NULL DEFAULT 0,
    decision_buffer_days       INTEGER     NOT NULL DEFAULT 0,
    notice_window_days         INTEGER     NOT NULL DEFAULT 0,
    cancel_by_date             TEXT        NOT NULL,
    notice_window_open_date    TEXT        NOT NULL,
    budget_line                TEXT        NOT NULL DEFAULT '',
    slas                       TEXT        NOT NULL DEFAULT '[]',
    owner                      TEXT        NOT NULL DEFAULT '',
    state                      INTEGER     NOT NULL,
    submitter                  TEXT        NOT NULL DEFAULT '',
    submit_time                TIMESTAMPTZ,
    approver                   TEXT        NOT NULL DEFAULT '',
    activate_time              TIMESTAMPTZ,
    hold                       TEXT        NOT NULL DEFAULT '',
    renewal_count              INTEGER     NOT NULL DEFAULT 0,
    terminate_time             TIMESTAMPTZ,
    termination_reason         TEXT        NOT NULL DEFAULT '',
    termination_effective_date TEXT,
    invoiced_minor             BIGINT      NOT NULL DEFAULT 0,
    rejection_reason           TEXT        NOT NULL DEFAULT '',
    create_time                TIMESTAMPTZ NOT NULL,
    update_time                TIMESTAMPTZ NOT NULL,
    version                    BIGINT      NOT NULL,
    PRIMARY KEY (vendor_id, id)
);
-- Lists across vendors (vendors/-) by the next decisions and by budget line.
CREATE INDEX contracts_cancel_by_date_idx ON contracts (cancel_by_date);
CREATE INDEX contracts_budget_line_idx ON contracts (budget_line);

CREATE TABLE invoices (
    vendor_id            TEXT        NOT NULL,
    contract_id          TEXT        NOT NULL,
    id                   TEXT        NOT NULL,
    invoice_number       TEXT        NOT NULL,
    amount_minor         BIGINT      NOT NULL,
    amount_currency      TEXT        NOT NULL,
    invoice_date         TEXT        NOT NULL,
    due_date             TEXT,
    service_period_start TEXT,
    service_period_end   TEXT,
    description          TEXT        NOT NULL DEFAULT '',
    creator              TEXT        NOT NULL DEFAULT '',
    create_time          TIMESTAMPTZ NOT NULL,
    version              BIGINT      NOT NULL,
    PRIMARY KEY (vendor_id, contract_id, id),
    -- RESTRICT: only a DRAFT contract, which has no invoices, can be deleted.
    FOREIGN KEY (vendor_id, contract_id) REFERENCES contracts (vendor_id, id) ON DELETE RESTRICT,
    CONSTRAINT invoices_number_key UNIQUE (vendor_id, contract_id, invoice_number)
);
-- Lists across contracts (vendors/-/contracts/-) by date: a quarter's invoices.
CREATE INDEX invoices_invoice_date_idx ON invoices (invoice_date);

-- +goose Down
DROP TABLE invoices;
DROP TABLE contracts;
