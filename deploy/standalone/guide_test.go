//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// A guide in docs/ is an executable promise: its calls are written as HTTP exchanges that a
// reader can paste into curl or run with an editor's HTTP client, and a test runs them, as
// written, against the standalone binary. In the Markdown, a fenced block of language http that
// starts with a method is a request:
//
//	```http
//	POST /v1/vendors?vendorId=northwind
//	Authorization: Bearer $MANAGER
//
//	{"displayName": "Northwind Cloud"}
//	```
//
// and an http block right after it that starts with "HTTP/1.1 <status>" is what the answer must
// be: the status, and a JSON body that the answer's body contains (objects may have more fields;
// an array holds the elements shown, in that order, perhaps among others). In both, $NAME is a variable: the test
// sets some (the admin key, the year), and a string "$NAME" in an answer whose variable is not
// set yet takes the answer's value, so that later calls can use it. A string "…" in an answer
// matches any value. A GET whose answer does not match yet is asked again for a while: the
// guide's reads of what events change (a commitment that budget records when it consumes
// vendors' event) are eventually consistent.

// guideExchange is one request of a guide and, when the guide says, the answer it expects.
type guideExchange struct {
	line    int // of the request block in the guide, for messages
	method  string
	target  string // path and query
	headers [][2]string
	body    string
	// want is the expected answer; status 0 when the guide gives none (then any 2xx passes).
	status int
	want   string
}

var (
	fenceRE   = regexp.MustCompile("(?m)^```([a-z]*)[ \t]*\n")
	requestRE = regexp.MustCompile(`^(GET|POST|PATCH|PUT|DELETE) (/\S*)$`)
	answerRE  = regexp.MustCompile(`^HTTP/1\.1 (\d{3})\b`)
	varRE     = regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)\}|\$([A-Z][A-Z0-9_]*)`)
)

// parseGuide returns the exchanges of a guide's http blocks, and of its curl commands
// (curl_test.go), in order.
func parseGuide(doc string) ([]guideExchange, error) {
	var out []guideExchange
	rest, offset := doc, 0
	lastCurl := false // the block before was an sh block ending with a curl command
	for {
		loc := fenceRE.FindStringSubmatchIndex(rest)
		if loc == nil {
			return out, nil
		}
		lang := rest[loc[2]:loc[3]]
		bodyStart := loc[1]
		end := strings.Index(rest[bodyStart:], "\n```")
		if end < 0 {
			return nil, fmt.Errorf("line %d: a fenced block that is not closed", lineOf(doc, offset+loc[0]))
		}
		block := rest[bodyStart : bodyStart+end+1]
		line := lineOf(doc, offset+loc[0]) + 1
		next := bodyStart + end + len("\n```")
		offset += next
		rest = rest[next:]
		switch lang {
		case "sh":
			exs, err := curlExchanges(block, line)
			if err != nil {
				return nil, err
			}
			out = append(out, exs...)
			lastCurl = len(exs) > 0
			continue
		case "json":
			if lastCurl {
				if err := curlAnswer(&out[len(out)-1], block); err != nil {
					return nil, fmt.Errorf("line %d: %v", line, err)
				}
			}
			lastCurl = false
			continue
		case "http":
			lastCurl = false
		default:
			lastCurl = false
			continue
		}
		first, remainder, _ := strings.Cut(block, "\n")
		if m := answerRE.FindStringSubmatch(first); m != nil {
			if len(out) == 0 || out[len(out)-1].status != 0 {
				return nil, fmt.Errorf("line %d: an answer that follows no request", line)
			}
			out[len(out)-1].status, _ = strconv.Atoi(m[1])
			out[len(out)-1].want = strings.TrimSpace(remainder)
			continue
		}
		m := requestRE.FindStringSubmatch(strings.TrimSpace(first))
		if m == nil {
			return nil, fmt.Errorf("line %d: an http block that starts with neither a request (METHOD /path) nor an answer (HTTP/1.1 status): %q", line, first)
		}
		ex := guideExchange{line: line, method: m[1], target: m[2]}
		head, body, _ := strings.Cut(remainder, "\n\n")
		for h := range strings.SplitSeq(head, "\n") {
			if h = strings.TrimSpace(h); h == "" {
				continue
			}
			k, v, ok := strings.Cut(h, ":")
			if !ok {
				return nil, fmt.Errorf("line %d: header line %q has no colon (a body follows an empty line)", line, h)
			}
			ex.headers = append(ex.headers, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
		}
		ex.body = strings.TrimSpace(body)
		out = append(out, ex)
	}
}

// varName is the name of a variable varRE matched, written $NAME or ${NAME}.
func varName(m []string) string { return m[1] + m[2] }

func lineOf(doc string, offset int) int { return strings.Count(doc[:offset], "\n") + 1 }

// expand replaces the variables of s; a variable that is not set is an error of the guide.
func expand(s string, vars map[string]string) (string, error) {
	var missing []string
	out := varRE.ReplaceAllStringFunc(s, func(v string) string {
		name := varName(varRE.FindStringSubmatch(v))
		val, ok := vars[name]
		if !ok {
			missing = append(missing, name)
		}
		return val
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("variables not set: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// runGuide runs the exchanges of the guide at path against the platform at rest, with vars.
func runGuide(t *testing.T, path, rest string, vars map[string]string) {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	exchanges, err := parseGuide(string(doc))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(exchanges) == 0 {
		t.Fatalf("%s has no http exchanges", path)
	}
	for _, ex := range exchanges {
		runExchange(t, path, rest, ex, vars)
	}
	t.Logf("%s: %d calls as written", path, len(exchanges))
}

func runExchange(t *testing.T, path, rest string, ex guideExchange, vars map[string]string) {
	t.Helper()
	where := fmt.Sprintf("%s:%d: %s %s", path, ex.line, ex.method, ex.target)
	target, err := expand(ex.target, vars)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	body, err := expand(ex.body, vars)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	headers := make([][2]string, len(ex.headers))
	for i, h := range ex.headers {
		v, err := expand(h[1], vars)
		if err != nil {
			t.Fatalf("%s: header %s: %v", where, h[0], err)
		}
		headers[i] = [2]string{h[0], v}
	}
	deadline := time.Now().Add(eventTimeout)
	for {
		status, raw := guideCall(t, where, ex.method, rest+target, headers, body)
		problem := checkAnswer(ex, status, raw, vars)
		if problem == "" {
			return
		}
		if ex.method != http.MethodGet || time.Now().After(deadline) {
			t.Fatalf("%s: %s\nanswer %d: %s", where, problem, status, raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func guideCall(t *testing.T, where, method, url string, headers [][2]string, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		req.Header.Set(h[0], h[1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: read answer: %v", where, err)
	}
	return resp.StatusCode, raw
}

// checkAnswer returns what is wrong with an answer, or "" when it is what the guide says; it
// sets the variables the guide's answer names, only when the whole answer matches.
func checkAnswer(ex guideExchange, status int, raw []byte, vars map[string]string) string {
	if ex.status == 0 {
		if status/100 != 2 {
			return fmt.Sprintf("status %d; the guide gives no answer, so it expects success", status)
		}
		return ""
	}
	if status != ex.status {
		return fmt.Sprintf("status %d; the guide says %d", status, ex.status)
	}
	if ex.want == "" {
		return ""
	}
	var want, got any
	// Variables already set stand for their values anywhere in the answer (`{"year": $YEAR}`);
	// a string that is only an unset variable keeps the answer's value.
	expected := varRE.ReplaceAllStringFunc(ex.want, func(v string) string {
		if val, ok := vars[varName(varRE.FindStringSubmatch(v))]; ok {
			return val
		}
		return v
	})
	if err := json.Unmarshal([]byte(expected), &want); err != nil {
		return fmt.Sprintf("the guide's answer is not JSON: %v", err)
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		return fmt.Sprintf("the answer is not JSON: %v", err)
	}
	captured := map[string]string{}
	if problem := contains("", got, want, vars, captured); problem != "" {
		return problem
	}
	for k, v := range captured {
		vars[k] = v
	}
	return ""
}

// contains reports where got differs from want, which it must contain.
func contains(at string, got, want any, vars, captured map[string]string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: %v; the guide says an object", orRoot(at), jsonText(got))
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s.%s is missing", orRoot(at), k)
			}
			if p := contains(at+"."+k, gv, wv, vars, captured); p != "" {
				return p
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: %s; the guide says an array", orRoot(at), jsonText(got))
		}
		// Each element the guide shows matches a later element of the answer than the one
		// before it: the answer holds them in that order, perhaps among others.
		next := 0
		for i := range w {
			found := false
			for ; next < len(g) && !found; next++ {
				trial := map[string]string{}
				if contains(fmt.Sprintf("%s[%d]", at, next), g[next], w[i], vars, trial) == "" {
					maps.Copy(captured, trial)
					found = true
				}
			}
			if !found {
				return fmt.Sprintf("%s: %s; the guide's element %d, %s, is not in it (in order)", orRoot(at), jsonText(got), i, jsonText(w[i]))
			}
		}
		return ""
	case string:
		if w == "…" {
			return ""
		}
		if strings.Contains(w, "…") && !varRE.MatchString(w) {
			// "costCenters/…": the parts around each … in order, anything in between.
			s, ok := got.(string)
			if !ok || !glob(w, s) {
				return fmt.Sprintf("%s: %s; the guide says %q", orRoot(at), jsonText(got), w)
			}
			return ""
		}
		if m := varRE.FindStringSubmatch(w); m != nil && m[0] == w {
			if val, ok := vars[varName(m)]; ok {
				w = val
			} else {
				s, ok := got.(string)
				if !ok {
					return fmt.Sprintf("%s: %s; the guide keeps it in $%s, a string", orRoot(at), jsonText(got), varName(m))
				}
				captured[varName(m)] = s
				return ""
			}
		}
		if got != w {
			return fmt.Sprintf("%s: %s; the guide says %q", orRoot(at), jsonText(got), w)
		}
		return ""
	default:
		if !reflect.DeepEqual(got, want) {
			return fmt.Sprintf("%s: %s; the guide says %s", orRoot(at), jsonText(got), jsonText(want))
		}
		return ""
	}
}

// glob reports whether s is pattern with each … standing for any text.
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "…")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

func orRoot(at string) string {
	if at == "" {
		return "the answer"
	}
	return at[1:]
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 300 {
		b = append(b[:300], "…"...)
	}
	return string(bytes.TrimSpace(b))
}

// TestGuideParsing checks the guide runner itself on a small guide: requests, answers,
// variables set by the test and captured from answers, and what a guide gets wrong.
func TestGuideParsing(t *testing.T) {
	t.Parallel()
	doc := "# A guide\n\n```sh\nnot run\n```\n\n" +
		"```http\nPOST /v1/things?thingId=a\nAuthorization: Bearer $KEY\n\n{\"size\": $SIZE}\n```\n\nprose\n\n" +
		"```http\nHTTP/1.1 200 OK\n\n{\"name\": \"things/a\", \"etag\": \"$ETAG\", \"parts\": [{\"n\": 1}]}\n```\n\n" +
		"```http\nGET /v1/things/a\n```\n"
	exs, err := parseGuide(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 2 || exs[0].method != "POST" || exs[0].target != "/v1/things?thingId=a" || exs[0].status != 200 ||
		len(exs[0].headers) != 1 || exs[0].headers[0] != [2]string{"Authorization", "Bearer $KEY"} ||
		exs[0].body != `{"size": $SIZE}` || exs[1].method != "GET" || exs[1].status != 0 || exs[0].line != 8 {
		t.Fatalf("parseGuide = %+v", exs)
	}
	vars := map[string]string{"KEY": "k", "SIZE": "3"}
	if body, err := expand(exs[0].body, vars); err != nil || body != `{"size": 3}` {
		t.Errorf("expand = %q, %v", body, err)
	}
	if _, err := expand("$NOPE", vars); err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("expand of an unset variable = %v; want it named", err)
	}
	answer := []byte(`{"name": "things/a", "etag": "W/1", "parts": [{"n": 0}, {"n": 1, "m": 2}], "extra": true}`)
	if p := checkAnswer(exs[0], 200, []byte(`{"name": "things/a", "etag": "W/0", "parts": [{"n": 2}]}`), vars); p == "" || vars["ETAG"] != "" {
		t.Errorf("an answer that does not match: problem %q, ETAG %q; want a problem and nothing kept", p, vars["ETAG"])
	}
	if p := checkAnswer(exs[0], 200, answer, vars); p != "" || vars["ETAG"] != "W/1" {
		t.Errorf("matching answer: %q, ETAG %q", p, vars["ETAG"])
	}
	for _, bad := range []struct {
		status int
		body   string
		want   string
	}{
		{400, `{}`, "status 400"},
		{200, `{"name": "things/b", "etag": "W/1", "parts": [{"n": 1}]}`, "name"},
		{200, `{"name": "things/a", "etag": "W/2", "parts": [{"n": 1}]}`, "etag"}, // ETAG is set now
		{200, `{"name": "things/a", "etag": "W/1", "parts": []}`, "parts"},
		{200, `{"name": "things/a", "etag": "W/1", "parts": [{"n": 2}]}`, "parts"},
		{200, `{"name": "things/a", "etag": "W/1"}`, "parts is missing"},
	} {
		if p := checkAnswer(exs[0], bad.status, []byte(bad.body), vars); !strings.Contains(p, bad.want) {
			t.Errorf("answer %d %s: problem %q; want one naming %q", bad.status, bad.body, p, bad.want)
		}
	}
	for _, bad := range []string{
		"```http\nHTTP/1.1 200 OK\n```\n",
		"```http\nFETCH /v1/x\n```\n",
		"```http\nGET /v1/x\nno colon here\n```\n",
		"```http\nGET /v1/x\n",
	} {
		if _, err := parseGuide(bad); err == nil {
			t.Errorf("parseGuide(%q) accepted", bad)
		}
	}
}

// vendorsGuideStart is when the walk of docs/vendors.md begins: Monday 15 March 2027, 09:00 UTC.
var vendorsGuideStart = time.Date(2027, 3, 15, 9, 0, 0, 0, time.UTC)

// TestVendorsGuide runs the walk of docs/vendors.md as written — a vendor from prospect to an
// active contract charged to a budget line, an invoice, a notice window and a renewal onto the
// next fiscal year's line — on the platform run in the test's own process, its services on a
// clock the test moves where the guide says time passes, so that the contract's calendar events
// fall due through the scheduler. Then it checks the events its last paragraph names: the
// vendors service's, in order, and budget's side of the join. It runs on the embedded defaults,
// and on PostgreSQL (a database of its own) and the external NATS server when they are
// configured.
func TestVendorsGuide(t *testing.T) {
	onBothEngines(t, nil, func(t *testing.T, sc scenario, dsn string) { vendorsGuide(t, sc.args, sc.prefix, dsn) })
}

// vendorsGuide runs the guide on the platform started with args, whose events go under prefix
// and whose services keep their data in the PostgreSQL database dsn, or in SQLite files when
// dsn is empty.
func vendorsGuide(t *testing.T, args []string, prefix, dsn string) {
	p := startClocked(t, vendorsGuideStart, args, dsn)
	p.walk(t, "../../docs/vendors.md", map[string]string{"ADMIN": adminKey}, "vendors")

	inOrder := func(stream string, want ...string) {
		t.Helper()
		evs := readEvents(t, p.nats, stream, func(evs []event) bool { return len(subsequence(evs, want)) == len(want) })
		if got := subsequence(evs, want); len(got) != len(want) {
			t.Errorf("%s holds %v in this order, not %v:\n%s", stream, got, want, describe(evs))
		}
	}
	streams := strings.ToUpper(prefix)
	inOrder(streams+"_VENDORS", "vendor.created", "attestation.recorded", "vendor.onboarding_started",
		"assessment.started", "assessment.completed", "vendor.onboarded", "contract.created", "contract.submitted",
		"contract.activated", "invoice.recorded", "contract.terminated", "contract.activated",
		"contract.notice_window_opened", "contract.cancel_by_missed", "contract.auto_renewed", "invoice.recorded")
	inOrder(streams+"_BUDGET", "hold.placed", "commitment.recorded", "hold.released", "actual.recorded", "commitment.released",
		"hold.placed", "commitment.recorded", "hold.released", "budget.approved", "commitment.recorded", "actual.recorded")
}

// TestRiskGuide runs the walk of docs/risk.md as written — a register from identification to the
// board's report, and a vendor assessment that raises a risk — then checks the risk service's
// events it names, in order. It runs on the embedded defaults, and on PostgreSQL (a database of
// its own) and the external NATS server when they are configured.
func TestRiskGuide(t *testing.T) {
	onBothEngines(t, nil, func(t *testing.T, sc scenario, _ string) { riskGuide(t, sc) })
}

func riskGuide(t *testing.T, sc scenario) {
	p := start(t, t.TempDir(), sc)
	defer p.Stop()
	today := time.Now().UTC()
	date := func(days int) string {
		d := today.AddDate(0, 0, days)
		return fmt.Sprintf(`{"year": %d, "month": %d, "day": %d}`, d.Year(), int(d.Month()), d.Day())
	}
	vars := map[string]string{
		"ADMIN": adminKey, "YEAR": strconv.Itoa(today.Year()), "NEXT_YEAR": strconv.Itoa(today.Year() + 1),
		"TODAY": date(0), "IN_30_DAYS": date(30), "IN_90_DAYS": date(90), "IN_180_DAYS": date(180),
		"DUE_BY": today.AddDate(0, 0, 30).Format(time.DateOnly),
	}
	runGuide(t, "../../docs/risk.md", p.rest, vars)

	streams := strings.ToUpper(sc.prefix)
	want := []string{"risk.identified", "risk.assessed", "risk.above_appetite", "risk.treatment_started",
		"action.created", "action.completed", "risk.score_changed", "risk.monitoring_started",
		"risk.treatment_started", "acceptance.requested", "acceptance.approved", "risk.reviewed",
		// Contoso's risk, opened by the service.
		"risk.identified", "risk.score_changed", "risk.above_appetite"}
	evs := readEvents(t, p.nats, streams+"_RISK", func(evs []event) bool { return len(subsequence(evs, want)) == len(want) })
	if got := subsequence(evs, want); len(got) != len(want) {
		t.Errorf("%s_RISK holds %v in this order, not %v:\n%s", streams, got, want, describe(evs))
	}
}

// TestComplianceGuide runs the walk of docs/compliance.md as written — an ISO 27001 posture from
// gaps to covered, a failed control raising the risk it mitigates, a policy acknowledgement
// campaign over talent's people, and a failover exercise that misses its RTO — then checks the
// risk service's events it names, in order, and that the missed target was published once with
// what the exercise achieved. It runs on the embedded defaults, and on PostgreSQL (a
// database of its own) and the external NATS server when they are configured.
func TestComplianceGuide(t *testing.T) {
	onBothEngines(t, nil, func(t *testing.T, sc scenario, _ string) { complianceGuide(t, sc) })
}

func complianceGuide(t *testing.T, sc scenario) {
	p := start(t, t.TempDir(), sc)
	defer p.Stop()
	today := time.Now().UTC()
	vars := map[string]string{
		"ADMIN":     adminKey,
		"TODAY":     fmt.Sprintf(`{"year": %d, "month": %d, "day": %d}`, today.Year(), int(today.Month()), today.Day()),
		"TODAY_ISO": today.Format(time.DateOnly),
	}
	runGuide(t, "../../docs/compliance.md", p.rest, vars)

	streams := strings.ToUpper(sc.prefix)
	want := []string{"framework.imported", "risk.identified", "risk.assessed", "risk.updated", "control.created",
		"control.created", "risk.updated", "control.created", "control.tested", "control.tested", "control.tested",
		"control.tested", "risk.score_changed", "control.tested", "control.failed",
		"policy.created", "policy.version_published", "policy.acknowledged", "policy.version_published", "policy.version_published",
		// The failover exercise that misses its RTO: its finding an action of the plan's risk.
		"risk.identified", "continuity.plan_created", "action.created", "continuity.exercise_recorded", "continuity.target_missed"}
	evs := readEvents(t, p.nats, streams+"_RISK", func(evs []event) bool { return len(subsequence(evs, want)) == len(want) })
	if got := subsequence(evs, want); len(got) != len(want) {
		t.Errorf("%s_RISK holds %v in this order, not %v:\n%s", streams, got, want, describe(evs))
	}
	imports := 0
	for _, ev := range evs {
		if strings.HasSuffix(ev.subject, ".framework.imported") {
			imports++
		}
	}
	if imports != 1 {
		t.Errorf("%s_RISK holds %d framework.imported; the second import publishes nothing", streams, imports)
	}
	var missed []*riskv1.ContinuityTargetMissed
	for _, ev := range evs {
		if strings.HasSuffix(ev.subject, ".continuity.target_missed") {
			m := &riskv1.ContinuityTargetMissed{}
			if err := protojson.Unmarshal(ev.data, m); err != nil {
				t.Fatalf("continuity.target_missed: %v", err)
			}
			missed = append(missed, m)
		}
	}
	if len(missed) != 1 || missed[0].GetService() != "checkout" || !missed[0].GetRecoveryTimeMissed() || missed[0].GetRecoveryPointMissed() ||
		missed[0].GetAchievedRecoveryTime().AsDuration() != 2*time.Hour || missed[0].GetRecoveryTimeObjective().AsDuration() != time.Hour {
		t.Errorf("%s_RISK holds continuity.target_missed %v; want one, for checkout's RTO: 2h achieved of 1h", streams, missed)
	}
}

// onBothEngines runs guide as two parallel subtests: "embedded", on the embedded defaults, and
// "external", on PostgreSQL (a database of its own, whose DSN it passes as dsn) and the external
// NATS server, skipped when they are not configured. Both start the platform with args.
func onBothEngines(t *testing.T, args []string, guide func(t *testing.T, sc scenario, dsn string)) {
	t.Parallel()
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		guide(t, scenario{args: args, prefix: "quarterdeck"}, "")
	})
	t.Run("external", func(t *testing.T) {
		t.Parallel()
		dsn := os.Getenv(testenv.EnvPostgresDSN)
		if dsn == "" || os.Getenv(testenv.EnvNATSURL) == "" {
			t.Skip(testenv.EnvPostgresDSN + " and " + testenv.EnvNATSURL + " are not both set")
		}
		n := testenv.NATSServer(t)
		db := freshDatabase(t, dsn)
		// Pools of one connection each (TestDatabaseMaxConns): every guide passes on them, so no
		// call needs two of a pool's connections at once, and a held lease takes none of them.
		external := append(append([]string{}, args...), "--database-url", db, "--database-max-conns", "1",
			"--nats-url", n.URL, "--event-subject-prefix", n.SubjectPrefix)
		guide(t, scenario{args: external, prefix: n.SubjectPrefix, natsURL: n.URL}, db)
	})
}

// freshDatabase creates a database of the test's own on the PostgreSQL server of dsn, dropped at
// the end, and returns its DSN: the standalone binary keeps each service in a schema of a fixed
// name, so only a database of its own keeps a test apart from others on the same server.
func freshDatabase(t *testing.T, dsn string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, dsn, sqldb.Options{})
	if err != nil {
		t.Fatalf("%s is set but PostgreSQL is unreachable: %v", testenv.EnvPostgresDSN, err)
	}
	t.Cleanup(func() { db.Close() })
	name := fmt.Sprintf("quarterdeck_guide_%d", time.Now().UnixNano())
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		t.Fatalf("%s must be a postgres:// URL to run the guide on a database of its own: %v", testenv.EnvPostgresDSN, err)
	}
	u.Path = "/" + name
	return u.String()
}

// subsequence returns the longest prefix of want whose events appear in evs in that order, by
// the subject's last two segments (aggregate.action).
func subsequence(evs []event, want []string) []string {
	var got []string
	for _, ev := range evs {
		if len(got) < len(want) && strings.HasSuffix(ev.subject, "."+want[len(got)]) {
			got = append(got, want[len(got)])
		}
	}
	return got
}
