-- +goose Up
-- The risk service's incidents attributed to a vendor, as read from its events: what the vendor's
-- scorecards count and its contracts' service levels are measured against. One row per incident,
-- replaced by a later version only (version is the incident's in the risk service), so that an
-- event read again or late changes nothing. No foreign key to vendors: an incident may name a
-- vendor this service does not know yet, and keeps its row when the vendor is deleted.
CREATE TABLE vendor_incidents (
    incident      TEXT        PRIMARY KEY,
    vendor_id     TEXT        NOT NULL,
    severity      INTEGER     NOT NULL,
    outage        BOOLEAN     NOT NULL,
    start_time    TIMESTAMP   NOT NULL,
    declare_time  TIMESTAMP   NOT NULL,
    mitigate_time TIMESTAMP,
    resolve_time  TIMESTAMP,
    version       INTEGER     NOT NULL,
    update_time   TIMESTAMP   NOT NULL
);
CREATE INDEX vendor_incidents_vendor_idx ON vendor_incidents (vendor_id, start_time);

-- The service levels that incidents broke. The ID derives from the contract, the service level,
-- the kind and the incident (resolution time) or the period (availability): a breach found again
-- is the same row, inserted once, and published once.
CREATE TABLE vendor_sla_breaches (
    id            TEXT        PRIMARY KEY,
    vendor_id     TEXT        NOT NULL,
    contract_id   TEXT        NOT NULL,
    service_level TEXT        NOT NULL,
    kind          INTEGER     NOT NULL,
    incident      TEXT        NOT NULL,
    severity      INTEGER     NOT NULL,
    period        TEXT        NOT NULL DEFAULT '',
    target        TEXT        NOT NULL,
    measured      TEXT        NOT NULL,
    breach_time   TIMESTAMP   NOT NULL,
    create_time   TIMESTAMP   NOT NULL
);
CREATE INDEX vendor_sla_breaches_vendor_idx ON vendor_sla_breaches (vendor_id, breach_time);

-- +goose Down
DROP TABLE vendor_sla_breaches;
DROP TABLE vendor_incidents;
