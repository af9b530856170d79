package operations

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/fault"
)

// parseFilter turns the filter of ListAuditRecords into a query of the audit store. It accepts
// the conjunctions that audit searches need and no more, until the shared AIP-160 compiler
// serves this list too:
//
//	filter = term { "AND" term }
//	term   = text-field "=" value | "create_time" ("=" | ">=" | ">" | "<=" | "<") value
//	value  = a double-quoted string (backslash escapes) or a bare word of letters, digits and _
//
// The text fields are resource, actor, method, action and request_id, each at most once;
// create_time takes RFC 3339 values and may appear twice to bound a range.
func parseFilter(filter string) (audit.Query, error) {
	var q audit.Query
	if strings.TrimSpace(filter) == "" {
		return q, nil
	}
	toks, err := tokenize(filter)
	if err != nil {
		return q, badFilter(err.Error())
	}
	seen := map[string]bool{}
	for i := 0; ; {
		if len(toks)-i < 3 {
			return q, badFilter("expected `field = value`")
		}
		field, op, val := toks[i], toks[i+1], toks[i+2]
		if field.quoted || val.op || !op.op || field.op {
			return q, badFilter(fmt.Sprintf("expected `field = value`, got %s %s %s", field, op, val))
		}
		if err := apply(&q, seen, field.text, op.text, val.text); err != nil {
			return q, err
		}
		i += 3
		if i == len(toks) {
			return q, nil
		}
		if toks[i].quoted || toks[i].text != "AND" {
			return q, badFilter(fmt.Sprintf("expected AND, got %s (OR, NOT and parentheses are not supported yet)", toks[i]))
		}
		i++
	}
}

func apply(q *audit.Query, seen map[string]bool, field, op, val string) error {
	if field == "create_time" {
		t, err := time.Parse(time.RFC3339Nano, val)
		if err != nil {
			return badFilter(fmt.Sprintf("create_time takes an RFC 3339 time, e.g. \"2026-01-01T00:00:00Z\", not %q", val))
		}
		// Records are kept to the microsecond, so "> t" is ">= t+1µs" and "<= t" is "< t+1µs".
		t = t.UTC()
		next := t.Truncate(time.Microsecond).Add(time.Microsecond)
		switch op {
		case ">=":
			q.From = later(q.From, t)
		case ">":
			q.From = later(q.From, next)
		case "<":
			q.Until = earlier(q.Until, t)
		case "<=":
			q.Until = earlier(q.Until, next)
		case "=":
			q.From, q.Until = later(q.From, t), earlier(q.Until, next)
		}
		return nil
	}
	targets := map[string]*string{
		"resource": &q.Resource, "actor": &q.Actor, "method": &q.Method, "action": &q.Action, "request_id": &q.RequestID,
	}
	target, ok := targets[field]
	if !ok {
		return badFilter(fmt.Sprintf("unknown field %q: filter by resource, actor, method, action, request_id or create_time", field))
	}
	if op != "=" {
		return badFilter(fmt.Sprintf("%s supports only =", field))
	}
	if seen[field] {
		return badFilter(fmt.Sprintf("%s may appear once", field))
	}
	seen[field] = true
	*target = val
	return nil
}

func later(a, b time.Time) time.Time {
	if a.IsZero() || b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

type token struct {
	text   string
	op     bool // a comparison operator
	quoted bool // a string literal
}

func (t token) String() string {
	if t.quoted {
		return strconv.Quote(t.text)
	}
	return t.text
}

func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					j++
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			v, err := strconv.Unquote(s[i : j+1])
			if err != nil {
				return nil, fmt.Errorf("invalid string at offset %d", i)
			}
			toks = append(toks, token{text: v, quoted: true})
			i = j + 1
		case c == '=':
			toks = append(toks, token{text: "=", op: true})
			i++
		case c == '<' || c == '>':
			op := string(c)
			if i+1 < len(s) && s[i+1] == '=' {
				op += "="
			}
			toks = append(toks, token{text: op, op: true})
			i += len(op)
		case isWord(c):
			j := i
			for j < len(s) && isWord(s[j]) {
				j++
			}
			toks = append(toks, token{text: s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", c, i)
		}
	}
	return toks, nil
}

func isWord(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func badFilter(why string) error {
	return fault.Invalid(fault.Violation{Field: "filter", Reason: "FILTER_INVALID", Description: why +
		"; this list supports `field = \"value\"` on resource, actor, method, action and request_id and " +
		"create_time comparisons, joined by AND"})
}
