-- +goose Up
-- Headcount plans against actuals: each plan's quarters as its latest event says, the people's
-- start and end dates and the positions' target starts the actuals are measured from. Rows
-- applied before this migration have empty dates until the briefing is rebuilt, which the
-- service does at its first start after the upgrade (model.Version): a person without a start
-- date counts from the first quarter on, a position without a target start in every quarter.
ALTER TABLE briefing_people ADD COLUMN start_date TEXT NOT NULL DEFAULT '';
ALTER TABLE briefing_people ADD COLUMN end_date TEXT NOT NULL DEFAULT '';
ALTER TABLE briefing_positions ADD COLUMN target_start_date TEXT NOT NULL DEFAULT '';

-- One row per quarter of a plan, `teams/{team}/headcountPlans/{fiscal_year}`.
CREATE TABLE briefing_headcount_quarters (
    plan              TEXT    NOT NULL,
    quarter           INTEGER NOT NULL,
    team              TEXT    NOT NULL,
    fiscal_year       INTEGER NOT NULL,
    start_date        TEXT    NOT NULL,
    end_date          TEXT    NOT NULL,
    planned_headcount INTEGER NOT NULL,
    PRIMARY KEY (plan, quarter)
);

-- +goose Down
DROP TABLE briefing_headcount_quarters;
ALTER TABLE briefing_positions DROP COLUMN target_start_date;
ALTER TABLE briefing_people DROP COLUMN end_date;
ALTER TABLE briefing_people DROP COLUMN start_date;
