-- +goose Up
-- The people of talent as its person events told the service (reactions.go): each person's team
-- and whether they are still there, at the event version applied last. Who must acknowledge a
-- policy is read from here, never asked of talent per read.
CREATE TABLE people (
    id      TEXT    PRIMARY KEY,
    team    TEXT    NOT NULL DEFAULT '',
    active  BOOLEAN NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX people_team_idx ON people (team);

-- Acknowledgements of policies: one per person and major version, with the minor version the
-- person acknowledged.
CREATE TABLE policy_acknowledgements (
    policy_id        TEXT        NOT NULL REFERENCES policies (id),
    major            INTEGER     NOT NULL,
    person_id        TEXT        NOT NULL,
    minor            INTEGER     NOT NULL,
    recorder         TEXT        NOT NULL DEFAULT '',
    acknowledge_time TIMESTAMP   NOT NULL,
    PRIMARY KEY (policy_id, major, person_id)
);

-- +goose Down
DROP TABLE policy_acknowledgements;
DROP TABLE people;
