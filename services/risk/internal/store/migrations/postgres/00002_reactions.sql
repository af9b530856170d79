-- +goose Up
-- How far the service's reactions to other services' events have got, per key: for each vendor the
-- newest assessment applied ("vendors/acme:assessment" → its completion time and name), for each
-- attestation the latest expiry date that raised its vendor's risk. A reaction applies an event only
-- when it moves its key's position forward, in the transaction of its effect, so that an event
-- delivered again past the consumer's inbox (a replay of the stream, an inbox pruned) or an older
-- event arriving late changes nothing. Positions compare as text.
CREATE TABLE reaction_positions (
    key         TEXT        PRIMARY KEY,
    position    TEXT        NOT NULL,
    update_time TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE reaction_positions;
