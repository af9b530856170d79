-- +goose Up
-- The platform principal who is the person when calling the API (principals/{id} or users/{sub}),
-- NULL when none: the owner write policy's members of a team (ADR 0014). One ACTIVE person per
-- principal; people who left keep theirs without holding it.
ALTER TABLE people ADD COLUMN principal TEXT;
CREATE UNIQUE INDEX people_principal_key ON people (principal) WHERE state = 1;

-- +goose Down
DROP INDEX people_principal_key;
ALTER TABLE people DROP COLUMN principal;
