-- +goose Up
-- The skill requirements that exactly one person covers, as talent's events last said
-- (reactions.go): a requirement enters with skill.key_person_risk and leaves with
-- skill.key_person_risk_cleared. raised is whether its entry raised its team's people risk one
-- step, which its departure takes back; the requirement that opened the risk raised nothing. A
-- requirement in that state before this migration is learnt from talent's next event about it:
-- until then, its clearing changes no score.
CREATE TABLE key_person_requirements (
    requirement TEXT        PRIMARY KEY,
    team        TEXT        NOT NULL,
    key_person  TEXT        NOT NULL,
    raised      BOOLEAN     NOT NULL,
    update_time TIMESTAMPTZ NOT NULL
);
-- A reopened risk forgets the steps its team's requirements raised.
CREATE INDEX key_person_requirements_team_idx ON key_person_requirements (team);

-- +goose Down
DROP TABLE key_person_requirements;
