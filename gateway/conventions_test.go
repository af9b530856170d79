package gateway_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestRESTConventions checks request IDs, filters and orderings as REST clients use them.
func TestRESTConventions(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, testenv.SQLite(t))
	base := p.url + "/v1/costCenters"

	const rid = "8d0f7b5e-2f5c-4c3a-9e61-0c4b9a7d2e10"
	first := call(t, "POST", base+"?requestId="+rid, `{"displayName":"Infrastructure","code":"CC-100"}`)
	retry := call(t, "POST", base+"?requestId="+rid, `{"displayName":"Infrastructure","code":"CC-100"}`)
	if first.code != http.StatusOK || retry.code != http.StatusOK || retry.body["name"] != first.body["name"] {
		t.Fatalf("create and retry = %d %v, %d %v", first.code, first.body, retry.code, retry.body)
	}
	reused := call(t, "POST", base+"?requestId="+rid, `{"displayName":"Other","code":"CC-200"}`)
	if reason, fields := details(t, reused.body); reused.code != http.StatusBadRequest || reason != "REQUEST_ID_REUSED" ||
		!slices.Equal(fields, []string{"request_id:REQUEST_ID_REUSED"}) {
		t.Errorf("reused request id = %d %v", reused.code, reused.body)
	}
	call(t, "POST", base, `{"displayName":"Apps","code":"CC-300","parent":"`+first.body["name"].(string)+`"}`)
	call(t, "POST", base, `{"displayName":"Network","code":"CC-400","parent":"`+first.body["name"].(string)+`"}`)

	q := url.Values{"filter": {`parent = "` + first.body["name"].(string) + `"`}, "orderBy": {"display_name desc"}, "pageSize": {"1"}}
	page := call(t, "GET", base+"?"+q.Encode(), "")
	items, _ := page.body["costCenters"].([]any)
	if page.code != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["displayName"] != "Network" || page.body["nextPageToken"] == nil {
		t.Fatalf("filtered page = %d %v", page.code, page.body)
	}
	q.Set("pageToken", page.body["nextPageToken"].(string))
	page = call(t, "GET", base+"?"+q.Encode(), "")
	items, _ = page.body["costCenters"].([]any)
	if page.code != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["displayName"] != "Apps" || page.body["nextPageToken"] != nil {
		t.Fatalf("second page = %d %v", page.code, page.body)
	}

	for _, tt := range []struct {
		query url.Values
		field string
	}{
		{url.Values{"filter": {`colour = "red"`}}, "filter:FILTER_UNKNOWN_FIELD"},
		{url.Values{"orderBy": {"colour"}}, "order_by:ORDER_BY_INVALID"},
	} {
		r := call(t, "GET", base+"?"+tt.query.Encode(), "")
		if reason, fields := details(t, r.body); r.code != http.StatusBadRequest || reason != "INVALID_ARGUMENT" || !slices.Equal(fields, []string{tt.field}) {
			t.Errorf("%v = %d %v", tt.query, r.code, r.body)
		}
	}
}
