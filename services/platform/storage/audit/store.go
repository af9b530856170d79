package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

const (
	selectHead    = `SELECT sequence, hash FROM audit_chain WHERE id = 1`
	recordColumns = `sequence, actor, method, resource, action, request_id, trace_id, create_time, changes,
		previous_hash, hash`
)

// Work is the kind of work (sqldb.Left) a transaction that appended records leaves for the
// Sealer; the host wakes the sealer after such commits (sqldb.DB.AfterCommitOf).
const Work = "audit"

// Append adds e to the trail within tx, which the caller commits together with the change e
// describes and its outbox row. It only inserts the record's content, unsealed: it takes no lock,
// so concurrent transactions do not queue behind each other. The Sealer gives the record its
// sequence and hashes after the commit (see sealer.go); until then lists and the verifier do
// not show it. Call it after the change's own writes, which lock the resource's row: that lock
// is what keeps the records of one resource in the order of its changes (docs/audit.md).
//
// The returned record has its content and create_time (now, UTC, microsecond precision) but no
// Sequence, PreviousHash or Hash yet. engine is kept for the stores that pass it.
func Append(ctx context.Context, tx *sql.Tx, engine sqldb.Engine, e Entry) (Record, error) {
	_ = engine // both engines insert the same row
	sqldb.Left(tx, Work)
	r := Stamp(e)
	stmts, err := Statements(r)
	if err != nil {
		return Record{}, err
	}
	if _, err := tx.ExecContext(ctx, stmts[0].Query, stmts[0].Args...); err != nil {
		return Record{}, fmt.Errorf("audit record of %s: %w", r.Resource, err)
	}
	return r, nil
}

// Stamp returns e as Append would insert it now: its content and create_time (now, UTC,
// microsecond precision), unsealed.
func Stamp(e Entry) Record {
	return Record{Entry: e, CreateTime: time.Now().UTC().Truncate(time.Microsecond)}
}

// Statements returns the statements that insert records (made by Stamp) into the trail, in their
// order, for a caller that runs them with the rest of its transaction's writes (sqldb.ExecAll);
// that caller notes the work (sqldb.Left).
func Statements(records ...Record) ([]sqldb.Statement, error) {
	return inserts.Statements(len(records), func(args []any, i int) ([]any, error) {
		r := records[i]
		changes, err := encodeChanges(r.Changes)
		if err != nil {
			return nil, fmt.Errorf("audit record of %s: %w", r.Resource, err)
		}
		return append(args, r.Actor, r.Method, r.Resource, r.Action, r.RequestID, r.TraceID, r.CreateTime, changes), nil
	})
}

// inserts writes the trail's records, up to 128 in one statement.
var inserts = sqldb.NewInserts("audit_records",
	"(actor, method, resource, action, request_id, trace_id, create_time, changes)", 8)

// storedChange is a Change as stored in the changes column, a JSON array: values in their
// protojson form, an absent value as an absent key.
type storedChange struct {
	Path   string          `json:"path"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

func encodeChanges(cs []Change) (string, error) {
	out := make([]storedChange, 0, len(cs))
	for _, c := range cs {
		s := storedChange{Path: c.Path}
		var err error
		if c.Before != nil {
			if s.Before, err = protojson.Marshal(c.Before); err != nil {
				return "", fmt.Errorf("encode change of %s: %w", c.Path, err)
			}
		}
		if c.After != nil {
			if s.After, err = protojson.Marshal(c.After); err != nil {
				return "", fmt.Errorf("encode change of %s: %w", c.Path, err)
			}
		}
		out = append(out, s)
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func decodeChanges(s string) ([]Change, error) {
	var stored []storedChange
	if err := json.Unmarshal([]byte(s), &stored); err != nil {
		return nil, err
	}
	var out []Change
	for _, sc := range stored {
		c := Change{Path: sc.Path}
		if sc.Before != nil {
			c.Before = &structpb.Value{}
			if err := protojson.Unmarshal(sc.Before, c.Before); err != nil {
				return nil, fmt.Errorf("%s: %w", sc.Path, err)
			}
		}
		if sc.After != nil {
			c.After = &structpb.Value{}
			if err := protojson.Unmarshal(sc.After, c.After); err != nil {
				return nil, fmt.Errorf("%s: %w", sc.Path, err)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// Store reads a service's audit trail.
type Store struct{ db *sqldb.DB }

// NewStore returns a store on db, a database migrated with Migrations.
func NewStore(db *sqldb.DB) *Store { return &Store{db: db} }

// RecordSchema maps the fields of an AuditRecord that a ListAuditRecords filter may name to the
// columns of audit_records, for filter.Compile.
//
// create_time compares correctly on both engines: PostgreSQL stores a TIMESTAMPTZ, and on SQLite
// the driver writes every time.Time, the stored ones (see Append) and the filter's bound values
// alike, as text in one layout in UTC ("2006-01-02 15:04:05.999999999+00:00", fraction without
// trailing zeros), whose text order is time order.
var RecordSchema = filter.Schema{
	"resource":    {Column: "resource", Type: filter.String},
	"actor":       {Column: "actor", Type: filter.String},
	"method":      {Column: "method", Type: filter.String},
	"action":      {Column: "action", Type: filter.String},
	"request_id":  {Column: "request_id", Type: filter.String},
	"create_time": {Column: "create_time", Type: filter.Timestamp},
}

// Query selects records. Zero fields select everything; set fields must all match.
type Query struct {
	// Where is a condition on the columns of audit_records, as filter.Compile returns it for
	// RecordSchema with its placeholders numbered from $1; Args are its arguments.
	Where string
	Args  []any
	// Resource, Actor, Method, Action and RequestID, when set, select the records with exactly
	// that value.
	Resource  string
	Actor     string
	Method    string
	Action    string
	RequestID string
	// From and Until bound create_time: From <= create_time < Until.
	From, Until time.Time
	// AfterSequence starts the page after this sequence (keyset pagination).
	AfterSequence int64
	// Limit is the number of records to return at most.
	Limit int
}

// List returns the sealed records q selects, by ascending sequence.
func (s *Store) List(ctx context.Context, q Query) ([]Record, error) {
	// Every condition is a fixed string with a placeholder; values travel as parameters.
	var where []string
	args := append([]any(nil), q.Args...)
	if q.Where != "" {
		where = append(where, "("+q.Where+")")
	}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	// Unsealed rows have no sequence yet, so the keyset condition also leaves them out.
	add("sequence >", q.AfterSequence)
	for _, c := range []struct {
		column, value string
	}{{"resource", q.Resource}, {"actor", q.Actor}, {"method", q.Method}, {"action", q.Action}, {"request_id", q.RequestID}} {
		if c.value != "" {
			add(c.column+" =", c.value)
		}
	}
	if !q.From.IsZero() {
		add("create_time >=", q.From.UTC())
	}
	if !q.Until.IsZero() {
		add("create_time <", q.Until.UTC())
	}
	args = append(args, q.Limit)
	query := `SELECT ` + recordColumns + ` FROM audit_records WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY sequence LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit records: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, raw, err := scan(rows)
		if err != nil {
			return nil, err
		}
		if r.Changes, err = decodeChanges(raw); err != nil {
			return nil, fmt.Errorf("audit record %d: changes: %w", r.Sequence, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit records: %w", err)
	}
	return out, nil
}

// scan reads one row of recordColumns, returning the changes column undecoded.
func scan(rows *sql.Rows) (Record, string, error) {
	var (
		r   Record
		raw string
	)
	if err := rows.Scan(&r.Sequence, &r.Actor, &r.Method, &r.Resource, &r.Action, &r.RequestID, &r.TraceID,
		&r.CreateTime, &raw, &r.PreviousHash, &r.Hash); err != nil {
		return Record{}, "", fmt.Errorf("read audit record: %w", err)
	}
	r.CreateTime = r.CreateTime.UTC()
	return r, raw, nil
}

// Verification is the outcome of Verify.
type Verification struct {
	// Valid is true when every record verifies and the chain is complete.
	Valid bool
	// Checked counts the records that verified, in sequence order, before the first broken one.
	Checked int64
	// FirstBroken is the sequence of the first record that does not verify, or that is missing;
	// 0 when Valid.
	FirstBroken int64
	// Reason says why FirstBroken does not verify.
	Reason string
}

// Verify walks the chain from its first record to its head and reports the first broken link:
// a missing sequence (a deleted record, also at the end of the chain), a record whose content
// does not match its hash (an edited or moved record), or a record whose previous_hash is not
// its predecessor's hash. Records appended while it runs are not checked.
func (s *Store) Verify(ctx context.Context) (Verification, error) {
	// The head first: every record up to its sequence committed with it, so later appends
	// cannot look like a broken chain.
	var (
		headSeq  int64
		headHash string
	)
	if err := s.db.QueryRowContext(ctx, selectHead).Scan(&headSeq, &headHash); err != nil {
		return Verification{}, fmt.Errorf("audit chain head: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+recordColumns+` FROM audit_records WHERE sequence <= $1
		ORDER BY sequence`, headSeq)
	if err != nil {
		return Verification{}, fmt.Errorf("verify audit chain: %w", err)
	}
	defer rows.Close()
	v := Verification{}
	broken := func(seq int64, reason string) (Verification, error) {
		v.FirstBroken, v.Reason = seq, reason
		return v, nil
	}
	prevHash := ""
	for rows.Next() {
		r, raw, err := scan(rows)
		if err != nil {
			return Verification{}, err
		}
		want := v.Checked + 1
		if r.Sequence != want {
			return broken(want, fmt.Sprintf("record %d is missing", want))
		}
		if r.Changes, err = decodeChanges(raw); err != nil || Hash(r) != r.Hash {
			return broken(r.Sequence, "hash mismatch: the record's content does not match its hash")
		}
		if r.PreviousHash != prevHash {
			return broken(r.Sequence, fmt.Sprintf("previous_hash does not match the hash of record %d", r.Sequence-1))
		}
		prevHash = r.Hash
		v.Checked++
	}
	if err := rows.Err(); err != nil {
		return Verification{}, fmt.Errorf("verify audit chain: %w", err)
	}
	if v.Checked < headSeq {
		return broken(v.Checked+1, fmt.Sprintf("record %d is missing (the chain's head is at %d)", v.Checked+1, headSeq))
	}
	if prevHash != headHash {
		return broken(headSeq, fmt.Sprintf("the chain's head does not match the hash of record %d", headSeq))
	}
	v.Valid = true
	return v, nil
}
