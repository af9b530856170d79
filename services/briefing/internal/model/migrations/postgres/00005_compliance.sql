-- +goose Up
-- Compliance posture per framework, as its latest framework.posture_changed event says (the
-- title also from framework.imported).
CREATE TABLE briefing_frameworks (
    name              TEXT    PRIMARY KEY,
    title             TEXT    NOT NULL,
    requirement_count INTEGER NOT NULL,
    covered_count     INTEGER NOT NULL,
    partial_count     INTEGER NOT NULL,
    not_covered_count INTEGER NOT NULL,
    change_time       TIMESTAMPTZ
);

-- Controls with the day their next test is due (the risk service's control events). The dates
-- are YYYY-MM-DD; last_test_date is empty before the first test.
CREATE TABLE briefing_controls (
    name           TEXT    PRIMARY KEY,
    title          TEXT    NOT NULL,
    owner          TEXT    NOT NULL,
    test_frequency INTEGER NOT NULL,
    next_test_date TEXT    NOT NULL,
    last_result    INTEGER NOT NULL,
    last_test_date TEXT    NOT NULL
);

-- +goose Down
DROP TABLE briefing_controls;
DROP TABLE briefing_frameworks;
