-- +goose Up
CREATE TABLE api_keys (
    id            TEXT        PRIMARY KEY,
    display_name  TEXT        NOT NULL,
    -- SHA-256 of the whole key, hex; the key itself is never stored.
    key_hash      TEXT        NOT NULL UNIQUE,
    key_prefix    TEXT        NOT NULL,
    -- Space-separated scopes.
    scopes        TEXT        NOT NULL,
    creator       TEXT        NOT NULL,
    create_time   TIMESTAMPTZ NOT NULL,
    expire_time   TIMESTAMPTZ,
    revoke_time   TIMESTAMPTZ,
    last_use_time TIMESTAMPTZ
);

-- +goose Down
DROP TABLE api_keys;
