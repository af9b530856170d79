package listing_test

import (
	"context"
	"errors"
	"testing"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
)

// TestListPagesAndConvertsOnlyTheKeptRows: List plans the query, hands it to fetch, cuts the page
// and converts the rows it keeps; a conversion error or a bad request stops it.
func TestListPagesAndConvertsOnlyTheKeptRows(t *testing.T) {
	ctx := context.Background()
	rows := []item{{id: "a"}, {id: "b"}, {id: "c"}}
	var limit int
	fetch := func(_ context.Context, q *listing.Query) ([]item, error) {
		limit = q.Limit
		return rows[:min(q.Limit, len(rows))], nil
	}
	converted := 0
	convert := func(it item) (string, error) { converted++; return it.id, nil }
	page, token, err := listing.List(ctx, &budgetv1.ListCostCentersRequest{PageSize: 2}, table, fetch, convert)
	if err != nil {
		t.Fatal(err)
	}
	if limit != 3 || len(page) != 2 || page[0] != "a" || page[1] != "b" || token == "" || converted != 2 {
		t.Errorf("page %v, token %q, fetched with limit %d, %d conversions; want [a b], a token, limit 3, 2", page, token, limit, converted)
	}

	boom := errors.New("boom")
	if _, _, err := listing.List(ctx, &budgetv1.ListCostCentersRequest{}, table, fetch,
		func(item) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Errorf("conversion error = %v, want %v", err, boom)
	}
	if _, _, err := listing.List(ctx, &budgetv1.ListCostCentersRequest{OrderBy: "nope"}, table, fetch,
		listing.Infallible(func(it item) string { return it.id })); err == nil {
		t.Error("an order by an unknown field was planned")
	}
}
