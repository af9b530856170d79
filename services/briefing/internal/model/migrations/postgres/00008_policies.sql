-- +goose Up
-- The policies and the acknowledgements of their current major version (the risk service's
-- policy events), from which, with the people, the briefing counts who is overdue. teams are the
-- policy's teams, one per line, when everyone is false; major and minor are its current version
-- (0 before the first); due_date (YYYY-MM-DD, empty before the first major version) is when the
-- current major version's acknowledgements are due. A model built before these tables knows of
-- the policies and acknowledgements only what the events applied since say, until it is rebuilt,
-- which the service does at its first start after the upgrade (model.Version).
CREATE TABLE briefing_policies (
    name     TEXT    PRIMARY KEY,
    title    TEXT    NOT NULL,
    everyone BOOLEAN NOT NULL,
    teams    TEXT    NOT NULL,
    major    INTEGER NOT NULL,
    minor    INTEGER NOT NULL,
    due_date TEXT    NOT NULL
);
CREATE TABLE briefing_policy_acknowledgements (
    policy TEXT    NOT NULL,
    person TEXT    NOT NULL,
    major  INTEGER NOT NULL,
    PRIMARY KEY (policy, person, major)
);

-- +goose Down
DROP TABLE briefing_policy_acknowledgements;
DROP TABLE briefing_policies;
