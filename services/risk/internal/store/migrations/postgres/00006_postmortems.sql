-- +goose Up
-- Postmortems (store/postmortems.go): one row per incident whose postmortem was written; an
-- incident without one has an empty DRAFT.
CREATE TABLE postmortems (
    incident_id          TEXT        PRIMARY KEY REFERENCES incidents (id),
    state                INTEGER     NOT NULL,
    summary              TEXT        NOT NULL DEFAULT '',
    impact               TEXT        NOT NULL DEFAULT '',
    root_causes          TEXT        NOT NULL DEFAULT '',
    contributing_factors TEXT        NOT NULL DEFAULT '',
    what_went_well       TEXT        NOT NULL DEFAULT '',
    lessons              TEXT        NOT NULL DEFAULT '',
    recommendations      TEXT        NOT NULL DEFAULT '',
    state_reason         TEXT        NOT NULL DEFAULT '',
    author               TEXT        NOT NULL DEFAULT '',
    publisher            TEXT        NOT NULL DEFAULT '',
    submit_time          TIMESTAMPTZ,
    publish_time         TIMESTAMPTZ,
    update_time          TIMESTAMPTZ NOT NULL,
    version              BIGINT      NOT NULL
);

-- The action items of postmortems; each falls overdue the day after its due date while OPEN.
CREATE TABLE postmortem_action_items (
    incident_id   TEXT        NOT NULL REFERENCES incidents (id),
    id            TEXT        NOT NULL,
    title         TEXT        NOT NULL,
    description   TEXT        NOT NULL DEFAULT '',
    owner         TEXT        NOT NULL,
    due_date      TEXT        NOT NULL,
    tracker_url   TEXT        NOT NULL DEFAULT '',
    state         INTEGER     NOT NULL,
    state_reason  TEXT        NOT NULL DEFAULT '',
    complete_time TIMESTAMPTZ,
    create_time   TIMESTAMPTZ NOT NULL,
    update_time   TIMESTAMPTZ NOT NULL,
    version       BIGINT      NOT NULL,
    PRIMARY KEY (incident_id, id)
);
-- Lists across incidents (incidents/-/postmortem) by due date: what falls due, what is overdue.
CREATE INDEX postmortem_action_items_due_date_idx ON postmortem_action_items (due_date);

-- +goose Down
DROP TABLE postmortem_action_items;
DROP TABLE postmortems;
