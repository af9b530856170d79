-- +goose Up
-- Continuity plans with the day their next exercise is due (the risk service's continuity
-- events). The dates are YYYY-MM-DD; last_exercise_date is empty before the first exercise. The
-- cadence is every cadence_months months or every cadence_days days.
CREATE TABLE briefing_continuity_plans (
    name               TEXT    PRIMARY KEY,
    title              TEXT    NOT NULL,
    service            TEXT    NOT NULL,
    owner              TEXT    NOT NULL,
    cadence_months     INTEGER NOT NULL,
    cadence_days       INTEGER NOT NULL,
    next_exercise_date TEXT    NOT NULL,
    last_exercise_date TEXT    NOT NULL
);

-- +goose Down
DROP TABLE briefing_continuity_plans;
