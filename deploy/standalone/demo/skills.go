package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The skills: a taxonomy, the skills each department requires, and the ratings of its people,
// drawn so that the coverage shows what a CTO looks for: skills covered, gaps, and skills that
// one person alone holds (key-person risks). Drawn from a random source of its own, after the
// staff plan, which it leaves as it is.

// skillCategories are the taxonomy's categories and their skills.
var skillCategories = []struct {
	id, name string
	skills   []string
}{
	{"infrastructure", "Infrastructure and operations", []string{"Kubernetes", "Terraform", "Linux administration", "Network design", "VMware", "Storage and backup", "ITIL service management", "Microsoft 365 administration"}},
	{"engineering", "Software engineering", []string{"Java", "TypeScript", "Python", "ABAP", "API design", "Test automation", "iOS and Android", "EDI messaging"}},
	{"data", "Data and analytics", []string{"SQL", "PostgreSQL administration", "Data modelling", "Power BI", "Machine learning", "Data governance"}},
	{"security", "Security", []string{"Incident response", "Threat detection", "Identity and access management", "Cloud security", "ISO 27001", "Penetration testing"}},
	{"business", "Business applications", []string{"SAP S/4HANA", "Salesforce", "Freight booking domain", "Customs and trade compliance"}},
	{"delivery", "Delivery and product", []string{"Product discovery", "User research", "Agile delivery", "Vendor negotiation", "Enterprise architecture", "Financial planning"}},
}

// teamSkills are the skills each department requires.
var teamSkills = map[string][]string{
	"Data centres":              {"VMware", "Storage and backup", "Linux administration"},
	"Network":                   {"Network design", "Linux administration", "Cloud security"},
	"Cloud platform":            {"Kubernetes", "Terraform", "Cloud security", "Python"},
	"End-user computing":        {"Microsoft 365 administration", "Identity and access management", "ITIL service management"},
	"Service desk":              {"ITIL service management", "Microsoft 365 administration", "SAP S/4HANA"},
	"ERP":                       {"SAP S/4HANA", "ABAP", "Financial planning"},
	"CRM":                       {"Salesforce", "API design", "Test automation"},
	"Freight booking":           {"Java", "Freight booking domain", "PostgreSQL administration", "Test automation"},
	"Customer portal":           {"TypeScript", "API design", "User research"},
	"Integration":               {"EDI messaging", "API design", "Customs and trade compliance", "Java"},
	"Security operations":       {"Incident response", "Threat detection", "Linux administration"},
	"Identity and access":       {"Identity and access management", "Cloud security", "ISO 27001"},
	"Governance and compliance": {"ISO 27001", "Customs and trade compliance", "Vendor negotiation"},
	"Application security":      {"Penetration testing", "Cloud security", "Java", "TypeScript"},
	"Data platform":             {"PostgreSQL administration", "SQL", "Kubernetes", "Data modelling"},
	"Business intelligence":     {"Power BI", "SQL", "Data modelling"},
	"Data science":              {"Machine learning", "Python", "SQL"},
	"Master data":               {"Data governance", "SAP S/4HANA", "SQL"},
	"Product management":        {"Product discovery", "Agile delivery", "Freight booking domain"},
	"Mobile apps":               {"iOS and Android", "TypeScript", "API design"},
	"Design":                    {"User research", "Product discovery", "TypeScript"},
	"Architecture":              {"Enterprise architecture", "API design", "Cloud security"},
	"PMO":                       {"Agile delivery", "Financial planning", "Vendor negotiation"},
	"Vendor management":         {"Vendor negotiation", "Financial planning", "ISO 27001"},
}

// need is a skill a team requires and the ratings of its people in it.
type need struct {
	skill         string // the skill's id
	min, required int
	ratings       []rating
}

type rating struct {
	person      string
	proficiency int
	date        time.Time
	evidence    string
}

// coverages are the shapes a team's coverage of a skill takes, in turn over the company: the
// number required and the number at or above the minimum.
var coverages = []struct{ required, covering int }{
	{2, 3}, // covered
	{1, 1}, // one person alone: a key-person risk
	{3, 2}, // a gap
	{2, 2}, // covered
	{2, 1}, // a gap that one person alone holds
	{1, 0}, // no one
}

var evidences = []string{"Annual review", "Project retrospective", "Peer review", "Certification", "Manager's assessment"}

// errNoSkills stops the skills part of the load on a platform that keeps none.
var errNoSkills = errors.New("no skills")

// skilling draws the skills each department requires and its people's ratings: the most senior
// of the team cover each skill (at or above the minimum, 3 — Practitioner), one or two others are
// rated below it.
func (l *loader) skilling() {
	rnd := rand.New(rand.NewPCG(2026, 301))
	today := time.Date(l.now.Year(), l.now.Month(), l.now.Day(), 0, 0, 0, 0, time.UTC)
	turn := 0
	for i := range l.crews {
		c := &l.crews[i]
		if !c.department {
			continue
		}
		var people []member
		for _, m := range c.members {
			if m.end.IsZero() {
				people = append(people, m)
			}
		}
		// The most senior first (M1 before L6 … L2), each level in a shuffled order.
		rnd.Shuffle(len(people), func(a, b int) { people[a], people[b] = people[b], people[a] })
		slices.SortStableFunc(people, func(a, b member) int { return -cmp.Compare(rank(a.level), rank(b.level)) })
		for k, name := range teamSkills[c.name] {
			shape := coverages[turn%len(coverages)]
			turn++
			n := need{skill: slug(name), min: 3, required: shape.required}
			// A different slice of the team for each skill, so that one person does not hold them all.
			offset := k % max(len(people), 1)
			for j := 0; j < min(len(people), shape.covering+2); j++ {
				m := people[(offset+j)%len(people)]
				p := 3 + rnd.IntN(3) // 3 to 5
				if j >= shape.covering {
					p = 1 + rnd.IntN(2) // 1 or 2: below the minimum
				}
				d := today.AddDate(0, 0, -rnd.IntN(300))
				if d.Before(m.start) {
					d = m.start
				}
				n.ratings = append(n.ratings, rating{person: m.id, proficiency: p, date: d, evidence: evidences[rnd.IntN(len(evidences))]})
			}
			c.needs = append(c.needs, n)
		}
	}
}

// rank orders the levels of the ladder: managers above the individual contributors.
func rank(level string) int {
	if strings.HasPrefix(level, "M") {
		return 10 + int(level[1]-'0')
	}
	if len(level) == 2 && level[0] == 'L' {
		return int(level[1] - '0')
	}
	return 0
}

// loadSkills makes the taxonomy, the departments' requirements and the ratings. A rating has no
// ID of its own: one is recorded only when the person has none of the skill yet.
func (l *loader) loadSkills(ctx context.Context) error {
	for ci, cat := range skillCategories {
		did, err := l.admin.ensure(ctx, "skillCategories", "skillCategoryId", cat.id, map[string]any{"displayName": cat.name}, nil)
		if ci == 0 && (status(err) == http.StatusNotImplemented || status(err) == http.StatusNotFound) {
			fmt.Fprintf(l.opts.Log, "demo: this platform keeps no skills (%v); skipped\n", err)
			return errNoSkills
		}
		if err != nil {
			return err
		}
		l.created("skillCategories", did)
		for _, s := range cat.skills {
			did, err := l.admin.ensure(ctx, "skills", "skillId", slug(s), map[string]any{
				"displayName": s, "category": "skillCategories/" + cat.id,
			}, nil)
			if err != nil {
				return err
			}
			l.created("skills", did)
		}
	}
	type existing struct {
		Name  string `json:"name"`
		Skill string `json:"skill"`
	}
	all, err := list[existing](ctx, l.admin, "/v1/people/-/skillRatings", "skillRatings")
	if err != nil {
		return err
	}
	rated := map[string]bool{}
	for _, r := range all {
		rated[strings.SplitN(r.Name, "/skillRatings/", 2)[0]+" "+r.Skill] = true
	}
	// The ratings before the requirements: a requirement's coverage is then measured once, as the
	// plan has it, and talent reports no passing gap or key-person risk to the risk register.
	for _, c := range l.crews {
		for _, n := range c.needs {
			for _, r := range n.ratings {
				if rated["people/"+r.person+" skills/"+n.skill] {
					continue
				}
				rated["people/"+r.person+" skills/"+n.skill] = true
				if err := l.admin.do(ctx, "POST", "/v1/people/"+r.person+"/skillRatings", map[string]any{
					"skill": "skills/" + n.skill, "proficiency": r.proficiency, "rateDate": date(r.date), "evidence": r.evidence,
				}, nil); err != nil {
					return err
				}
				l.created("ratings", true)
			}
		}
	}
	for _, c := range l.crews {
		for _, n := range c.needs {
			err := l.admin.do(ctx, "POST", "/v1/teams/"+c.id+"/skillRequirements", map[string]any{
				"skill": "skills/" + n.skill, "minProficiency": n.min, "requiredPeople": n.required,
			}, nil)
			switch status(err) {
			case 0:
				l.created("requirements", true)
			case http.StatusConflict: // required already
			default:
				return err
			}
		}
	}
	return nil
}
