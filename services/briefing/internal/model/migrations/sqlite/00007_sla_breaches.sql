-- +goose Up
-- The SLA breaches of the vendors' contracts (the vendors service's vendor.sla_breached events;
-- a breach never changes). A model built before this table has none until it is rebuilt, which
-- the service does at its first start after the upgrade (model.Version).
CREATE TABLE briefing_sla_breaches (
    name        TEXT        PRIMARY KEY,
    vendor      TEXT        NOT NULL,
    contract    TEXT        NOT NULL,
    kind        INTEGER     NOT NULL,
    incident    TEXT        NOT NULL,
    breach_time TIMESTAMP   NOT NULL
);
CREATE INDEX briefing_sla_breaches_vendor ON briefing_sla_breaches (vendor);

-- +goose Down
DROP TABLE briefing_sla_breaches;
