-- +goose Up
-- The heat map and the register report (store/views.go) read the register whole: 100,000 risks
-- must answer in well under 200 ms. These indexes hold every column those reads touch, so that
-- PostgreSQL answers from the index alone (an index-only scan) instead of reading the table.

-- The heat map of every open risk (the default filter, state <> CLOSED) and the register
-- report's totals: both group what this index holds, whatever the state.
CREATE INDEX risks_register_idx ON risks (state, inherent_likelihood, inherent_impact,
    residual_likelihood, residual_impact, residual_level, above_appetite, next_review_date);

-- The heat map of one category or one owner: the filter's equality first, the cells after.
CREATE INDEX risks_category_cells_idx ON risks (category, state, inherent_likelihood, inherent_impact,
    residual_likelihood, residual_impact);
CREATE INDEX risks_owner_cells_idx ON risks (owner, state, inherent_likelihood, inherent_impact,
    residual_likelihood, residual_impact);

-- The register report's top risks in its order, read from the top until enough pass the filter.
CREATE INDEX risks_top_idx ON risks (residual_score DESC, inherent_score DESC, id);

-- The risks' names in a heat map's cells, in name order within each cell.
CREATE INDEX risks_inherent_cell_idx ON risks (inherent_likelihood, inherent_impact, id);
CREATE INDEX risks_residual_cell_idx ON risks (residual_likelihood, residual_impact, id);

-- +goose Down
DROP INDEX risks_residual_cell_idx;
DROP INDEX risks_inherent_cell_idx;
DROP INDEX risks_top_idx;
DROP INDEX risks_owner_cells_idx;
DROP INDEX risks_category_cells_idx;
DROP INDEX risks_register_idx;
