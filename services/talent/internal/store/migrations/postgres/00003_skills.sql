-- +goose Up
-- The skills taxonomy (categories → skills), the proficiency scale, people's ratings and teams'
-- requirements with their coverage. Dates are TEXT YYYY-MM-DD, as for people.
CREATE TABLE skill_categories (
    id           TEXT        PRIMARY KEY,
    display_name TEXT        NOT NULL,
    description  TEXT        NOT NULL DEFAULT '',
    create_time  TIMESTAMPTZ NOT NULL,
    update_time  TIMESTAMPTZ NOT NULL,
    version      BIGINT      NOT NULL
);

CREATE TABLE skills (
    id           TEXT        PRIMARY KEY,
    -- Unique in the taxonomy, whatever the case.
    display_name TEXT        NOT NULL,
    -- RESTRICT: a category that holds skills cannot be deleted.
    category_id  TEXT        NOT NULL REFERENCES skill_categories (id) ON DELETE RESTRICT,
    description  TEXT        NOT NULL DEFAULT '',
    create_time  TIMESTAMPTZ NOT NULL,
    update_time  TIMESTAMPTZ NOT NULL,
    version      BIGINT      NOT NULL
);
CREATE UNIQUE INDEX skills_display_name_key ON skills (LOWER(display_name));
CREATE INDEX skills_category_id_idx ON skills (category_id);

-- The scale's five levels once changed; none until then (the service's defaults apply). Every
-- row carries the scale's version and update time.
CREATE TABLE proficiency_levels (
    level       INTEGER     PRIMARY KEY CHECK (level BETWEEN 1 AND 5),
    title       TEXT        NOT NULL,
    description TEXT        NOT NULL DEFAULT '',
    update_time TIMESTAMPTZ NOT NULL,
    version     BIGINT      NOT NULL
);

-- Ratings are never changed nor deleted but for is_current, which marks the one rating of a
-- person and skill that counts: the latest rate_date, then the last recorded.
CREATE TABLE skill_ratings (
    id          TEXT        PRIMARY KEY,
    person_id   TEXT        NOT NULL REFERENCES people (id) ON DELETE RESTRICT,
    -- RESTRICT: a skill someone was rated on cannot be deleted.
    skill_id    TEXT        NOT NULL REFERENCES skills (id) ON DELETE RESTRICT,
    proficiency INTEGER     NOT NULL CHECK (proficiency BETWEEN 1 AND 5),
    evidence    TEXT        NOT NULL DEFAULT '',
    rate_date   TEXT        NOT NULL,
    rater       TEXT        NOT NULL DEFAULT '',
    is_current  BOOLEAN     NOT NULL,
    create_time TIMESTAMPTZ NOT NULL
);
CREATE INDEX skill_ratings_person_id_idx ON skill_ratings (person_id, skill_id);
CREATE INDEX skill_ratings_skill_id_idx ON skill_ratings (skill_id);
-- Coverage reads the current ratings only.
CREATE UNIQUE INDEX skill_ratings_current_idx ON skill_ratings (person_id, skill_id) WHERE is_current;

-- A team requires a skill once: its ID is the skill's. The coverage columns are its state as
-- last evaluated, kept in the transaction of every change that can move it; the events fire
-- when gap or key_person_id change.
CREATE TABLE skill_requirements (
    -- CASCADE: a team's requirements go with it.
    team_id         TEXT        NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    -- RESTRICT: a skill a team requires cannot be deleted.
    skill_id        TEXT        NOT NULL REFERENCES skills (id) ON DELETE RESTRICT,
    min_proficiency INTEGER     NOT NULL CHECK (min_proficiency BETWEEN 1 AND 5),
    required_people INTEGER     NOT NULL,
    covered_people  INTEGER     NOT NULL DEFAULT 0,
    gap             BOOLEAN     NOT NULL DEFAULT FALSE,
    -- The one person who covers the skill when only one does; NULL otherwise.
    key_person_id   TEXT,
    evaluate_time   TIMESTAMPTZ,
    create_time     TIMESTAMPTZ NOT NULL,
    update_time     TIMESTAMPTZ NOT NULL,
    version         BIGINT      NOT NULL,
    PRIMARY KEY (team_id, skill_id)
);
CREATE INDEX skill_requirements_skill_id_idx ON skill_requirements (skill_id);

-- +goose Down
DROP TABLE skill_requirements;
DROP TABLE skill_ratings;
DROP TABLE proficiency_levels;
DROP TABLE skills;
DROP TABLE skill_categories;
