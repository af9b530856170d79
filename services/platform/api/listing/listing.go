// Package listing runs the List methods of every service the same way (AIP-132, AIP-158,
// AIP-160): it checks a request's filter and order_by against the resource's schema, decodes its
// page token into a keyset condition, and turns a page of results into the next page token.
// A store only adds the pieces of SQL it returns to its own SELECT, and describes each resource's
// fields once, in a Table: their paths, columns and types, and how to read them from an item.
package listing

import (
	"google.golang.org/protobuf/proto"

	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/pagetoken"
)

// Request is a standard List request. A request that also has a filter field (GetFilter() string)
// or an order_by field (GetOrderBy() string) gets them applied; lists without them order by the
// key alone.
type Request interface {
	proto.Message
	GetPageSize() int32
	GetPageToken() string
}

type (
	filtered interface{ GetFilter() string }
	ordered  interface{ GetOrderBy() string }
)

// Resource describes what a list can filter and order by.
type Resource struct {
	// Schema allows the filterable and sortable fields.
	Schema filter.Schema
	// Key is the schema path of the resource's unique key, the last sort term ("name").
	Key string
}

// Query is a planned list query. A store selects
//
//	SELECT … FROM … [WHERE <Where>] ORDER BY <OrderBy> LIMIT <Limit>
//
// binding Args to Where's placeholders, which start at $1; the limit goes in as $len(Args)+1.
type Query struct {
	Where   string
	Args    []any
	OrderBy string
	// Limit is one more than the page size, so that a full result tells that another page exists
	// without a count query.
	Limit int

	size     int
	order    *Order
	checksum uint32
}

// Plan checks req and returns the query for the page it asks for. Every failure is an
// InvalidArgument error with a violation on the offending field (filter, order_by, page_token).
func Plan(req Request, res Resource) (*Query, error) {
	var orderBy, expr string
	if r, ok := req.(ordered); ok {
		orderBy = r.GetOrderBy()
	}
	if r, ok := req.(filtered); ok {
		expr = r.GetFilter()
	}
	order, err := ParseOrder(orderBy, res.Schema, res.Key)
	if err != nil {
		return nil, err
	}
	where, args, err := filter.Compile(expr, res.Schema, 1)
	if err != nil {
		return nil, err
	}
	sum := pagetoken.Checksum(req)
	key, err := pagetoken.Decode(req.GetPageToken(), sum, len(order.terms))
	if err != nil {
		return nil, err
	}
	if key != nil {
		after, afterArgs, err := order.After(key, len(args)+1)
		if err != nil {
			return nil, pagetoken.Invalid()
		}
		if where != "" {
			where += " AND "
		}
		where += after
		args = append(args, afterArgs...)
	}
	size := pagetoken.Size(req.GetPageSize())
	return &Query{Where: where, Args: args, OrderBy: order.SQL(), Limit: size + 1, size: size, order: order, checksum: sum}, nil
}

// Page cuts the items a store returned for q down to the page size and returns the token of the
// next page, empty on the last one. value returns an item's value of a schema path, as for
// Order.Key.
func Page[T any](q *Query, items []T, value func(item T, path string) any) ([]T, string) {
	if len(items) <= q.size {
		return items, ""
	}
	items = items[:q.size]
	last := items[len(items)-1]
	return items, pagetoken.Encode(q.checksum, q.order.Key(func(p string) any { return value(last, p) })...)
}
