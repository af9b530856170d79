-- +goose Up
-- People's certifications. Dates are TEXT YYYY-MM-DD, as for people; expire_date is NULL for a
-- certification that does not expire. The expiry reminders are the scheduler's due items.
CREATE TABLE certifications (
    -- RESTRICT: people are never deleted (they leave); their certifications stay with them.
    person_id     TEXT        NOT NULL REFERENCES people (id) ON DELETE RESTRICT,
    id            TEXT        NOT NULL,
    display_name  TEXT        NOT NULL,
    issuer        TEXT        NOT NULL,
    credential_id TEXT        NOT NULL DEFAULT '',
    obtain_date   TEXT        NOT NULL,
    expire_date   TEXT,
    -- A skill's ID, checked against the taxonomy when set; NULL when none.
    skill_id      TEXT,
    create_time   TIMESTAMPTZ NOT NULL,
    update_time   TIMESTAMPTZ NOT NULL,
    version       BIGINT NOT NULL,
    PRIMARY KEY (person_id, id)
);
-- Lists of every person's certifications expiring before a day.
CREATE INDEX certifications_expire_date_idx ON certifications (expire_date);

-- +goose Down
DROP TABLE certifications;
