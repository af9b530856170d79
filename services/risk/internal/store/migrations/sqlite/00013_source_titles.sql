-- +goose Up
-- The title the register gave the risk it keeps for a source (reactions.go): a vendor's third-party
-- risk, a team's key-person risk, titled with the source's display name. A rename of the source
-- retitles the risk while its title is still this one, that is, until a person changes it. A risk
-- opened before this migration has no row, and keeps its title through renames.
CREATE TABLE source_titles (
    source      TEXT        PRIMARY KEY,
    title       TEXT        NOT NULL,
    update_time TIMESTAMP   NOT NULL
);

-- +goose Down
DROP TABLE source_titles;
