package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestClampPageSize(t *testing.T) {
	g := &Gateway{set: Settings{MaxPageSize: 1000}}
	var got string
	h := g.clampPageSize(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.URL.RawQuery }))
	for query, want := range map[string]string{
		"pageSize=5000&pageToken=t": "pageSize=1000&pageToken=t",
		"page_size=1001":            "page_size=1000",
		"pageSize=1000":             "pageSize=1000",
		"pageSize=20":               "pageSize=20",
		"pageSize=-1":               "pageSize=-1", // the service rejects it with its field violation
		"pageSize=abc":              "pageSize=abc",
		"":                          "",
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/costCenters?"+query, nil))
		if got != want {
			t.Errorf("%q became %q, want %q", query, got, want)
		}
	}
}

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	l := newLimiter(60, 2) // one a second after a burst of two
	for i, want := range []bool{true, true, false} {
		if ok, _ := l.allow("a", now); ok != want {
			t.Errorf("call %d allowed = %v", i, ok)
		}
	}
	if ok, after := l.allow("a", now); ok || after <= 0 || after > time.Second {
		t.Errorf("over the limit: ok %v, retry after %v", ok, after)
	}
	if ok, _ := l.allow("b", now); !ok {
		t.Error("another key shares the bucket")
	}
	if ok, _ := l.allow("a", now.Add(time.Second)); !ok {
		t.Error("no token after the refill")
	}
	if retryAfterSeconds(1500*time.Millisecond) != "2" || retryAfterSeconds(time.Millisecond) != "1" {
		t.Error("Retry-After is not rounded up to whole seconds")
	}

	// Idle (full) buckets are forgotten once the map grows.
	l.prune = 3
	later := now.Add(time.Hour)
	l.allow("c", later)
	l.allow("d", later)
	if _, kept := l.buckets["a"]; kept || len(l.buckets) != 2 {
		t.Errorf("buckets after pruning: %d", len(l.buckets))
	}
	var none *limiter
	if ok, _ := none.allow("x", now); !ok {
		t.Error("no limiter must mean no limit")
	}
}
