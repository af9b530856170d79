-- +goose Up
-- Vendors and their attestations. Dates are TEXT 'YYYY-MM-DD' on both engines: they compare and
-- sort as text the way they do as dates, and need no time zone. Enumerations are INTEGER (the
-- domain's values); contacts and sub-processors are JSON arrays in TEXT, read and written whole.
CREATE TABLE vendors (
    id                     TEXT        PRIMARY KEY,
    display_name           TEXT        NOT NULL,
    legal_name             TEXT        NOT NULL,
    category               INTEGER     NOT NULL,
    tier                   INTEGER     NOT NULL,
    data_access            INTEGER     NOT NULL,
    country                TEXT        NOT NULL DEFAULT '',
    website                TEXT        NOT NULL DEFAULT '',
    description            TEXT        NOT NULL DEFAULT '',
    owner                  TEXT        NOT NULL DEFAULT '',
    contacts               TEXT        NOT NULL DEFAULT '[]',
    -- RESTRICT: a parent vendor cannot be deleted, even by a racing transaction.
    parent_vendor_id       TEXT        REFERENCES vendors (id) ON DELETE RESTRICT,
    sub_processors         TEXT        NOT NULL DEFAULT '[]',
    state                  INTEGER     NOT NULL,
    state_reason           TEXT        NOT NULL DEFAULT '',
    state_change_time      TIMESTAMP   NOT NULL,
    -- The latest completed assessment, as of its completion (the assessments table comes later,
    -- hence no foreign key): the vendor's risk rating is latest_risk_rating while today is on or
    -- before assessment_valid_until.
    latest_assessment_id   TEXT,
    latest_risk_rating     INTEGER     NOT NULL DEFAULT 0,
    assessment_valid_until TEXT,
    create_time            TIMESTAMP   NOT NULL,
    update_time            TIMESTAMP   NOT NULL,
    version                INTEGER     NOT NULL
);
CREATE INDEX vendors_parent_vendor_id_idx ON vendors (parent_vendor_id);
CREATE INDEX vendors_display_name_idx ON vendors (display_name);

CREATE TABLE attestations (
    -- CASCADE: deleting a prospect vendor deletes its attestations with it.
    vendor_id         TEXT        NOT NULL REFERENCES vendors (id) ON DELETE CASCADE,
    id                TEXT        NOT NULL,
    type              INTEGER     NOT NULL,
    display_name      TEXT        NOT NULL DEFAULT '',
    issuer            TEXT        NOT NULL DEFAULT '',
    issue_date        TEXT,
    expiry_date       TEXT        NOT NULL,
    document_uri      TEXT        NOT NULL DEFAULT '',
    scope_description TEXT        NOT NULL DEFAULT '',
    create_time       TIMESTAMP   NOT NULL,
    update_time       TIMESTAMP   NOT NULL,
    version           INTEGER     NOT NULL,
    PRIMARY KEY (vendor_id, id)
);
-- Lists across vendors (vendors/-) by expiry: what expires next.
CREATE INDEX attestations_expiry_date_idx ON attestations (expiry_date);

-- +goose Down
DROP TABLE attestations;
DROP TABLE vendors;
