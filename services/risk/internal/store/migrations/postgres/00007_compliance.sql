-- +goose Up
-- Frameworks imported from the service's catalogue (store/frameworks.go) and their requirements,
-- in the framework's order (position).
CREATE TABLE frameworks (
    id          TEXT        PRIMARY KEY,
    title       TEXT        NOT NULL,
    publisher   TEXT        NOT NULL DEFAULT '',
    edition     TEXT        NOT NULL DEFAULT '',
    description TEXT        NOT NULL DEFAULT '',
    create_time TIMESTAMPTZ NOT NULL,
    update_time TIMESTAMPTZ NOT NULL,
    version     BIGINT      NOT NULL
);

CREATE TABLE requirements (
    framework_id TEXT    NOT NULL REFERENCES frameworks (id),
    id           TEXT    NOT NULL,
    identifier   TEXT    NOT NULL,
    title        TEXT    NOT NULL,
    position     INTEGER NOT NULL,
    PRIMARY KEY (framework_id, id)
);

-- The control library (store/controls.go). last_result is the result of the latest test by date
-- (0 before the first), what the posture counts. The risks a control mitigates are kept in the
-- register's risk_links (kind 'control'), not here.
CREATE TABLE controls (
    id             TEXT        PRIMARY KEY,
    title          TEXT        NOT NULL,
    description    TEXT        NOT NULL DEFAULT '',
    owner          TEXT        NOT NULL,
    type           INTEGER     NOT NULL,
    test_frequency INTEGER     NOT NULL,
    requirements   TEXT        NOT NULL DEFAULT '[]',
    last_result    INTEGER     NOT NULL DEFAULT 0,
    last_test_date TEXT       ,
    next_test_date TEXT        NOT NULL,
    create_time    TIMESTAMPTZ NOT NULL,
    update_time    TIMESTAMPTZ NOT NULL,
    version        BIGINT      NOT NULL
);
CREATE INDEX controls_next_test_date_idx ON controls (next_test_date);

-- The requirements each control satisfies, one row per pair, as in the control's JSON list: what
-- the posture joins on.
CREATE TABLE control_requirements (
    control_id     TEXT NOT NULL REFERENCES controls (id) ON DELETE CASCADE,
    framework_id   TEXT NOT NULL,
    requirement_id TEXT NOT NULL,
    PRIMARY KEY (control_id, framework_id, requirement_id),
    FOREIGN KEY (framework_id, requirement_id) REFERENCES requirements (framework_id, id)
);
CREATE INDEX control_requirements_requirement_idx ON control_requirements (framework_id, requirement_id);

-- The tests of controls: records, never changed; deleted with their control.
CREATE TABLE control_tests (
    control_id     TEXT        NOT NULL REFERENCES controls (id) ON DELETE CASCADE,
    id             TEXT        NOT NULL,
    test_date      TEXT        NOT NULL,
    result         INTEGER     NOT NULL,
    evidence_links TEXT        NOT NULL DEFAULT '[]',
    notes          TEXT        NOT NULL DEFAULT '',
    tester         TEXT        NOT NULL DEFAULT '',
    raised_risks   TEXT        NOT NULL DEFAULT '[]',
    create_time    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (control_id, id)
);
CREATE INDEX control_tests_test_date_idx ON control_tests (test_date);

-- The trend of each framework's posture: one row per framework and day on which it changed, the
-- counts as they stood at the end of that day.
CREATE TABLE posture_snapshots (
    framework_id      TEXT    NOT NULL REFERENCES frameworks (id),
    snapshot_date     TEXT    NOT NULL,
    requirement_count INTEGER NOT NULL,
    covered_count     INTEGER NOT NULL,
    partial_count     INTEGER NOT NULL,
    not_covered_count INTEGER NOT NULL,
    PRIMARY KEY (framework_id, snapshot_date)
);

-- +goose Down
DROP TABLE posture_snapshots;
DROP TABLE control_tests;
DROP TABLE control_requirements;
DROP TABLE controls;
DROP TABLE requirements;
DROP TABLE frameworks;
