package testkit

import "testing"

// maxPages bounds AllPages, so that a list whose tokens never end fails instead of hanging.
const maxPages = 1000

// AllPages follows a list from its first page: page is called with each page token, "" first,
// and returns that page's items and the next token, "" on the last page. AllPages returns every
// item in order and the number of pages, and fails the test on an error.
func AllPages[T any](t testing.TB, page func(token string) (items []T, next string, err error)) ([]T, int) {
	t.Helper()
	var all []T
	token := ""
	for pages := 1; pages <= maxPages; pages++ {
		items, next, err := page(token)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		all = append(all, items...)
		if next == "" {
			return all, pages
		}
		token = next
	}
	t.Fatalf("the list has more than %d pages", maxPages)
	return nil, 0
}
