package server

import (
	"context"

	"github.com/quarterdeck/quarterdeck/services/platform/listing"
)

// list answers one page of a List call. The store returns the rows after the page token's key in
// the planned order, one more than the page size (keyset pages: no offsets, so rows written
// between two calls neither repeat nor go missing); listing.Page cuts the extra row off and makes
// the next token from the last row kept, with value. Only the kept rows are converted, in order.
func list[R, P any](ctx context.Context, req listing.Request, res listing.Resource,
	fetch func(ctx context.Context, q *listing.Query) ([]R, error),
	value func(item R, path string) any, convert func(R) (P, error)) ([]P, string, error) {
	q, err := listing.Plan(req, res)
	if err != nil {
		return nil, "", err
	}
	rows, err := fetch(ctx, q)
	if err != nil {
		return nil, "", err
	}
	rows, token := listing.Page(q, rows, value)
	var out []P
	for _, r := range rows {
		p, err := convert(r)
		if err != nil {
			return nil, "", err
		}
		out = append(out, p)
	}
	return out, token, nil
}

// infallible adapts a conversion that cannot fail to list.
func infallible[R, P any](f func(R) P) func(R) (P, error) {
	return func(r R) (P, error) { return f(r), nil }
}
