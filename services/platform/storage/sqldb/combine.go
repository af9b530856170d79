package sqldb

import (
	"context"
	"database/sql"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Statement is one SQL statement and its arguments. Its placeholders are $1 to $len(Args), and
// it holds no '$' outside of them.
type Statement struct {
	// Table is the table the statement writes: ExecAll never combines two statements of one table.
	Table string
	Query string
	Args  []any
}

// Bounds of one combined statement (ExecAll): beyond them the statements run one by one.
const (
	maxCombined     = 8
	maxCombinedArgs = 8192
)

// ExecAll runs stmts within tx, in their order. Each must be a plain INSERT, UPDATE or DELETE
// of one table whose result nobody reads (no RETURNING, no WITH of its own). On PostgreSQL,
// consecutive statements of different tables, up to eight, go to the server as one statement,
// the ones before the last as data-modifying WITH clauses of the last, so that a transaction's
// closing writes (its events, its audit records, its stored response) take one round trip
// instead of one each. The parts of such a statement run in an order PostgreSQL does not
// promise, on one snapshot, none seeing another's effects: harmless for writes of different
// tables, which is why two statements of one table (whose rows would take their sequence
// numbers out of order) are never combined. A multi-row INSERT still numbers its rows in the
// order of its VALUES. On SQLite, in process, each runs on its own.
func ExecAll(ctx context.Context, tx *sql.Tx, engine Engine, stmts ...Statement) error {
	for len(stmts) > 0 {
		n, args := 1, len(stmts[0].Args)
		if engine == Postgres {
			for n < len(stmts) && n < maxCombined && args+len(stmts[n].Args) <= maxCombinedArgs &&
				!writes(stmts[:n], stmts[n].Table) {
				args += len(stmts[n].Args)
				n++
			}
		}
		var err error
		if n == 1 {
			_, err = tx.ExecContext(ctx, stmts[0].Query, stmts[0].Args...)
		} else {
			query, all := combine(stmts[:n], args)
			_, err = tx.ExecContext(ctx, query, all...)
		}
		if err != nil {
			return err
		}
		stmts = stmts[n:]
	}
	return nil
}

// writes reports whether one of stmts writes table; a statement of no declared table writes
// them all.
func writes(stmts []Statement, table string) bool {
	for _, s := range stmts {
		if table == "" || s.Table == "" || s.Table == table {
			return true
		}
	}
	return false
}

// combined caches the text of combined statements, by the texts and argument counts of their
// parts; a service has a few dozen. Past maxCached entries (parts whose text varies) the text
// is built each time.
var (
	combined       sync.Map
	combinedCached atomic.Int64
)

const maxCached = 1024

// combine returns stmts as one statement with its arguments: the last one's text preceded by a
// WITH clause for each of the others, their placeholders numbered on from the previous ones'.
func combine(stmts []Statement, nargs int) (string, []any) {
	var key strings.Builder
	for _, s := range stmts {
		key.WriteString(s.Query)
		key.WriteByte(0)
		key.WriteString(strconv.Itoa(len(s.Args)))
		key.WriteByte(0)
	}
	args := make([]any, 0, nargs)
	for _, s := range stmts {
		args = append(args, s.Args...)
	}
	if q, ok := combined.Load(key.String()); ok {
		return q.(string), args
	}
	var b strings.Builder
	offset := 0
	for i, s := range stmts {
		switch {
		case i == 0:
			b.WriteString("WITH ")
		case i < len(stmts)-1:
			b.WriteString(", ")
		}
		if i < len(stmts)-1 {
			b.WriteString("w" + strconv.Itoa(i+1) + " AS (")
			renumber(&b, s.Query, offset)
			b.WriteString(")")
		} else {
			b.WriteString(" ")
			renumber(&b, s.Query, offset)
		}
		offset += len(s.Args)
	}
	q := b.String()
	if combinedCached.Add(1) <= maxCached {
		combined.Store(key.String(), q)
	}
	return q, args
}

// renumber writes q to b with each placeholder $N as $(N+offset).
func renumber(b *strings.Builder, q string, offset int) {
	for i := 0; i < len(q); i++ {
		if q[i] != '$' || i+1 == len(q) || !isDigit(q[i+1]) {
			b.WriteByte(q[i])
			continue
		}
		j := i + 1
		for j < len(q) && isDigit(q[j]) {
			j++
		}
		n, _ := strconv.Atoi(q[i+1 : j])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n + offset))
		i = j - 1
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Inserts builds the multi-row INSERTs of one table: n rows go in statements of 2^k rows, for k
// up to 7, those of n's binary digits (128 rows in one statement, 20 in two), so that a
// connection's statement cache holds eight of its texts whatever the batches. At the outbox's ten
// values a row, 128 rows stay far below the 32,766 parameters of SQLite and the 65,535 of
// PostgreSQL; $N placeholders work on both.
type Inserts struct {
	table string
	width int
	sql   [insertShiftMax + 1]string
}

const insertShiftMax = 7

// NewInserts returns the inserts into table of rows of width values, one for each of columns
// (a parenthesised, comma-separated list).
func NewInserts(table, columns string, width int) *Inserts {
	in := &Inserts{table: table, width: width}
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " " + columns + " VALUES ")
	for n := 1; n <= 1<<insertShiftMax; n++ {
		if n > 1 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range width {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$" + strconv.Itoa((n-1)*width+c+1))
		}
		b.WriteByte(')')
		if n&(n-1) == 0 {
			in.sql[bits.TrailingZeros(uint(n))] = b.String()
		}
	}
	return in
}

// Statements returns the statements that insert n rows in their order: each statement's rows take
// their sequence numbers in the order of its VALUES, and the statements run in order, largest
// first. row appends the values of row i to args.
func (in *Inserts) Statements(n int, row func(args []any, i int) ([]any, error)) ([]Statement, error) {
	var out []Statement
	for i := 0; i < n; {
		k := min(bits.Len(uint(n-i))-1, insertShiftMax)
		args := make([]any, 0, in.width<<k)
		for end := i + 1<<k; i < end; i++ {
			var err error
			if args, err = row(args, i); err != nil {
				return nil, err
			}
		}
		out = append(out, Statement{Table: in.table, Query: in.sql[k], Args: args})
	}
	return out, nil
}
