-- +goose Up
-- The breach impact of a SECURITY_BREACH or DATA_LOSS incident (store/breach.go): one row per
-- incident that has one. Its notification clocks are a JSON array (domain.NotificationClock),
-- their due-soon and overdue dates due items of the scheduler.
CREATE TABLE breach_impacts (
    incident_id                     TEXT        PRIMARY KEY REFERENCES incidents (id),
    description                     TEXT        NOT NULL DEFAULT '',
    affected_subjects               INTEGER     NOT NULL DEFAULT 0,
    affected_records                INTEGER     NOT NULL DEFAULT 0,
    data_categories                 TEXT        NOT NULL DEFAULT '[]',
    jurisdictions                   TEXT        NOT NULL DEFAULT '[]',
    regulator_notification_required BOOLEAN     NOT NULL DEFAULT FALSE,
    subject_notification_required   BOOLEAN     NOT NULL DEFAULT FALSE,
    awareness_time                  TIMESTAMP   NOT NULL,
    clocks                          TEXT        NOT NULL DEFAULT '[]',
    update_time                     TIMESTAMP  ,
    version                         INTEGER     NOT NULL
);

-- +goose Down
DROP TABLE breach_impacts;
