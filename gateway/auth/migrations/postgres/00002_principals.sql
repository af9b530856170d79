-- +goose Up
-- The principal a key belongs to: who acts when it is used, for the rules that compare people.
-- Existing keys: the bootstrap key is the administrator's, a key made by an OIDC user is that
-- user's; a key made by another key gets that key's principal when the gateway opens the
-- database (OpenDatabase resolves the chain).
ALTER TABLE api_keys ADD COLUMN principal TEXT NOT NULL DEFAULT '';
UPDATE api_keys SET principal = 'principals/admin' WHERE id = 'bootstrap';
UPDATE api_keys SET principal = creator WHERE principal = '' AND creator LIKE 'users/%';

-- +goose Down
ALTER TABLE api_keys DROP COLUMN principal;
