package gateway_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// records returns the auditRecords of a ListAuditRecords response body.
func records(t *testing.T, r response) []map[string]any {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("list audit records = %d %v", r.code, r.body)
	}
	var out []map[string]any
	xs, _ := r.body["auditRecords"].([]any) // absent from an empty page
	for _, x := range xs {
		out = append(out, x.(map[string]any))
	}
	return out
}

// sealedRecords lists the records at u once at least want are sealed (the service's sealer seals
// them a moment after their commit), failing after a deadline.
func sealedRecords(t *testing.T, u string, want int) []map[string]any {
	t.Helper()
	var rs []map[string]any
	testkit.Eventually(t, 20*time.Second, func() error {
		if rs = records(t, call(t, "GET", u, "")); len(rs) < want {
			return fmt.Errorf("%d audit records sealed, want %d: %v", len(rs), want, rs)
		}
		return nil
	})
	return rs
}

func TestAuditTrailOverREST(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			p := startPlatform(t, db)
			audit := p.url + "/v1/services/budget/auditRecords"

			created := call(t, "POST", p.url+"/v1/costCenters?costCenterId=infra", `{"displayName":"Infrastructure","code":"CC-100"}`)
			if created.code != http.StatusOK {
				t.Fatalf("create = %d %v", created.code, created.body)
			}
			patched := call(t, "PATCH", p.url+"/v1/costCenters/infra", `{"owner":"cio@example.com"}`)
			if patched.code != http.StatusOK {
				t.Fatalf("patch = %d %v", patched.code, patched.body)
			}
			if del := call(t, "DELETE", p.url+"/v1/costCenters/infra", ""); del.code != http.StatusOK {
				t.Fatalf("delete = %d %v", del.code, del.body)
			}

			rs := sealedRecords(t, audit, 3)
			var actions []string
			for _, r := range rs {
				actions = append(actions, r["action"].(string))
			}
			if !slices.Equal(actions, []string{"CREATE", "UPDATE", "DELETE"}) {
				t.Fatalf("actions = %v", actions)
			}
			first := rs[0]
			if first["name"] != "services/budget/auditRecords/1" || first["sequence"] != "1" ||
				first["resource"] != "costCenters/infra" || first["method"] != "/quarterdeck.budget.v1.BudgetService/CreateCostCenter" {
				t.Errorf("first record = %v", first)
			}
			// The gateway's request id and the trace of the REST call reach the record.
			if first["requestId"] != created.header.Get(gateway.HeaderRequestID) || first["requestId"] == "" {
				t.Errorf("request id = %v, want %q", first["requestId"], created.header.Get(gateway.HeaderRequestID))
			}
			if id, _ := first["traceId"].(string); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
				t.Errorf("trace id = %q", id)
			}
			change := rs[1]["changes"].([]any)[0].(map[string]any)
			if change["path"] != "owner" || change["after"] != "cio@example.com" || change["before"] != nil {
				t.Errorf("update change = %v", change)
			}

			// Pages, oldest first.
			page := call(t, "GET", audit+"?pageSize=2", "")
			next, _ := page.body["nextPageToken"].(string)
			if len(records(t, page)) != 2 || next == "" {
				t.Fatalf("first page = %v", page.body)
			}
			last := records(t, call(t, "GET", audit+"?pageSize=2&pageToken="+url.QueryEscape(next), ""))
			if len(last) != 1 || last[0]["sequence"] != "3" {
				t.Errorf("last page = %v", last)
			}

			filtered := records(t, call(t, "GET", audit+"?filter="+url.QueryEscape(`resource = "costCenters/infra" AND action = "UPDATE"`), ""))
			if len(filtered) != 1 || filtered[0]["sequence"] != "2" {
				t.Errorf("filtered = %v", filtered)
			}
			bad := call(t, "GET", audit+"?filter="+url.QueryEscape(`resource ~ "x"`), "")
			if reason, fields := details(t, bad.body); bad.code != http.StatusBadRequest || reason != "INVALID_ARGUMENT" ||
				!slices.Equal(fields, []string{"filter:FILTER_SYNTAX_ERROR"}) {
				t.Errorf("bad filter = %d %v", bad.code, bad.body)
			}
			either := records(t, call(t, "GET", audit+"?filter="+url.QueryEscape(`action = CREATE OR (resource = "costCenters/infra" AND NOT action = DELETE)`), ""))
			if len(either) != 2 || either[0]["sequence"] != "1" || either[1]["sequence"] != "2" {
				t.Errorf("filtered with OR and NOT = %v", either)
			}

			// docs/audit.md defines the hash well enough to check the chain from the REST output alone.
			prev := ""
			for _, r := range rs {
				if r["previousHash"] != prev && !(prev == "" && r["previousHash"] == nil) {
					t.Errorf("record %v: previousHash %v, want %q", r["sequence"], r["previousHash"], prev)
				}
				if got := independentHash(t, r); got != r["hash"] {
					t.Errorf("record %v: recomputed hash %s, served %v", r["sequence"], got, r["hash"])
				}
				prev = r["hash"].(string)
			}

			verified := call(t, "POST", audit+":verify", `{}`)
			if verified.code != http.StatusOK || verified.body["valid"] != true || verified.body["recordsChecked"] != "3" {
				t.Errorf("verify = %d %v", verified.code, verified.body)
			}

			unknown := call(t, "GET", p.url+"/v1/services/vendors/auditRecords", "")
			if reason, _ := details(t, unknown.body); unknown.code != http.StatusNotFound || reason != "SERVICE_NOT_FOUND" {
				t.Errorf("unknown service = %d %v", unknown.code, unknown.body)
			}
			replay := call(t, "POST", p.url+"/v1/services/nope/deadLetters/d1:replay", `{}`)
			if reason, _ := details(t, replay.body); replay.code != http.StatusNotFound || reason != "SERVICE_NOT_FOUND" {
				t.Errorf("replay on an unknown service = %d %v", replay.code, replay.body)
			}
			// A service name that is not UTF-8 cannot be told back in a NOT_FOUND: it is bad input.
			for _, path := range []string{"/v1/services/caf%E9/auditRecords", "/v1/services/budget/auditRecords?pageToken=%FF"} {
				notText := call(t, "GET", p.url+path, "")
				if reason, fields := details(t, notText.body); notText.code != http.StatusBadRequest || reason != "INVALID_ARGUMENT" ||
					len(fields) != 1 || !strings.HasSuffix(fields[0], ":INVALID_UTF8") {
					t.Errorf("GET %s = %d %v; want 400 INVALID_UTF8", path, notText.code, notText.body)
				}
			}
			// Budget consumes no events yet: its dead-letter list is served, and empty.
			if dl := call(t, "GET", p.url+"/v1/services/budget/deadLetters", ""); dl.code != http.StatusOK || len(dl.body) != 0 {
				t.Errorf("dead letters = %d %v", dl.code, dl.body)
			}
			if dl := call(t, "GET", p.url+"/v1/services/budget/deadLetters?filter="+url.QueryEscape(`state = STATE_PENDING`), ""); dl.code != http.StatusOK || len(dl.body) != 0 {
				t.Errorf("filtered dead letters = %d %v", dl.code, dl.body)
			}
			badDL := call(t, "GET", p.url+"/v1/services/budget/deadLetters?filter="+url.QueryEscape(`colour = "red"`), "")
			if reason, fields := details(t, badDL.body); badDL.code != http.StatusBadRequest || reason != "INVALID_ARGUMENT" ||
				!slices.Equal(fields, []string{"filter:FILTER_UNKNOWN_FIELD"}) {
				t.Errorf("bad dead-letter filter = %d %v", badDL.code, badDL.body)
			}
		})
	}
}

// independentHash recomputes an audit record's hash from its REST JSON form, following the
// canonical encoding in docs/audit.md without the audit package.
func independentHash(t *testing.T, r map[string]any) string {
	t.Helper()
	var b []byte
	num := func(n int64) { b = binary.BigEndian.AppendUint64(b, uint64(n)) }
	str := func(s string) { num(int64(len(s))); b = append(b, s...) }
	text := func(key string) string { s, _ := r[key].(string); return s }
	var val func(v any)
	val = func(v any) {
		switch v := v.(type) {
		case nil:
			b = append(b, 'N')
		case bool:
			b = append(b, 'B')
			if v {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case float64:
			b = append(b, 'F')
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
		case string:
			b = append(b, 'S')
			str(v)
		case []any:
			b = append(b, 'L')
			num(int64(len(v)))
			for _, x := range v {
				val(x)
			}
		case map[string]any:
			b = append(b, 'O')
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			num(int64(len(keys)))
			for _, k := range keys {
				str(k)
				val(v[k])
			}
		default:
			t.Fatalf("unexpected JSON value %T", v)
		}
	}
	seq, err := strconv.ParseInt(text("sequence"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339Nano, text("createTime"))
	if err != nil {
		t.Fatal(err)
	}
	str("quarterdeck-audit-v1")
	num(seq)
	str(text("previousHash"))
	for _, k := range []string{"actor", "method", "resource", "action", "requestId", "traceId"} {
		str(text(k))
	}
	num(at.UnixMicro())
	changes, _ := r["changes"].([]any)
	num(int64(len(changes)))
	for _, c := range changes {
		c := c.(map[string]any)
		str(c["path"].(string))
		for _, k := range []string{"before", "after"} {
			if v, ok := c[k]; ok {
				b = append(b, 1)
				val(v)
			} else {
				b = append(b, 0)
			}
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
