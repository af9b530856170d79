-- +goose Up
-- The risk register: the matrix's versions, the appetite, risks with their score history,
-- mitigation actions and acceptances. Dates are TEXT 'YYYY-MM-DD' on both engines: they compare
-- and sort as text the way they do as dates, and need no time zone. Enumerations are INTEGER (the
-- domain's values, in order: a level compares as its number); lists are JSON arrays in TEXT, read
-- and written whole. Money is integer minor units with its currency code (an empty code is an
-- unset amount), never a float.

-- Every version of the risk matrix; the highest is the current one. Version 1, the default 5×5
-- matrix, is written by the first change of the matrix (until then the service answers with it
-- from its code), so that every version a risk names can be read back.
CREATE TABLE risk_matrix_versions (
    version           INTEGER     PRIMARY KEY,
    likelihood_levels TEXT        NOT NULL,
    impact_levels     TEXT        NOT NULL,
    cells             TEXT        NOT NULL,
    description       TEXT        NOT NULL DEFAULT '',
    creator           TEXT        NOT NULL DEFAULT '',
    create_time       TIMESTAMP   NOT NULL
);

-- The appetite, one row (id 1) once it was first changed; the service's defaults before.
CREATE TABLE risk_appetite (
    id            INTEGER     PRIMARY KEY,
    default_level INTEGER     NOT NULL,
    categories    TEXT        NOT NULL DEFAULT '[]',
    updater       TEXT        NOT NULL DEFAULT '',
    update_time   TIMESTAMP   NOT NULL,
    version       INTEGER     NOT NULL
);

CREATE TABLE risks (
    id                  TEXT        PRIMARY KEY,
    title               TEXT        NOT NULL,
    description         TEXT        NOT NULL DEFAULT '',
    category            INTEGER     NOT NULL,
    owner               TEXT        NOT NULL,
    -- The scores: 0 in every column until the first assessment; score is likelihood × impact,
    -- level the matrix cell's level on matrix_version.
    inherent_likelihood INTEGER     NOT NULL DEFAULT 0,
    inherent_impact     INTEGER     NOT NULL DEFAULT 0,
    inherent_score      INTEGER     NOT NULL DEFAULT 0,
    inherent_level      INTEGER     NOT NULL DEFAULT 0,
    residual_likelihood INTEGER     NOT NULL DEFAULT 0,
    residual_impact     INTEGER     NOT NULL DEFAULT 0,
    residual_score      INTEGER     NOT NULL DEFAULT 0,
    residual_level      INTEGER     NOT NULL DEFAULT 0,
    matrix_version      INTEGER     NOT NULL DEFAULT 0,
    treatment           INTEGER     NOT NULL DEFAULT 0,
    treatment_plan      TEXT        NOT NULL DEFAULT '',
    state               INTEGER     NOT NULL,
    state_reason        TEXT        NOT NULL DEFAULT '',
    state_change_time   TIMESTAMP   NOT NULL,
    next_review_date    TEXT,
    last_review_time    TIMESTAMP,
    above_appetite      BOOLEAN     NOT NULL DEFAULT FALSE,
    vendors             TEXT        NOT NULL DEFAULT '[]',
    incidents           TEXT        NOT NULL DEFAULT '[]',
    controls            TEXT        NOT NULL DEFAULT '[]',
    -- What opened the risk when the service did (e.g. vendors/{vendor}); '' for the API's.
    source              TEXT        NOT NULL DEFAULT '',
    assessor            TEXT        NOT NULL DEFAULT '',
    assess_time         TIMESTAMP,
    create_time         TIMESTAMP   NOT NULL,
    update_time         TIMESTAMP   NOT NULL,
    version             INTEGER     NOT NULL
);
-- One risk per source: the reactions to other services' events open or refresh that one.
CREATE UNIQUE INDEX risks_source_idx ON risks (source) WHERE source <> '';
-- The heat map and the register report select by category, owner and state.
CREATE INDEX risks_category_state_idx ON risks (category, state);
CREATE INDEX risks_owner_idx ON risks (owner);
CREATE INDEX risks_residual_score_idx ON risks (residual_score);
CREATE INDEX risks_next_review_date_idx ON risks (next_review_date);

-- The links of each risk to other services' resources (vendors/{v}, incidents/{i}, controls/{c}),
-- as in the risk's JSON lists, one row per name: what lists filter by (vendors:"vendors/acme").
CREATE TABLE risk_links (
    risk_id TEXT NOT NULL REFERENCES risks (id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    target  TEXT NOT NULL,
    PRIMARY KEY (risk_id, kind, target)
);
CREATE INDEX risk_links_target_idx ON risk_links (kind, target);

-- The score history: one row per change of a risk's scores, never changed. id is seq zero-padded
-- to 8 digits, so that names sort in the order of the changes.
CREATE TABLE risk_score_changes (
    -- CASCADE: deleting an IDENTIFIED risk (entered by mistake) deletes its history with it.
    risk_id                  TEXT        NOT NULL REFERENCES risks (id) ON DELETE CASCADE,
    id                       TEXT        NOT NULL,
    seq                      INTEGER     NOT NULL,
    actor                    TEXT        NOT NULL,
    change_time              TIMESTAMP   NOT NULL,
    reason                   TEXT        NOT NULL DEFAULT '',
    cause                    TEXT        NOT NULL DEFAULT '',
    from_inherent_likelihood INTEGER     NOT NULL DEFAULT 0,
    from_inherent_impact     INTEGER     NOT NULL DEFAULT 0,
    from_inherent_level      INTEGER     NOT NULL DEFAULT 0,
    to_inherent_likelihood   INTEGER     NOT NULL,
    to_inherent_impact       INTEGER     NOT NULL,
    to_inherent_level        INTEGER     NOT NULL,
    from_residual_likelihood INTEGER     NOT NULL DEFAULT 0,
    from_residual_impact     INTEGER     NOT NULL DEFAULT 0,
    from_residual_level      INTEGER     NOT NULL DEFAULT 0,
    to_residual_likelihood   INTEGER     NOT NULL,
    to_residual_impact       INTEGER     NOT NULL,
    to_residual_level        INTEGER     NOT NULL,
    from_matrix_version      INTEGER     NOT NULL DEFAULT 0,
    to_matrix_version        INTEGER     NOT NULL,
    PRIMARY KEY (risk_id, id)
);
-- The register report's trend: the residual score of each risk at a date.
CREATE INDEX risk_score_changes_change_time_idx ON risk_score_changes (change_time);

CREATE TABLE mitigation_actions (
    risk_id        TEXT        NOT NULL REFERENCES risks (id) ON DELETE CASCADE,
    id             TEXT        NOT NULL,
    title          TEXT        NOT NULL,
    description    TEXT        NOT NULL DEFAULT '',
    owner          TEXT        NOT NULL,
    due_date       TEXT        NOT NULL,
    state          INTEGER     NOT NULL,
    state_reason   TEXT        NOT NULL DEFAULT '',
    cost_minor     INTEGER     NOT NULL DEFAULT 0,
    cost_currency  TEXT        NOT NULL DEFAULT '',
    budget_line    TEXT        NOT NULL DEFAULT '',
    complete_time  TIMESTAMP,
    create_time    TIMESTAMP   NOT NULL,
    update_time    TIMESTAMP   NOT NULL,
    version        INTEGER     NOT NULL,
    PRIMARY KEY (risk_id, id)
);
-- Lists across risks (risks/-) by due date: what falls due next, what is overdue.
CREATE INDEX mitigation_actions_due_date_idx ON mitigation_actions (due_date);

CREATE TABLE acceptances (
    risk_id         TEXT        NOT NULL REFERENCES risks (id) ON DELETE CASCADE,
    id              TEXT        NOT NULL,
    justification   TEXT        NOT NULL,
    expiry_date     TEXT        NOT NULL,
    state           INTEGER     NOT NULL,
    requester       TEXT        NOT NULL DEFAULT '',
    approver        TEXT        NOT NULL DEFAULT '',
    decision_reason TEXT        NOT NULL DEFAULT '',
    decide_time     TIMESTAMP,
    accepted_score  INTEGER     NOT NULL DEFAULT 0,
    create_time     TIMESTAMP   NOT NULL,
    update_time     TIMESTAMP   NOT NULL,
    version         INTEGER     NOT NULL,
    PRIMARY KEY (risk_id, id)
);
-- At most one PENDING (1) or APPROVED (2) acceptance per risk, even between racing transactions.
CREATE UNIQUE INDEX acceptances_live_idx ON acceptances (risk_id) WHERE state IN (1, 2);
CREATE INDEX acceptances_expiry_date_idx ON acceptances (expiry_date);

-- +goose Down
DROP TABLE acceptances;
DROP TABLE mitigation_actions;
DROP TABLE risk_score_changes;
DROP TABLE risk_links;
DROP TABLE risks;
DROP TABLE risk_appetite;
DROP TABLE risk_matrix_versions;
