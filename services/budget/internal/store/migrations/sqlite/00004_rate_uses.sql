-- +goose Up
-- Correcting an exchange rate revalues the open commitments and held holds converted with it:
-- they are found by their rate.
CREATE INDEX commitments_rate_id_idx ON commitments (rate_id, state);
CREATE INDEX holds_rate_id_idx ON holds (rate_id, state);

-- +goose Down
DROP INDEX holds_rate_id_idx;
DROP INDEX commitments_rate_id_idx;
