-- +goose Up
-- Incidents (store/incidents.go). The step times are NULL until the step; the domain keeps them
-- in order (detect ≤ declare ≤ acknowledge ≤ mitigate ≤ resolve ≤ close).
CREATE TABLE incidents (
    id                  TEXT        PRIMARY KEY,
    title               TEXT        NOT NULL,
    summary             TEXT        NOT NULL DEFAULT '',
    type                INTEGER     NOT NULL,
    severity            INTEGER     NOT NULL,
    state               INTEGER     NOT NULL,
    commander           TEXT        NOT NULL DEFAULT '',
    communications_lead TEXT        NOT NULL DEFAULT '',
    scribe              TEXT        NOT NULL DEFAULT '',
    responders          TEXT        NOT NULL DEFAULT '[]',
    affected_services   TEXT        NOT NULL DEFAULT '[]',
    vendor              TEXT        NOT NULL DEFAULT '',
    vendor_contract     TEXT        NOT NULL DEFAULT '',
    linked_risks        TEXT        NOT NULL DEFAULT '[]',
    cost_minor          BIGINT      NOT NULL DEFAULT 0,
    cost_currency       TEXT        NOT NULL DEFAULT '',
    budget_line         TEXT        NOT NULL DEFAULT '',
    detect_time         TIMESTAMPTZ NOT NULL,
    declare_time        TIMESTAMPTZ NOT NULL,
    acknowledge_time    TIMESTAMPTZ,
    mitigate_time       TIMESTAMPTZ,
    resolve_time        TIMESTAMPTZ,
    close_time          TIMESTAMPTZ,
    declarer            TEXT        NOT NULL DEFAULT '',
    create_time         TIMESTAMPTZ NOT NULL,
    update_time         TIMESTAMPTZ NOT NULL,
    version             BIGINT      NOT NULL
);
-- The metrics and the lists by period read incidents by when they were detected.
CREATE INDEX incidents_detect_time_idx ON incidents (detect_time);
CREATE INDEX incidents_state_idx ON incidents (state, severity);

-- An incident's linked risks and affected services, one row each, for the filters
-- (linked_risks:"risks/x", affected_services:"checkout").
CREATE TABLE incident_links (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    kind        TEXT NOT NULL,
    target      TEXT NOT NULL,
    PRIMARY KEY (incident_id, kind, target)
);
CREATE INDEX incident_links_target_idx ON incident_links (kind, target);

-- The timeline: append-only. The service inserts rows and never updates or deletes one; seq
-- numbers an incident's entries in the order they were written.
CREATE TABLE incident_timeline (
    incident_id        TEXT        NOT NULL REFERENCES incidents (id),
    seq                BIGINT      NOT NULL,
    kind               INTEGER     NOT NULL,
    occur_time         TIMESTAMPTZ NOT NULL,
    text               TEXT        NOT NULL DEFAULT '',
    author             TEXT        NOT NULL DEFAULT '',
    reason             TEXT        NOT NULL DEFAULT '',
    from_state         INTEGER     NOT NULL DEFAULT 0,
    to_state           INTEGER     NOT NULL DEFAULT 0,
    from_severity      INTEGER     NOT NULL DEFAULT 0,
    to_severity        INTEGER     NOT NULL DEFAULT 0,
    role               TEXT        NOT NULL DEFAULT '',
    from_person        TEXT        NOT NULL DEFAULT '',
    to_person          TEXT        NOT NULL DEFAULT '',
    notification_clock TEXT        NOT NULL DEFAULT '',
    create_time        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
-- The timeline's order: by occur time, then by the order of writing.
CREATE INDEX incident_timeline_occur_idx ON incident_timeline (incident_id, occur_time, seq);

-- +goose Down
DROP TABLE incident_timeline;
DROP TABLE incident_links;
DROP TABLE incidents;
