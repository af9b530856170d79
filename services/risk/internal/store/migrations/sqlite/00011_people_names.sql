-- +goose Up
-- Each person's display name, as talent's person events last said it (reactions.go), so that a
-- campaign's people are shown by name. A person known before this migration has an empty name
-- until talent's next event about them.
ALTER TABLE people ADD COLUMN display_name TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE people DROP COLUMN display_name;
