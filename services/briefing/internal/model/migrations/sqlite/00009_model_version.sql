-- +goose Up
-- The version of the code that built the model (model.Version): the number of the latest
-- migration that changed what the events fill. The service rebuilds a model of another version
-- from the streams when it starts, and records the version in the transaction that empties the
-- model (RebuildBriefing too). One row. 0 is a model built before the model recorded its
-- version: rebuilt at the first start, unless nothing was applied to it yet.
CREATE TABLE briefing_model_version (
    version INTEGER NOT NULL
);
INSERT INTO briefing_model_version (version) VALUES (0);

-- +goose Down
DROP TABLE briefing_model_version;
