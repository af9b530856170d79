-- +goose Up
-- Talent: teams, people and skills for their names and the headcount, positions with the times
-- their time to fill is measured from, and the teams' coverage of the skills they require.
CREATE TABLE briefing_teams (
    name         TEXT PRIMARY KEY,
    display_name TEXT NOT NULL
);

CREATE TABLE briefing_people (
    name         TEXT    PRIMARY KEY,
    display_name TEXT    NOT NULL,
    team         TEXT    NOT NULL,
    state        INTEGER NOT NULL
);

CREATE TABLE briefing_skills (
    name         TEXT PRIMARY KEY,
    display_name TEXT NOT NULL
);

CREATE TABLE briefing_positions (
    name      TEXT        PRIMARY KEY,
    title     TEXT        NOT NULL,
    team      TEXT        NOT NULL,
    state     INTEGER     NOT NULL,
    open_time TIMESTAMP  ,
    fill_time TIMESTAMP  
);

-- One row per skill requirement, as its latest coverage event says.
CREATE TABLE briefing_coverage (
    requirement     TEXT    PRIMARY KEY,
    team            TEXT    NOT NULL,
    skill           TEXT    NOT NULL,
    required_people INTEGER NOT NULL,
    covered_people  INTEGER NOT NULL,
    shortfall       INTEGER NOT NULL,
    gap             BOOLEAN NOT NULL,
    key_person_risk BOOLEAN NOT NULL,
    key_person      TEXT    NOT NULL
);

-- +goose Down
DROP TABLE briefing_coverage;
DROP TABLE briefing_positions;
DROP TABLE briefing_skills;
DROP TABLE briefing_people;
DROP TABLE briefing_teams;
