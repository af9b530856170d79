-- +goose Up
-- Engine-specific: PostgreSQL adds the foreign key in place; SQLite cannot, and rebuilds the table.
-- A certification's skill is a foreign key of the taxonomy, as a rating's and a requirement's are:
-- a skill that a certification evidences can no longer be deleted (SKILL_IN_USE). Until now such a
-- skill could be, and its certifications went on naming it; they evidence no skill from here on.
UPDATE certifications SET skill_id = NULL
    WHERE skill_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM skills WHERE skills.id = certifications.skill_id);
ALTER TABLE certifications ADD CONSTRAINT certifications_skill_id_fkey
    FOREIGN KEY (skill_id) REFERENCES skills (id) ON DELETE RESTRICT;
-- A skill's deletion looks its certifications up.
CREATE INDEX certifications_skill_id_idx ON certifications (skill_id);

-- +goose Down
DROP INDEX certifications_skill_id_idx;
ALTER TABLE certifications DROP CONSTRAINT certifications_skill_id_fkey;
