-- +goose Up
-- Engine-specific: PostgreSQL adds the foreign key in place; SQLite cannot, and rebuilds the table.
-- A certification's skill is a foreign key of the taxonomy, as a rating's and a requirement's are:
-- a skill that a certification evidences can no longer be deleted (SKILL_IN_USE). Until now such a
-- skill could be, and its certifications went on naming it; they evidence no skill from here on.
UPDATE certifications SET skill_id = NULL
    WHERE skill_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM skills WHERE skills.id = certifications.skill_id);
CREATE TABLE certifications_next (
    -- RESTRICT: people are never deleted (they leave); their certifications stay with them.
    person_id     TEXT        NOT NULL REFERENCES people (id) ON DELETE RESTRICT,
    id            TEXT        NOT NULL,
    display_name  TEXT        NOT NULL,
    issuer        TEXT        NOT NULL,
    credential_id TEXT        NOT NULL DEFAULT '',
    obtain_date   TEXT        NOT NULL,
    expire_date   TEXT,
    -- A skill of the taxonomy; NULL when none. RESTRICT: a skill evidenced cannot be deleted.
    skill_id      TEXT        REFERENCES skills (id) ON DELETE RESTRICT,
    create_time   TIMESTAMP NOT NULL,
    update_time   TIMESTAMP NOT NULL,
    version       INTEGER NOT NULL,
    PRIMARY KEY (person_id, id)
);
INSERT INTO certifications_next (person_id, id, display_name, issuer, credential_id, obtain_date, expire_date,
    skill_id, create_time, update_time, version)
    SELECT person_id, id, display_name, issuer, credential_id, obtain_date, expire_date,
        skill_id, create_time, update_time, version FROM certifications;
DROP TABLE certifications;
ALTER TABLE certifications_next RENAME TO certifications;
-- Lists of every person's certifications expiring before a day.
CREATE INDEX certifications_expire_date_idx ON certifications (expire_date);
-- A skill's deletion looks its certifications up.
CREATE INDEX certifications_skill_id_idx ON certifications (skill_id);

-- +goose Down
CREATE TABLE certifications_prev (
    person_id     TEXT        NOT NULL REFERENCES people (id) ON DELETE RESTRICT,
    id            TEXT        NOT NULL,
    display_name  TEXT        NOT NULL,
    issuer        TEXT        NOT NULL,
    credential_id TEXT        NOT NULL DEFAULT '',
    obtain_date   TEXT        NOT NULL,
    expire_date   TEXT,
    skill_id      TEXT,
    create_time   TIMESTAMP NOT NULL,
    update_time   TIMESTAMP NOT NULL,
    version       INTEGER NOT NULL,
    PRIMARY KEY (person_id, id)
);
INSERT INTO certifications_prev SELECT * FROM certifications;
DROP TABLE certifications;
ALTER TABLE certifications_prev RENAME TO certifications;
CREATE INDEX certifications_expire_date_idx ON certifications (expire_date);
