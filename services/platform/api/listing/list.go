package listing

import "context"

// List answers one page of a List call on table: it plans the query of req, lets fetch run it,
// cuts the page and converts only the kept rows, in order. fetch returns the rows after the page
// token's key in the planned order, one more than the page size (keyset pages: no offsets, so
// rows written between two calls neither repeat nor go missing); Page cuts the extra row off and
// makes the next token from the last row kept. Every service's List methods have this shape.
func List[R, P any](ctx context.Context, req Request, table *Table[R],
	fetch func(ctx context.Context, q *Query) ([]R, error), convert func(R) (P, error)) ([]P, string, error) {
	q, err := Plan(req, table.Resource)
	if err != nil {
		return nil, "", err
	}
	rows, err := fetch(ctx, q)
	if err != nil {
		return nil, "", err
	}
	rows, token := Page(q, rows, table.Value)
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

// Infallible adapts a conversion that cannot fail to List.
func Infallible[R, P any](f func(R) P) func(R) (P, error) {
	return func(r R) (P, error) { return f(r), nil }
}
