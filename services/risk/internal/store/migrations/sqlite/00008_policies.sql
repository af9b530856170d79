-- +goose Up
-- Policies (store/policies.go): who must acknowledge them (everyone, or the people of teams, a
-- JSON list of talent's team names) and their current version, major.minor (0.0 before the
-- first), with its effective date and document.
CREATE TABLE policies (
    id                   TEXT        PRIMARY KEY,
    title                TEXT        NOT NULL,
    summary              TEXT        NOT NULL DEFAULT '',
    owner                TEXT        NOT NULL,
    everyone             BOOLEAN     NOT NULL,
    teams                TEXT        NOT NULL DEFAULT '[]',
    acknowledgement_days INTEGER     NOT NULL,
    major                INTEGER     NOT NULL DEFAULT 0,
    minor                INTEGER     NOT NULL DEFAULT 0,
    effective_date       TEXT       ,
    document_uri         TEXT        NOT NULL DEFAULT '',
    create_time          TIMESTAMP   NOT NULL,
    update_time          TIMESTAMP   NOT NULL,
    version              INTEGER     NOT NULL
);

-- The published versions of policies: records, never changed. sort_key orders a policy's
-- versions newest first (store.PolicyVersionTable).
CREATE TABLE policy_versions (
    policy_id                TEXT        NOT NULL REFERENCES policies (id),
    id                       TEXT        NOT NULL,
    major                    INTEGER     NOT NULL,
    minor                    INTEGER     NOT NULL,
    sort_key                 TEXT        NOT NULL,
    document_uri             TEXT        NOT NULL,
    effective_date           TEXT        NOT NULL,
    change_summary           TEXT        NOT NULL DEFAULT '',
    acknowledgement_due_date TEXT        NOT NULL,
    publisher                TEXT        NOT NULL DEFAULT '',
    create_time              TIMESTAMP   NOT NULL,
    PRIMARY KEY (policy_id, id),
    UNIQUE (policy_id, sort_key)
);

-- +goose Down
DROP TABLE policy_versions;
DROP TABLE policies;
