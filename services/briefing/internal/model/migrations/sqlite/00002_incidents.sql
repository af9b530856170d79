-- +goose Up
-- Incidents with the times their metrics are measured from (the risk service's incident events).
CREATE TABLE briefing_incidents (
    name             TEXT        PRIMARY KEY,
    title            TEXT        NOT NULL,
    type             INTEGER     NOT NULL,
    severity         INTEGER     NOT NULL,
    state            INTEGER     NOT NULL,
    detect_time      TIMESTAMP  ,
    acknowledge_time TIMESTAMP  ,
    resolve_time     TIMESTAMP  
);

-- +goose Down
DROP TABLE briefing_incidents;
