package demo

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// The staff plan: who works in each team, what they cost, the positions each department
// recruits for, and the labour budget that pays for them. It is drawn from a random source of its
// own, so that the rest of the company is the same with or without it.

// member is a person of the plan.
type member struct {
	id, name, email, title, level, location string
	contractor                              bool
	start                                   time.Time
	end                                     time.Time // zero while they work here
	cost                                    int64     // loaded annual cost, in whole units of the team's currency
}

// employedOn says whether the member works here on day d.
func (m member) employedOn(d time.Time) bool {
	return !m.start.After(d) && (m.end.IsZero() || !m.end.Before(d))
}

// opening is a position of the plan and the state the load leaves it in.
type opening struct {
	id, title, level, reason string
	cost                     int64
	targetStart              time.Time
	// state is where the position ends: DRAFT, PENDING_APPROVAL, OPEN, OFFER, FILLED or CANCELLED.
	state      string
	backfillOf string // the id of the member it replaces (BACKFILL)
	hire       string // the id of the member who filled it (FILLED)
}

// pending says whether the opening still counts towards the team's future headcount.
func (o opening) pending() bool {
	return o.state != "FILLED" && o.state != "CANCELLED"
}

// crew is a team of the plan. A department's team is charged to a cost centre with a budget, so
// it recruits against that budget's labour line; a division's team (its director and staff) does
// not recruit.
type crew struct {
	id, name, currency string
	department         bool
	members            []member
	openings           []opening
	needs              []need // the skills it requires, with its people's ratings
}

// head is the member who manages the team.
func (c crew) head() string { return c.members[0].id }

// headcount is the number of members employed on day d.
func (c crew) headcount(d time.Time) int {
	n := 0
	for _, m := range c.members {
		if m.employedOn(d) {
			n++
		}
	}
	return n
}

// payroll is the month's loaded cost of the employees employed on its 15th (contractors' fees
// are booked on the contractors' line).
func (c crew) payroll(year int, month time.Month) int64 {
	day := time.Date(year, month, 15, 0, 0, 0, 0, time.UTC)
	var sum int64
	for _, m := range c.members {
		if !m.contractor && m.employedOn(day) {
			sum += m.cost / 12
		}
	}
	return sum
}

// labourPlan is the planned amount of the team's internal-labour line for the year: the payroll
// of its members, the positions it recruits for from their target start, and a margin, rounded
// up to ten thousand.
func (c crew) labourPlan(year int) int64 {
	var sum int64
	for m := time.January; m <= time.December; m++ {
		sum += c.payroll(year, m)
	}
	yearEnd := time.Date(year, 12, 31, 0, 0, 0, 0, time.UTC)
	for _, o := range c.openings {
		if o.pending() {
			days := int64(yearEnd.Sub(o.targetStart).Hours()/24) + 1
			sum += o.cost * days / 365
		}
	}
	sum = sum * 104 / 100
	return (sum + 9_999) / 10_000 * 10_000
}

// roles are the jobs of each department, in sentence case (a level's prefix goes before them).
var roles = map[string][]string{
	"Data centres":              {"data centre technician", "systems administrator", "storage engineer"},
	"Network":                   {"network engineer", "network architect", "network operations analyst"},
	"Cloud platform":            {"site reliability engineer", "cloud engineer", "platform engineer"},
	"End-user computing":        {"workplace engineer", "end-user support technician", "endpoint engineer"},
	"Service desk":              {"service desk analyst", "service desk analyst", "problem manager"},
	"ERP":                       {"ERP consultant", "ABAP developer", "business analyst"},
	"CRM":                       {"CRM developer", "business analyst", "QA engineer"},
	"Freight booking":           {"software engineer", "software engineer", "QA engineer"},
	"Customer portal":           {"frontend developer", "software engineer", "QA engineer"},
	"Integration":               {"integration developer", "EDI specialist", "API engineer"},
	"Security operations":       {"security analyst", "detection engineer", "incident responder"},
	"Identity and access":       {"identity engineer", "IAM analyst", "security engineer"},
	"Governance and compliance": {"GRC analyst", "compliance officer", "auditor"},
	"Application security":      {"application security engineer", "penetration tester", "security champion lead"},
	"Data platform":             {"data engineer", "platform engineer", "database administrator"},
	"Business intelligence":     {"BI developer", "analytics engineer", "reporting analyst"},
	"Data science":              {"data scientist", "machine learning engineer", "data analyst"},
	"Master data":               {"data steward", "master data analyst", "data quality engineer"},
	"Product management":        {"product manager", "product owner", "business analyst"},
	"Mobile apps":               {"mobile developer", "mobile developer", "QA engineer"},
	"Design":                    {"product designer", "UX researcher", "content designer"},
	"Architecture":              {"enterprise architect", "solution architect", "solution architect"},
	"PMO":                       {"project manager", "programme manager", "PMO analyst"},
	"Vendor management":         {"vendor manager", "licence manager", "procurement analyst"},
}

// growthStates are the states growth positions are left in, in turn.
var growthStates = []string{"OPEN", "OFFER", "PENDING_APPROVAL", "CANCELLED", "OPEN", "DRAFT", "OPEN"}

// directors are the titles of the divisions' heads.
var directors = map[string]string{
	"infrastructure": "Director of infrastructure", "applications": "Director of applications",
	"security": "Chief information security officer", "data": "Chief data officer",
	"digital": "Director of digital and product", "office": "Chief of staff to the CIO",
}

// lowerFirst puts a name's first letter in lower case, unless it begins an acronym (ERP, CRM).
func lowerFirst(s string) string {
	if len(s) > 1 && s[1] >= 'A' && s[1] <= 'Z' {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// levels of the ladder, with the title's prefix and the loaded annual cost in euros.
var levels = []struct {
	level, prefix string
	cost          int64
}{
	{"L2", "Associate ", 68_000}, {"L3", "", 84_000}, {"L4", "", 104_000}, {"L5", "Senior ", 128_000}, {"L6", "Principal ", 158_000},
}

var firstNames = []string{
	"Anna", "Lukas", "Sophie", "Jonas", "Emma", "Finn", "Mia", "Noah", "Lea", "Elias", "Hannah", "Ben", "Lena", "Paul",
	"Sanne", "Daan", "Femke", "Bram", "Lotte", "Ruben", "Eva", "Thijs", "Julia", "Sem", "Ines", "Tiago", "Marta", "Rui",
	"Aisha", "Omar", "Priya", "Arjun", "Mei", "Wei", "Yuki", "Kenji", "Olga", "Piotr", "Kasia", "Marek", "Chloe", "Hugo",
	"Camille", "Louis", "Grace", "James", "Olivia", "Ethan", "Maya", "Lucas", "Zoe", "Samuel", "Nora", "Oscar", "Ida",
	"Magnus", "Freya", "Erik", "Amara", "Kwame", "Fatima", "Yusuf", "Elena", "Mateo", "Lucia", "Diego", "Sara", "Luca",
}

var lastNames = []string{
	"Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Koch", "Richter", "Wagner", "de Vries", "Jansen", "Bakker",
	"Visser", "Smit", "Meijer", "de Boer", "Mulder", "Peeters", "Maes", "Jacobs", "Silva", "Santos", "Ferreira", "Costa",
	"Nowak", "Kowalski", "Wisniewski", "Dubois", "Laurent", "Moreau", "Smith", "Johnson", "Brown", "Garcia", "Martinez",
	"Nguyen", "Chen", "Wang", "Tanaka", "Sato", "Patel", "Shah", "Khan", "Okafor", "Mensah", "Haddad", "Larsen", "Nielsen",
	"Andersson", "Lindqvist", "Rossi", "Bianchi", "Novak", "Horvat", "Ivanova", "O'Brien", "Murphy", "Walsh", "Kelly",
}

var (
	euroSites   = []string{"Hamburg", "Hamburg", "Rotterdam", "Rotterdam", "Antwerp", "Gdansk", "Lisbon", "Remote (PT)", "Remote (PL)"}
	dollarSites = []string{"Chicago", "Chicago", "Houston", "Remote (US)"}
)

// staffing draws the staff plan of the company's cost centres (as company() made them): a team
// per division with its director and business manager, and a team per department with its head
// and 9 to 15 people (4 to 6 in the small company), some of them contractors, some hired this
// year and some gone; and the positions each department recruits for: a backfill for each person
// who left, and growth.
func (l *loader) staffing(centres []costCentre) []crew {
	rnd := rand.New(rand.NewPCG(2026, 300))
	between := func(lo, hi int) int { return lo + rnd.IntN(hi-lo+1) }
	jan1 := time.Date(l.year, 1, 1, 0, 0, 0, 0, time.UTC)
	dec31 := time.Date(l.year, 12, 31, 0, 0, 0, 0, time.UTC)
	today := time.Date(l.now.Year(), l.now.Month(), l.now.Day(), 0, 0, 0, 0, time.UTC)
	// Whoever joined or left this year did so at least a week ago, and no earlier than the year's
	// first day.
	recent := func(day int) time.Time {
		d := jan1.AddDate(0, 0, day)
		if latest := today.AddDate(0, 0, -7); d.After(latest) {
			d = latest
		}
		if d.Before(jan1) {
			d = jan1
		}
		return d
	}
	taken := map[string]int{}
	person := func(title, level, currency string, cost int64, contractor bool) member {
		first, last := firstNames[rnd.IntN(len(firstNames))], lastNames[rnd.IntN(len(lastNames))]
		id := slug(first + " " + last)
		local := strings.ReplaceAll(id, "-", ".")
		if n := taken[id]; n > 0 {
			id, local = fmt.Sprintf("%s-%d", id, n+1), fmt.Sprintf("%s%d", local, n+1)
		}
		taken[slug(first+" "+last)]++
		sites := euroSites
		if currency == "USD" {
			sites = dollarSites
		}
		// Loaded cost: the level's, ±6 %, a dollar team's 12 % more, a contractor's fees 35 % more.
		cost = cost * int64(between(94, 106)) / 100
		if currency == "USD" {
			cost = cost * 112 / 100
		}
		if contractor {
			cost = cost * 135 / 100
		}
		m := member{id: id, name: first + " " + last, email: local + "@halyard.example", title: title, level: level,
			location: sites[rnd.IntN(len(sites))], contractor: contractor, cost: cost / 100 * 100}
		// Most have been here for years; about one in eight joined this year.
		if rnd.IntN(8) == 0 {
			m.start = recent(between(0, 364))
		} else {
			m.start = jan1.AddDate(0, 0, -between(30, 9*365))
		}
		return m
	}
	sentence := func(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
	var out []crew
	grown := 0
	for _, c := range centres {
		if c.id == "halyard" {
			continue
		}
		if !c.leaf {
			cr := crew{id: c.id, name: c.name, currency: "EUR"}
			cr.members = append(cr.members,
				person(directors[c.id], "M2", "EUR", 205_000, false),
				person("Business manager, "+lowerFirst(c.name), "L4", "EUR", 104_000, false))
			cr.members[0].start = jan1.AddDate(0, 0, -between(2*365, 8*365))
			out = append(out, cr)
			continue
		}
		cr := crew{id: c.id, name: c.name, currency: c.currency, department: true}
		head := person("Head of "+lowerFirst(c.name), "M1", c.currency, 150_000, false)
		head.start = jan1.AddDate(0, 0, -between(365, 6*365))
		cr.members = append(cr.members, head)
		size := between(9, 15)
		if l.opts.Small {
			size = between(4, 6)
		}
		jobs := roles[c.name]
		for i := 1; i < size; i++ {
			lv := levels[min(between(0, 4), between(0, 4))] // more at the bottom of the ladder than at the top
			m := person(sentence(lv.prefix+jobs[rnd.IntN(len(jobs))]), lv.level, c.currency, lv.cost, rnd.IntN(5) == 0)
			// About one in twelve of those here before this year has left this year.
			if leaves := rnd.IntN(12) == 0; leaves && m.start.Before(jan1) {
				m.end = recent(between(20, 330))
			}
			cr.members = append(cr.members, m)
		}
		// The positions: a backfill for each leaver, a filled growth position for every other
		// hire of this year, and one to three (one or two) growth positions in various states.
		// A position's budgeted cost is its level's on the ladder, in the team's currency: what
		// finance plans for the job, not the pay of whoever fills it.
		n := 0
		next := func(title, level string) opening {
			n++
			o := opening{id: fmt.Sprintf("%s-req-%02d", c.id, n), title: title, level: level, reason: "GROWTH"}
			for _, lv := range levels {
				if lv.level == level {
					o.cost = lv.cost
				}
			}
			if c.currency == "USD" {
				o.cost = o.cost * 112 / 100 / 1000 * 1000
			}
			return o
		}
		// A position to come starts in two weeks to three months, within the year (whose budget
		// pays for it): late in the year, between now and its last day.
		upcoming := func() time.Time {
			lo, hi := 14, 90
			if left := int(dec31.Sub(today).Hours() / 24); left < hi {
				lo, hi = min(7, left), left
			}
			return today.AddDate(0, 0, lo+(hi-lo)*rnd.IntN(1000)/999)
		}
		hires := 0
		for _, m := range cr.members {
			switch {
			case !m.end.IsZero():
				o := next(m.title, m.level)
				o.reason, o.backfillOf, o.targetStart = "BACKFILL", m.id, upcoming()
				o.state = []string{"OPEN", "OPEN", "OFFER"}[rnd.IntN(3)]
				cr.openings = append(cr.openings, o)
			case !m.start.Before(jan1) && !m.contractor:
				if hires++; hires%2 == 1 {
					o := next(m.title, m.level)
					o.targetStart, o.state, o.hire = m.start, "FILLED", m.id
					cr.openings = append(cr.openings, o)
				}
			}
		}
		growth := between(1, 3)
		if l.opts.Small {
			growth = between(1, 2)
		}
		for i := 0; i < growth; i++ {
			lv := levels[between(1, 4)]
			job := jobs[rnd.IntN(len(jobs))]
			o := next(sentence(lv.prefix+job), lv.level)
			o.targetStart = upcoming()
			// In turn, so that even the small company has a position in each state.
			o.state = growthStates[grown%len(growthStates)]
			grown++
			cr.openings = append(cr.openings, o)
		}
		out = append(out, cr)
	}
	return out
}
