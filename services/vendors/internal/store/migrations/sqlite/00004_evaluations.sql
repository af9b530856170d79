-- +goose Up
-- Evaluations of candidate solutions. Criteria, candidates and scores are JSON arrays in TEXT,
-- read and written whole: an update replaces each of them as a whole, and the ranking is computed
-- from them when the evaluation is read. Candidates name vendors by ID without a foreign key: a
-- decided evaluation keeps its record even of a prospect vendor deleted since.
CREATE TABLE evaluations (
    id                 TEXT        PRIMARY KEY,
    title              TEXT        NOT NULL,
    need               TEXT        NOT NULL DEFAULT '',
    owner              TEXT        NOT NULL DEFAULT '',
    criteria           TEXT        NOT NULL DEFAULT '[]',
    candidates         TEXT        NOT NULL DEFAULT '[]',
    scores             TEXT        NOT NULL DEFAULT '[]',
    state              INTEGER     NOT NULL,
    winner             TEXT        NOT NULL DEFAULT '',
    decision_rationale TEXT        NOT NULL DEFAULT '',
    decider            TEXT        NOT NULL DEFAULT '',
    decide_time        TIMESTAMP,
    cancel_reason      TEXT        NOT NULL DEFAULT '',
    create_time        TIMESTAMP   NOT NULL,
    update_time        TIMESTAMP   NOT NULL,
    version            INTEGER     NOT NULL
);
CREATE INDEX evaluations_state_idx ON evaluations (state);

-- +goose Down
DROP TABLE evaluations;
