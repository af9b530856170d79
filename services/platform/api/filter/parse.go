package filter

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits that keep a filter's cost bounded whatever a client sends.
const (
	// MaxLength is the longest filter accepted, in bytes.
	MaxLength = 2048
	// MaxDepth bounds the nesting of parentheses and NOT.
	MaxDepth = 16
	// MaxRestrictions bounds the number of comparisons in one filter.
	MaxRestrictions = 50
)

// tokKind is the kind of a lexical token.
type tokKind int

const (
	tEOF    tokKind = iota
	tWord           // identifier, keyword, bare value or number: letters, digits, '_'
	tString         // quoted string, unescaped
	tOp             // = != < <= > >= :
	tLParen
	tRParen
	tDot
	tMinus
	tStar
)

type token struct {
	kind tokKind
	text string
	pos  int // byte offset in the filter, for error messages
	// wild is the wildcards of a quoted string: an unescaped "*" that began or ended it, which
	// text no longer holds.
	wild wildcards
	// space reports whitespace before the token, which separates the factors of a sequence.
	space bool
}

// syntaxError is a filter that does not parse; pos is a byte offset.
type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("at position %d: %s", e.pos+1, e.msg) }

func lex(s string) ([]token, error) {
	var (
		out   []token
		space bool
	)
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			return nil, &syntaxError{i, "the filter is not valid UTF-8"}
		}
		if unicode.IsSpace(r) {
			space = true
			i += w
			continue
		}
		t := token{pos: i, space: space}
		space = false
		switch {
		case r == '(':
			t.kind, t.text = tLParen, "("
			i++
		case r == ')':
			t.kind, t.text = tRParen, ")"
			i++
		case r == '.':
			t.kind, t.text = tDot, "."
			i++
		case r == '*':
			t.kind, t.text = tStar, "*"
			i++
		case r == '-':
			t.kind, t.text = tMinus, "-"
			i++
		case r == ':' || r == '=':
			t.kind, t.text = tOp, string(r)
			i++
		case r == '!':
			if !strings.HasPrefix(s[i:], "!=") {
				return nil, &syntaxError{i, `"!" must be followed by "="`}
			}
			t.kind, t.text = tOp, "!="
			i += 2
		case r == '<' || r == '>':
			t.kind, t.text = tOp, string(r)
			i++
			if i < len(s) && s[i] == '=' {
				t.text += "="
				i++
			}
		case r == '"' || r == '\'':
			str, wild, n, err := lexString(s[i:], r)
			if err != nil {
				return nil, &syntaxError{i, err.Error()}
			}
			t.kind, t.text, t.wild = tString, str, wild
			i += n
		case isWordRune(r):
			j := i
			for j < len(s) {
				r, w := utf8.DecodeRuneInString(s[j:])
				if !isWordRune(r) {
					break
				}
				j += w
			}
			t.kind, t.text = tWord, s[i:j]
			i = j
		default:
			return nil, &syntaxError{i, fmt.Sprintf("unexpected character %q", r)}
		}
		out = append(out, t)
	}
	return append(out, token{kind: tEOF, pos: len(s), space: space}), nil
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// wildcards are the "*" that begin (before) or end (after) a quoted string unescaped: the string
// matches any text there (AIP-160's wildcards).
type wildcards struct{ before, after bool }

// lexString reads a string literal quoted by q at the start of s and returns its value, its
// wildcards and its length. Backslash escapes the next character (\n, \t and \\ as in C; any
// other character stands for itself, so that \* is a literal star). An unescaped "*" that begins
// or ends the string is a wildcard, left out of the value; a lone "*" is one wildcard.
func lexString(s string, q rune) (string, wildcards, int, error) {
	var (
		b        strings.Builder
		wild     wildcards
		lastStar bool // the last rune written is an unescaped "*"
	)
	for i := 1; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		escaped := false
		switch r {
		case q:
			out := b.String()
			if lastStar {
				out, wild.after = out[:len(out)-1], true
			}
			return out, wild, i + w, nil
		case '\\':
			i += w
			if i >= len(s) {
				return "", wildcards{}, 0, fmt.Errorf("unterminated string")
			}
			r, w = utf8.DecodeRuneInString(s[i:])
			escaped = true
			switch r {
			case 'n':
				r = '\n'
			case 't':
				r = '\t'
			}
		}
		if r == '*' && !escaped && i == 1 {
			wild.before = true
			i += w
			continue
		}
		b.WriteRune(r)
		lastStar = r == '*' && !escaped
		i += w
	}
	return "", wildcards{}, 0, fmt.Errorf("unterminated string")
}

// node is a parsed filter expression.
type node interface{ isNode() }

// logic is AND or OR of two or more operands.
type logic struct {
	op   string // "AND" or "OR"
	args []node
}

// not negates its operand.
type not struct{ arg node }

// restriction compares a field with a value: path op value.
type restriction struct {
	path string
	pos  int
	op   string
	val  value
}

// value is the literal of a restriction.
type value struct {
	kind tokKind // tWord, tString or tStar
	text string
	neg  bool // a leading minus, for numbers
	wild wildcards
	pos  int
}

func (logic) isNode()       {}
func (not) isNode()         {}
func (restriction) isNode() {}

type parser struct {
	toks         []token
	i            int
	depth        int
	restrictions int
}

// parse returns the syntax tree of a filter, or nil for an empty one. It follows the grammar of
// AIP-160: AND binds more loosely than OR, and factors separated only by whitespace are ANDed.
func parse(s string) (node, error) {
	if len(s) > MaxLength {
		return nil, &syntaxError{MaxLength, fmt.Sprintf("the filter is longer than %d bytes", MaxLength)}
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == tEOF {
		return nil, nil
	}
	n, err := p.expression()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t)
	}
	return n, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isKeyword(t token, kw string) bool { return t.kind == tWord && t.text == kw }

func (p *parser) unexpected(t token) error {
	if t.kind == tEOF {
		return &syntaxError{t.pos, "unexpected end of filter"}
	}
	return &syntaxError{t.pos, fmt.Sprintf("unexpected %q", t.text)}
}

// expression: sequence {AND sequence}
func (p *parser) expression() (node, error) {
	first, err := p.sequence()
	if err != nil {
		return nil, err
	}
	args := []node{first}
	for p.isKeyword(p.peek(), "AND") {
		p.next()
		n, err := p.sequence()
		if err != nil {
			return nil, err
		}
		args = append(args, n)
	}
	return join("AND", args), nil
}

// sequence: factor {WS factor}, implicitly ANDed.
func (p *parser) sequence() (node, error) {
	first, err := p.factor()
	if err != nil {
		return nil, err
	}
	args := []node{first}
	for {
		t := p.peek()
		if t.kind == tEOF || t.kind == tRParen || p.isKeyword(t, "AND") || !t.space {
			break
		}
		n, err := p.factor()
		if err != nil {
			return nil, err
		}
		args = append(args, n)
	}
	return join("AND", args), nil
}

// factor: term {OR term}
func (p *parser) factor() (node, error) {
	first, err := p.term()
	if err != nil {
		return nil, err
	}
	args := []node{first}
	for p.isKeyword(p.peek(), "OR") {
		p.next()
		n, err := p.term()
		if err != nil {
			return nil, err
		}
		args = append(args, n)
	}
	return join("OR", args), nil
}

// term: [NOT | -] simple
func (p *parser) term() (node, error) {
	t := p.peek()
	negate := false
	if p.isKeyword(t, "NOT") || t.kind == tMinus {
		p.next()
		negate = true
	}
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > MaxDepth {
		return nil, &syntaxError{t.pos, fmt.Sprintf("the filter nests deeper than %d levels", MaxDepth)}
	}
	n, err := p.simple()
	if err != nil {
		return nil, err
	}
	if negate {
		return not{n}, nil
	}
	return n, nil
}

// simple: restriction | ( expression )
func (p *parser) simple() (node, error) {
	t := p.peek()
	if t.kind == tLParen {
		p.next()
		n, err := p.expression()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, p.unexpected(c)
		}
		return n, nil
	}
	return p.restriction()
}

// restriction: member comparator arg, where member is word {. word}.
func (p *parser) restriction() (node, error) {
	t := p.next()
	if t.kind != tWord || isReserved(t.text) {
		return nil, p.unexpected(t)
	}
	path := t.text
	for p.peek().kind == tDot {
		p.next()
		f := p.next()
		if f.kind != tWord {
			return nil, p.unexpected(f)
		}
		path += "." + f.text
	}
	op := p.next()
	if op.kind != tOp {
		if op.kind == tEOF || op.space {
			return nil, &syntaxError{t.pos, fmt.Sprintf("%q needs a comparison such as %s = \"value\"; free-text search is not supported", path, path)}
		}
		return nil, p.unexpected(op)
	}
	p.restrictions++
	if p.restrictions > MaxRestrictions {
		return nil, &syntaxError{t.pos, fmt.Sprintf("the filter has more than %d comparisons", MaxRestrictions)}
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	return restriction{path: path, pos: t.pos, op: op.text, val: v}, nil
}

// value: string | [-] word | *
func (p *parser) value() (value, error) {
	t := p.next()
	switch t.kind {
	case tString, tStar:
		return value{kind: t.kind, text: t.text, wild: t.wild, pos: t.pos}, nil
	case tMinus:
		n := p.next()
		if n.kind != tWord || n.space {
			return value{}, p.unexpected(n)
		}
		return value{kind: tWord, text: n.text, neg: true, pos: t.pos}, nil
	case tWord:
		if isReserved(t.text) {
			return value{}, p.unexpected(t)
		}
		return value{kind: tWord, text: t.text, pos: t.pos}, nil
	}
	return value{}, p.unexpected(t)
}

func isReserved(w string) bool { return w == "AND" || w == "OR" || w == "NOT" }

// join returns the single operand, or the operands combined by op, flattening nested uses of
// the same operator.
func join(op string, args []node) node {
	if len(args) == 1 {
		return args[0]
	}
	var flat []node
	for _, a := range args {
		if l, ok := a.(logic); ok && l.op == op {
			flat = append(flat, l.args...)
		} else {
			flat = append(flat, a)
		}
	}
	return logic{op: op, args: flat}
}
