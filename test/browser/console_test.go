package browser

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// pageTimeout bounds the wait for one page to be drawn (CI machines are slow; nothing waits
// for it on success).
const pageTimeout = 60 * time.Second

// browser is a headless Chromium tab that records every console error and uncaught exception.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The first run starts the browser, with no deadline: a deadline on it would stop the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium (%s): %v", chromium, err)
	}
	b := &browser{ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// takeErrors returns the errors logged since the last call.
func (b *browser) takeErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.errors
	b.errors = nil
	return e
}

func (b *browser) run(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v (console errors: %q)", what, err, b.takeErrors())
	}
}

// value runs an action that returns a value.
func value[T any](t *testing.T, b *browser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, pageTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v (console errors: %q)", what, err, b.takeErrors())
	}
	return v
}

func ready(page string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`body[data-page=%q]`, page)))
}

// open goes to a page of the console by its hash and waits until the page says it is drawn.
func (b *browser) open(t *testing.T, hash, page string) {
	t.Helper()
	value(t, b, "go to "+hash, chromedp.Evaluate[string](fmt.Sprintf(`location.hash = %q`, hash)))
	b.run(t, "open "+hash, ready(page))
}

// pageCheck is what a page must show: at least charts charts, each with data, and no error.
func (b *browser) check(t *testing.T, name string, charts int) {
	t.Helper()
	problem := value(t, b, "read "+name, chromedp.Evaluate[string](`(() => {
		const err = Array.from(document.querySelectorAll("main .error")).find((e) => e.textContent.trim());
		if (err) return "the page shows an error: " + err.textContent;
		return "";
	})()`))
	if problem != "" {
		t.Errorf("%s: %s", name, problem)
	}
	points := value(t, b, "count the charts' data of "+name, chromedp.Evaluate[[]int](`Array.from(document.querySelectorAll("main canvas")).map((c) => {
		const chart = Chart.getChart(c);
		if (!chart) return -1;
		return chart.data.datasets.reduce((n, d) => n + d.data.filter((v) => v !== null && v !== 0 && !(Array.isArray(v) && v[0] === v[1])).length, 0);
	})`))
	if len(points) < charts {
		t.Errorf("%s: %d charts, want at least %d", name, len(points), charts)
	}
	for i, n := range points {
		if n <= 0 {
			t.Errorf("%s: chart %d has no data (%d points)", name, i+1, n)
		}
	}
	if errs := b.takeErrors(); len(errs) > 0 {
		t.Errorf("%s: the console logged errors: %q", name, errs)
	}
}

// screenshots saves the page at a desktop and a phone width, and checks that the phone width
// needs no sideways scrolling.
func (b *browser) screenshots(t *testing.T, name string) {
	t.Helper()
	dir := filepath.Join("screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		width, height int64
		mobile        bool
	}{{1280, 900, false}, {390, 844, true}} {
		opts := []chromedp.EmulateViewportOption{}
		if w.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		what := fmt.Sprintf("screenshot %s at %d px", name, w.width)
		b.run(t, what, chromedp.EmulateViewport(w.width, w.height, opts...),
			chromedp.Sleep(150*time.Millisecond)) // the charts redraw on resize
		// On a busy machine a chart may not have redrawn yet: its canvas keeps the wider size
		// for a moment. Give it up to two seconds more.
		overflow := 0
		for i := 0; i < 10; i++ {
			if overflow = value(t, b, what, chromedp.Evaluate[int](`document.documentElement.scrollWidth - document.documentElement.clientWidth`)); overflow <= 1 {
				break
			}
			b.run(t, what, chromedp.Sleep(200*time.Millisecond))
		}
		png := value(t, b, what, chromedp.FullScreenshot(80))
		if overflow > 1 {
			wide := value(t, b, what, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("body *"))
				.filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
				.slice(-3).map((e) => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right) + "px").join(", ")`))
			t.Errorf("%s at %d px: the page is %d px wider than the screen (%s)", name, w.width, overflow, wide)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.jpg", name, w.width)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.run(t, "desktop width", chromedp.EmulateViewport(1280, 900))
}

// count is the number of elements the selector finds.
func (b *browser) count(t *testing.T, selector string) int {
	t.Helper()
	return value(t, b, "count "+selector, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, selector)))
}

// firstLink is the hash of the first link to a detail page in the page's main table.
func (b *browser) firstLink(t *testing.T, prefix string) string {
	t.Helper()
	href := value(t, b, "find a link to "+prefix, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
		const a = Array.from(document.querySelectorAll("main table a")).find((a) => a.getAttribute("href").startsWith(%q));
		return a ? a.getAttribute("href") : "";
	})()`, prefix)))
	if href == "" {
		t.Fatalf("no link to %s on the page", prefix)
	}
	return href
}

// TestConsole starts the platform, loads the demo company (the small one; QUARTERDECK_TEST_FULL_DEMO=1
// loads the full one), signs in with an API key, opens every page at two widths, checks that
// every chart has data and that the console logged no error, and saves screenshots under
// screenshots/ (git-ignored).
func TestConsole(t *testing.T) {
	needBrowser(t)
	p := startPlatform(t)
	t.Logf("demo: %s", loadDemo(t, p, os.Getenv("QUARTERDECK_TEST_FULL_DEMO") == ""))
	b := newBrowser(t)

	// Signed out, the console asks for a key and nothing else.
	b.run(t, "open the console", chromedp.Navigate(p.rest+"/console/"), chromedp.WaitVisible(chromedp.ID("apikey")))
	b.check(t, "sign-in", 0)
	b.screenshots(t, "signin")
	b.run(t, "sign in", chromedp.SendKeys(chromedp.ID("apikey"), adminKey),
		chromedp.Click(chromedp.CSS(`form.signin button[type="submit"]`)), ready("briefing"))
	stored := value(t, b, "read the storage", chromedp.Evaluate[string](`(sessionStorage.getItem("quarterdeck.credential") || "") + "|" + (localStorage.length)`))
	if !strings.Contains(stored, adminKey) || !strings.HasSuffix(stored, "|0") {
		t.Errorf("storage after sign-in = %q; want the key in sessionStorage and nothing in localStorage", stored)
	}

	// Time to interactive of the briefing: a fresh load of the page, from navigation start to
	// the page drawn with its data (performance mark). Measured and logged, not asserted.
	b.run(t, "reload the briefing", chromedp.Reload(), ready("briefing"))
	tti := value(t, b, "read the briefing's time to interactive", chromedp.Evaluate[float64](`performance.getEntriesByName("quarterdeck:ready:briefing")[0].startTime`))
	t.Logf("briefing page interactive %.0f ms after navigation start", tti)
	t.Logf("its steps: %s", value(t, b, "read the marks", chromedp.Evaluate[string](`performance.getEntriesByType("mark")
		.map((m) => m.name + " " + Math.round(m.startTime) + " ms").join(", ")`)))
	t.Logf("its slowest loads: %s", value(t, b, "read the resource timings", chromedp.Evaluate[string](`performance.getEntriesByType("resource")
		.sort((a, b) => b.duration - a.duration).slice(0, 6)
		.map((e) => new URL(e.name).pathname + " " + Math.round(e.startTime) + "+" + Math.round(e.duration) + " ms").join(", ")`)))
	briefing := value(t, b, "look for the briefing", chromedp.Evaluate[bool](`!document.getElementById("no-briefing")`))
	if briefing {
		// Burn vs plan, the forecast, the heat map, incidents per month, renewals and headcount
		// plan vs actual, each with data.
		b.check(t, "briefing", 6)
		if !value(t, b, "look for the headcount chart", chromedp.Evaluate[bool](`!!document.querySelector('section[aria-label="Headcount: plan vs actual"] canvas')`)) {
			t.Error("briefing: no headcount plan vs actual chart (the demo's teams have plans for this year)")
		}
	} else {
		t.Log("the platform serves no briefing (GET /v1/briefing is 404): its charts are not checked")
		b.check(t, "briefing", 0)
	}
	b.screenshots(t, "briefing")

	// Keyboard: the skip link, then the sections' links, reached with Tab and followed with Enter.
	focused := value(t, b, "focus the skip link", chromedp.Evaluate[string](`document.querySelector("a.skip").focus(), document.activeElement.textContent`))
	for i := 0; i < 12 && focused != "Budgets"; i++ {
		b.run(t, "tab", chromedp.KeyEvent(kb.Tab))
		focused = value(t, b, "read the focus", chromedp.Evaluate[string](`document.activeElement.textContent.trim()`))
	}
	if focused != "Budgets" {
		t.Fatalf("Tab never reached the Budgets link (last focus %q)", focused)
	}
	b.run(t, "follow Budgets with Enter", chromedp.KeyEvent(kb.Enter), ready("budgets"))

	pages := []struct {
		list, listPage, detailPrefix, detailPage string
		listCharts, detailCharts                 int
		// listRows is the least number of rows the list's table shows.
		listRows int
	}{
		{"#/budgets", "budgets", "#/budgets/", "budget", 0, 1, 6},
		{"#/vendors", "vendors", "#/vendors/", "vendor", 0, 0, 10},
		{"#/risks", "risks", "#/risks/", "risk", 0, 0, 15},
		{"#/incidents", "incidents", "#/incidents/", "incident", 1, 0, 30},
		{"#/teams", "teams", "#/teams/", "team", 1, 1, 8},
		{"#/people", "people", "#/people/", "person", 1, 0, 25},
		{"#/positions", "positions", "#/positions/", "position", 1, 0, 10},
		{"#/compliance", "compliance", "#/controls/", "control", 1, 0, 12},
	}
	for _, pg := range pages {
		b.open(t, pg.list, pg.listPage)
		b.check(t, pg.listPage, pg.listCharts)
		if n := b.count(t, "main table tbody tr:not(:has(td[colspan]))"); n < pg.listRows {
			t.Errorf("%s: the table shows %d rows, want at least %d", pg.listPage, n, pg.listRows)
		}
		b.screenshots(t, pg.listPage)
		b.open(t, b.firstLink(t, pg.detailPrefix), pg.detailPage)
		b.check(t, pg.detailPage, pg.detailCharts)
		b.screenshots(t, pg.detailPage)
	}

	// The demo's invoice in advance for next year waits for next year's budget, which does not
	// exist: the budgets page lists it (once budget has read the invoice's event).
	var waiting struct {
		DeferredActuals []struct{ Contract string } `json:"deferredActuals"`
	}
	for deadline := time.Now().Add(30 * time.Second); len(waiting.DeferredActuals) == 0 && time.Now().Before(deadline); {
		getJSON(t, p, "/v1/costCenters/-/deferredActuals", &waiting)
		time.Sleep(200 * time.Millisecond)
	}
	if len(waiting.DeferredActuals) != 1 {
		t.Fatalf("deferred actuals: %+v; want the demo's invoice in advance for next year", waiting)
	}
	b.open(t, "#/budgets", "budgets")
	waitRow := value(t, b, "read what waits for next year's budget", chromedp.Evaluate[string](`(() => {
		const r = document.querySelector("section[aria-label=\"Waiting for a later year's budget\"] tbody tr");
		return r ? [...r.cells].map((c) => c.textContent.trim()).join("|") : "";
	})()`))
	contract := waiting.DeferredActuals[0].Contract
	if year := fmt.Sprintf("|%d|", time.Now().UTC().Year()+1); !strings.HasPrefix(waitRow, "Invoice|") || !strings.Contains(waitRow, year) ||
		!strings.HasSuffix(waitRow, "|"+contract[strings.LastIndex(contract, "/")+1:]) {
		t.Errorf("the budgets page's first row waiting for a later year's budget reads %q; want an invoice of %s, next year, of %s", waitRow, year, contract)
	}

	// The teams' key-person risks, and a department's team: its headcount plan and skill coverage
	// (two charts), its people, its positions, and the skill only one of them holds.
	b.open(t, "#/teams", "teams")
	if b.count(t, "main td .badge.bad") == 0 {
		t.Error("the teams page flags no key-person risk")
	}
	var team struct{ Manager string }
	getJSON(t, p, "/v1/teams/infrastructure-1", &team)
	b.open(t, "#/teams/infrastructure-1", "team")
	b.check(t, "department team", 2)
	for _, section := range []string{"People", "Positions", "Skill coverage"} {
		if n := b.count(t, fmt.Sprintf("section[aria-label=%q] tbody tr:not(:has(td[colspan]))", section)); n == 0 {
			t.Errorf("the team page's %s shows nothing", section)
		}
	}
	keyPerson := value(t, b, "find the key person", chromedp.Evaluate[string](`(() => {
		const a = document.querySelector("section[aria-label='Skill coverage'] td .badge.bad + a");
		return a ? a.getAttribute("href") : "";
	})()`))
	if keyPerson == "" {
		t.Error("the department's team flags no key person")
	}
	b.screenshots(t, "department-team")
	// On a phone the key person is in sight, not in a column scrolled away.
	b.run(t, "phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Sleep(300*time.Millisecond))
	sight := value(t, b, "find the key person on a phone", chromedp.Evaluate[[]int](`(() => {
		const a = document.querySelector("section[aria-label='Skill coverage'] td .badge.bad + a");
		return [a ? Math.round(a.getBoundingClientRect().right) : -1, document.documentElement.clientWidth];
	})()`))
	if sight[0] < 0 || sight[0] > sight[1] {
		t.Errorf("on a phone the team's key person is out of sight (right edge %d px of %d)", sight[0], sight[1])
	}
	b.run(t, "desktop width", chromedp.EmulateViewport(1280, 900))
	if keyPerson != "" {
		// The key person's page lists their skills.
		b.open(t, keyPerson, "person")
		b.check(t, "key person", 0)
		if n := b.count(t, "section[aria-label='Skills'] tbody tr:not(:has(td[colspan]))"); n == 0 {
			t.Errorf("the key person's page (%s) lists no skill", keyPerson)
		}
	}
	// The demo's provider outage broke its contract's service levels: the provider's page lists
	// the breaches, each linking to its incident.
	var breaches struct {
		SLABreaches []struct{ Name, Incident string } `json:"slaBreaches"`
	}
	getJSON(t, p, "/v1/vendors/-/slaBreaches?pageSize=1", &breaches)
	if len(breaches.SLABreaches) == 0 {
		t.Fatal("the demo company has no SLA breach")
	}
	provider := strings.Join(strings.Split(breaches.SLABreaches[0].Name, "/")[:2], "/")
	b.open(t, "#/"+provider, "vendor")
	b.check(t, "provider", 0)
	if n := b.count(t, "section[aria-label='SLA breaches'] tbody tr:not(:has(td[colspan]))"); n == 0 {
		t.Errorf("the page of %s lists no SLA breach", provider)
	}
	if n := b.count(t, fmt.Sprintf("section[aria-label='SLA breaches'] a[href='#/%s']", breaches.SLABreaches[0].Incident)); n == 0 {
		t.Errorf("the page of %s does not link its breach to %s", provider, breaches.SLABreaches[0].Incident)
	}
	b.screenshots(t, "provider")
	if briefing {
		// The briefing counts the provider among the vendors that broke a service level in the
		// last 90 days (the outage was three days ago) and links to its page. It applies the
		// vendors' events a moment after they are published: the page is read again until then.
		// The demo's compliance (loaded last) shows too: ISO 27001's posture, the controls
		// whose test is overdue, the acceptable-use policy with people overdue and the
		// continuity plan not exercised within its cadence.
		waits := []struct{ what, selector string }{
			{"the vendors with SLA breaches do not list " + provider,
				fmt.Sprintf("section[aria-label='SLA breaches by vendor (last 90 days)'] a[href='#/%s']", provider)},
			{"no framework's posture", "section[aria-label='Compliance posture, overdue control tests and acknowledgements'] a[href^='#/frameworks/']"},
			{"no policy with acknowledgements overdue", "section[aria-label='Compliance posture, overdue control tests and acknowledgements'] a[href='#/policies/acceptable-use']"},
			{"no overdue continuity plan", "section[aria-label='Continuity plans not exercised within their cadence'] tbody tr:not(:has(td[colspan]))"},
		}
		b.open(t, "#/", "briefing")
		for deadline := time.Now().Add(time.Minute); ; {
			var missing []string
			for _, w := range waits {
				if b.count(t, w.selector) == 0 {
					missing = append(missing, w.what)
				}
			}
			if len(missing) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("the briefing: %s", strings.Join(missing, "; "))
				break
			}
			b.run(t, "read the briefing again", chromedp.Sleep(time.Second), chromedp.Reload(), ready("briefing"))
		}
		b.check(t, "briefing with SLA breaches", 6)
		// The briefing counts the policy's people from talent's and risk's events as the risk
		// service's campaign counts them from its own tables (once it has applied every
		// acknowledgement).
		var campaign, briefed struct{ RequiredCount, AcknowledgedCount, OverdueCount int }
		getJSON(t, p, "/v1/policies/acceptable-use/campaign?view=BASIC", &campaign)
		for deadline := time.Now().Add(time.Minute); briefed != campaign && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			var brief struct {
				Compliance struct {
					OverduePolicies []struct {
						Policy                                         string
						RequiredCount, AcknowledgedCount, OverdueCount int
					}
				}
			}
			getJSON(t, p, "/v1/briefing", &brief)
			for _, op := range brief.Compliance.OverduePolicies {
				if op.Policy == "policies/acceptable-use" {
					briefed.RequiredCount, briefed.AcknowledgedCount, briefed.OverdueCount = op.RequiredCount, op.AcknowledgedCount, op.OverdueCount
				}
			}
		}
		if briefed != campaign {
			t.Errorf("the briefing counts the acceptable-use campaign as %+v, the risk service as %+v", briefed, campaign)
		}
	}
	// The people page's search, typed into: the table narrows to the one person found.
	var people struct {
		People []struct{ DisplayName string } `json:"people"`
	}
	getJSON(t, p, "/v1/people?pageSize=1&orderBy=display_name%20desc", &people)
	if len(people.People) == 0 {
		t.Fatal("the demo company has no people")
	}
	b.open(t, "#/people", "people")
	b.run(t, "search the people", chromedp.SendKeys(chromedp.ID("people-search"), people.People[0].DisplayName))
	found := value(t, b, "read the people found", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("section[aria-label='All people'] tbody tr td:first-child")).map((td) => td.textContent)`))
	if len(found) == 0 || len(found) > 2 || found[0] != people.People[0].DisplayName {
		t.Errorf("searching the people for %q finds %q", people.People[0].DisplayName, found)
	}

	// A filled position links to the budget its funds are held on and to the person hired.
	var filled struct {
		Positions []struct{ Name string } `json:"positions"`
	}
	getJSON(t, p, "/v1/positions?filter=state%20%3D%20FILLED&pageSize=1", &filled)
	if len(filled.Positions) == 0 {
		t.Fatal("the demo company has no filled position")
	}
	b.open(t, "#/"+filled.Positions[0].Name, "position")
	b.check(t, "filled position", 0)
	if b.count(t, `main a[href^="#/budgets/"]`) == 0 || b.count(t, `main a[href^="#/people/"]`) == 0 {
		t.Error("a filled position's page links to no budget line or no person")
	}
	b.screenshots(t, "filled-position")
	// Its manager's page shows their pay to the admin key (talent.compensation).
	if team.Manager == "" {
		t.Fatal("the demo's team infrastructure-1 has no manager")
	}
	b.open(t, "#/"+team.Manager, "person")
	b.check(t, "manager", 0)
	pay := value(t, b, "read the pay", chromedp.Evaluate[string](`(document.querySelector("main .pay") || {}).textContent || ""`))
	if !strings.Contains(pay, "EUR") && !strings.Contains(pay, "USD") {
		t.Errorf("the admin key sees the manager's pay as %q; want an amount", pay)
	}
	b.open(t, "#/people", "people")
	if b.count(t, "main td.pay") == 0 {
		t.Error("the admin key sees no pay on the people page")
	}

	// A risk that was assessed has its score history drawn.
	b.open(t, "#/risks/r001-cybersecurity", "risk")
	b.check(t, "assessed risk", 1)
	// The data breach shows its notification clocks.
	b.open(t, "#/incidents/customer-data-exposure", "incident")
	b.check(t, "data breach", 0)
	clocks := value(t, b, "count the clocks", chromedp.Evaluate[int](`document.querySelectorAll("section[aria-label='Breach notification clocks'] tbody tr").length`))
	if clocks != 3 {
		t.Errorf("the breach shows %d notification clocks, want 3", clocks)
	}
	b.screenshots(t, "breach")

	// Compliance: the framework's coverage and its gaps; the backup control whose last test
	// failed and raised a risk; the policy's campaign with its overdue people; the booking plan
	// whose failover missed its recovery time. The section's link is current on each.
	b.open(t, "#/frameworks/iso27001-2022", "framework")
	b.check(t, "framework", 1)
	if n := b.count(t, "section[aria-label='Requirements not covered'] tbody tr:not(:has(td[colspan]))"); n == 0 {
		t.Error("the framework's page lists no requirement not covered (the demo maps 7 controls to 93 requirements)")
	}
	if n := b.count(t, `nav a[href="#/compliance"][aria-current="page"]`); n != 1 {
		t.Error("on a framework's page the Compliance section is not current")
	}
	b.screenshots(t, "framework")
	b.open(t, "#/controls/backup", "control")
	b.check(t, "failed control", 0)
	if b.count(t, "section[aria-label='Tests'] .badge.bad") != 1 || b.count(t, "section[aria-label='Tests'] a[href^='#/risks/']") == 0 {
		t.Error("the backup control's page does not show its ineffective test with the risk it raised")
	}
	var campaign struct{ RequiredCount, AcknowledgedCount, OverdueCount int }
	getJSON(t, p, "/v1/policies/acceptable-use/campaign?view=BASIC", &campaign)
	if campaign.OverdueCount == 0 || campaign.RequiredCount <= campaign.OverdueCount {
		t.Fatalf("the demo's policy campaign = %+v; want some people overdue and some not", campaign)
	}
	// The compliance page reads every policy's counts with the list (its FULL view).
	b.open(t, "#/compliance", "compliance")
	row := value(t, b, "read the policy's row", chromedp.Evaluate[string](`(() => {
		const a = document.querySelector("section[aria-label='Policies and their acknowledgement'] a[href='#/policies/acceptable-use']");
		return a ? a.closest("tr").innerText.replace(/\s+/g, " ") : "";
	})()`))
	if want := fmt.Sprintf("%d of %d %d", campaign.AcknowledgedCount, campaign.RequiredCount, campaign.OverdueCount); !strings.Contains(row, want) {
		t.Errorf("the compliance page's row of the acceptable-use policy = %q; want it to say %q", row, want)
	}
	b.open(t, "#/policies/acceptable-use", "policy")
	b.check(t, "policy", 1)
	rows := "section[aria-label='People asked'] tbody tr:not(:has(td[colspan]))"
	if n := b.count(t, rows); n != min(campaign.RequiredCount, 200) {
		t.Errorf("the policy's page lists %d people asked, want %d", n, campaign.RequiredCount)
	}
	// People are shown by name, as talent knows them: the first row, in the page's order.
	var first struct {
		People []struct{ Person, DisplayName string }
	}
	getJSON(t, p, "/v1/policies/acceptable-use/campaign/people?orderBy=team%2C%20display_name&pageSize=1", &first)
	var person struct{ DisplayName string }
	getJSON(t, p, "/v1/"+first.People[0].Person, &person)
	shown := value(t, b, "read the first person's link", chromedp.Evaluate[string](
		`document.querySelector("section[aria-label='People asked'] tbody tr:first-child a[href^='#/people/']")?.textContent ?? ""`))
	if person.DisplayName == "" || shown != person.DisplayName || first.People[0].DisplayName != person.DisplayName {
		t.Errorf("%s is shown as %q, the campaign names them %q; talent %q", first.People[0].Person, shown,
			first.People[0].DisplayName, person.DisplayName)
	}
	value(t, b, "show the overdue", chromedp.Evaluate[bool](`(() => {
		const s = document.getElementById("campaign-filter");
		s.value = "overdue = true";
		return s.dispatchEvent(new Event("change"));
	})()`))
	for deadline := time.Now().Add(pageTimeout); b.count(t, rows) != min(campaign.OverdueCount, 200) && time.Now().Before(deadline); {
		b.run(t, "wait for the overdue", chromedp.Sleep(100*time.Millisecond))
	}
	if n, badges := b.count(t, rows), b.count(t, "section[aria-label='People asked'] tbody .badge.bad"); n != min(campaign.OverdueCount, 200) || badges != n {
		t.Errorf("showing the overdue: %d rows, %d flagged overdue; want %d", n, badges, campaign.OverdueCount)
	}
	b.screenshots(t, "policy")
	b.open(t, "#/continuityPlans/booking", "continuity-plan")
	b.check(t, "continuity plan", 1)
	if b.count(t, "section[aria-label='Exercises'] .badge.bad") == 0 {
		t.Error("the booking plan's page does not show the recovery time its failover missed")
	}
	b.screenshots(t, "continuity-plan")

	// A key with fewer scopes sees less: a vendor's contracts without their values (no
	// vendors.finance), no pay on the people's pages (no talent.compensation), and the budgets
	// refused.
	limited := createKey(t, p, "vendors.read", "briefing.read", "talent.read")
	b.run(t, "sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("apikey")))
	b.run(t, "sign in with the limited key", chromedp.SendKeys(chromedp.ID("apikey"), limited),
		chromedp.Click(chromedp.CSS(`form.signin button[type="submit"]`)), ready("briefing"))
	var contracts struct {
		Contracts []struct{ Name string } `json:"contracts"`
	}
	getJSON(t, p, "/v1/vendors/-/contracts?pageSize=1", &contracts)
	if len(contracts.Contracts) == 0 {
		t.Fatal("the demo company has no contract")
	}
	b.open(t, "#/"+strings.Join(strings.Split(contracts.Contracts[0].Name, "/")[:2], "/"), "vendor")
	values := value(t, b, "read the contract values", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("section[aria-label='Contracts'] tbody tr td:nth-child(5)")).map((td) => td.textContent)`))
	if len(values) == 0 {
		t.Error("the vendor page shows no contract")
	}
	for _, v := range values {
		if v != "—" {
			t.Errorf("a key without vendors.finance sees a contract value %q", v)
		}
	}
	for _, pg := range []struct{ hash, page string }{{"#/people", "people"}, {"#/" + team.Manager, "person"}, {"#/teams/infrastructure-1", "team"}, {"#/teams", "teams"}} {
		b.open(t, pg.hash, pg.page)
		text := value(t, b, "read "+pg.hash, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
		if n := b.count(t, "main .pay"); n > 0 || strings.Contains(text, "Loaded annual cost") || strings.Contains(text, "Actual cost") || strings.Contains(text, pay) {
			t.Errorf("a key without talent.compensation sees pay on %s (%d pay cells, the manager's pay %q shown: %v)", pg.hash, n, pay, strings.Contains(text, pay))
		}
	}
	if n := b.count(t, "main table tbody tr:not(:has(td[colspan]))"); n == 0 {
		t.Error("a key with talent.read sees no one on the teams page")
	}
	if errs := b.takeErrors(); len(errs) > 0 {
		t.Errorf("the console logged errors for a key without talent.compensation: %q", errs)
	}
	// A page draws its refusal at the first 403, while its other loads may still be under way:
	// the browser logs each refused load (403), those too, before the next step looks at errors.
	var (
		loadsMu      sync.Mutex
		underWay     = map[network.RequestID]bool{} // by request, whatever its redirects
		refusedLoads int
	)
	loads := func() (int, int) {
		loadsMu.Lock()
		defer loadsMu.Unlock()
		return len(underWay), refusedLoads
	}
	watching, stopWatching := context.WithCancel(b.ctx)
	defer stopWatching()
	if err := chromedp.Listen(watching, func(ev any) {
		loadsMu.Lock()
		defer loadsMu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			underWay[ev.RequestID] = true
		case *network.EventResponseReceived:
			if ev.Response.Status == http.StatusForbidden {
				refusedLoads++
			}
		case *network.EventLoadingFinished:
			delete(underWay, ev.RequestID)
		case *network.EventLoadingFailed:
			delete(underWay, ev.RequestID)
		}
	}); err != nil {
		t.Fatal(err)
	}
	for _, pg := range []struct{ hash, page string }{{"#/budgets", "budgets"}, {"#/compliance", "compliance"}} {
		b.open(t, pg.hash, pg.page)
		if refusal := value(t, b, "read the refusal", chromedp.Evaluate[string](`(document.querySelector("main .error") || {}).textContent || ""`)); !strings.Contains(refusal, "does not allow") {
			t.Errorf("%s with a vendors.read key shows %q; want the refusal", pg.hash, refusal)
		}
	}
	logged := 0
	for deadline := time.Now().Add(pageTimeout); ; time.Sleep(20 * time.Millisecond) {
		for _, e := range b.takeErrors() {
			if !strings.Contains(e, "403") {
				t.Errorf("the refused pages logged %q", e)
			}
			logged++
		}
		pending, refused := loads()
		if pending == 0 && logged >= refused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refused pages: %d loads under way, %d refused, %d logged", pending, refused, logged)
		}
	}
	stopWatching()

	// A caller past the gateway's rate limit: the console waits as long as each 429 says and asks
	// again, and the page is drawn. Another client of the same key empties its bucket (burst 100),
	// then keeps it empty until the browser has been refused once.
	var refused atomic.Int64
	listening, stopListening := context.WithCancel(b.ctx)
	defer stopListening()
	if err := chromedp.Listen(listening, func(ev any) {
		if r, ok := ev.(*network.EventResponseReceived); ok && r.Response.Status == http.StatusTooManyRequests {
			refused.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	call := func() int {
		req, _ := http.NewRequest("GET", p.rest+"/v1/teams?pageSize=1", nil)
		req.Header.Set("Authorization", "Bearer "+limited)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := 0; call() != http.StatusTooManyRequests; i++ {
		if i == 1000 {
			t.Fatal("1,000 calls of one key, none refused: is the per-caller limit off?")
		}
	}
	hammered := make(chan struct{})
	go func() {
		defer close(hammered)
		for deadline := time.Now().Add(pageTimeout); refused.Load() == 0 && time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			call()
		}
	}()
	b.open(t, "#/teams", "teams")
	<-hammered
	stopListening()
	if refused.Load() == 0 {
		t.Error("the browser was never refused while the key's bucket was empty")
	}
	for _, e := range b.takeErrors() {
		if !strings.Contains(e, "429") { // the browser logs each refused load
			t.Errorf("after a 429 the console logged %q", e)
		}
	}
	b.check(t, "teams after a 429", 0)
	if n := b.count(t, "main table tbody tr:not(:has(td[colspan]))"); n == 0 {
		t.Error("after a 429 the teams page lists no team")
	}

	// Signing out forgets the key.
	b.run(t, "sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("apikey")))
	stored = value(t, b, "read the storage", chromedp.Evaluate[string](`sessionStorage.getItem("quarterdeck.credential") || ""`))
	if stored != "" {
		t.Errorf("after sign-out the session still holds %q", stored)
	}
}
