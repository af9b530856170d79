-- +goose Up
-- Assessment templates and assessments. Questions, answers and score breakdowns are JSON arrays
-- in TEXT, read and written whole; an assessment keeps its own copy of its template's questions,
-- so it has no foreign key to the template, which can change or go. Dates are TEXT 'YYYY-MM-DD'.
CREATE TABLE assessment_templates (
    id           TEXT        PRIMARY KEY,
    display_name TEXT        NOT NULL,
    description  TEXT        NOT NULL DEFAULT '',
    questions    TEXT        NOT NULL,
    revision     INTEGER     NOT NULL,
    create_time  TIMESTAMPTZ NOT NULL,
    update_time  TIMESTAMPTZ NOT NULL,
    version      BIGINT      NOT NULL
);
CREATE INDEX assessment_templates_display_name_idx ON assessment_templates (display_name);

CREATE TABLE assessments (
    -- CASCADE: deleting a prospect vendor deletes its assessments with it.
    vendor_id         TEXT        NOT NULL REFERENCES vendors (id) ON DELETE CASCADE,
    id                TEXT        NOT NULL,
    template_id       TEXT        NOT NULL,
    template_revision INTEGER     NOT NULL,
    questions         TEXT        NOT NULL,
    assessor          TEXT        NOT NULL,
    answers           TEXT        NOT NULL DEFAULT '[]',
    state             INTEGER     NOT NULL,
    score             INTEGER     NOT NULL DEFAULT 0,
    risk_rating       INTEGER     NOT NULL DEFAULT 0,
    score_breakdown   TEXT        NOT NULL DEFAULT '[]',
    complete_time     TIMESTAMPTZ,
    valid_until       TEXT,
    vendor_tier       INTEGER     NOT NULL DEFAULT 0,
    cancel_reason     TEXT        NOT NULL DEFAULT '',
    create_time       TIMESTAMPTZ NOT NULL,
    update_time       TIMESTAMPTZ NOT NULL,
    version           BIGINT      NOT NULL,
    PRIMARY KEY (vendor_id, id)
);
-- Lists across vendors (vendors/-) of what falls due next.
CREATE INDEX assessments_valid_until_idx ON assessments (valid_until);

-- +goose Down
DROP TABLE assessments;
DROP TABLE assessment_templates;
