-- +goose Up
-- Continuity plans (store/continuity.go), one per business service: the objectives in
-- nanoseconds, the dependencies as JSON lists, the exercise cadence in months or days, and the
-- latest exercise with the date the next one is due.
CREATE TABLE continuity_plans (
    id                   TEXT        PRIMARY KEY,
    title                TEXT        NOT NULL,
    description          TEXT        NOT NULL DEFAULT '',
    service              TEXT        NOT NULL UNIQUE,
    rto_ns               INTEGER      NOT NULL,
    rpo_ns               INTEGER      NOT NULL,
    vendor_dependencies  TEXT        NOT NULL DEFAULT '[]',
    service_dependencies TEXT        NOT NULL DEFAULT '[]',
    risk                 TEXT        NOT NULL DEFAULT '',
    owner                TEXT        NOT NULL,
    cadence_months       INTEGER     NOT NULL DEFAULT 0,
    cadence_days         INTEGER     NOT NULL DEFAULT 0,
    last_exercise        TEXT        NOT NULL DEFAULT '',
    last_exercise_date   TEXT       ,
    next_exercise_date   TEXT        NOT NULL,
    create_time          TIMESTAMP NOT NULL,
    update_time          TIMESTAMP NOT NULL,
    version              INTEGER      NOT NULL
);
CREATE INDEX continuity_plans_next_exercise_date_idx ON continuity_plans (next_exercise_date);

-- The exercises of plans: records, never changed; deleted with their plan. The objectives are
-- the plan's when the exercise was recorded; an achieved time is NULL when not measured. An
-- OUTAGE incident is recorded once per plan (incident, when set, is unique per plan).
CREATE TABLE continuity_exercises (
    plan_id         TEXT        NOT NULL REFERENCES continuity_plans (id) ON DELETE CASCADE,
    id              TEXT        NOT NULL,
    kind            INTEGER     NOT NULL,
    exercise_date   TEXT        NOT NULL,
    achieved_rto_ns INTEGER     ,
    achieved_rpo_ns INTEGER     ,
    rto_ns          INTEGER      NOT NULL,
    rpo_ns          INTEGER      NOT NULL,
    rto_result      INTEGER     NOT NULL,
    rpo_result      INTEGER     NOT NULL,
    findings        TEXT        NOT NULL DEFAULT '[]',
    notes           TEXT        NOT NULL DEFAULT '',
    incident        TEXT        NOT NULL DEFAULT '',
    recorder        TEXT        NOT NULL DEFAULT '',
    create_time     TIMESTAMP NOT NULL,
    PRIMARY KEY (plan_id, id)
);
CREATE INDEX continuity_exercises_exercise_date_idx ON continuity_exercises (exercise_date);
CREATE UNIQUE INDEX continuity_exercises_incident_idx ON continuity_exercises (plan_id, incident) WHERE incident <> '';

-- +goose Down
DROP TABLE continuity_exercises;
DROP TABLE continuity_plans;
