package audit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// open opens d with the audit tables for the test.
func open(t testing.TB, d testenv.Database) *sqldb.DB {
	t.Helper()
	return testkit.Open(t, d, audit.Migrations)
}

func entry(i int) audit.Entry {
	return audit.Entry{
		Actor: fmt.Sprintf("users/u%d@example.com", i%2), Method: "/quarterdeck.test.v1.TestService/UpdateThing",
		Resource: fmt.Sprintf("things/t%d", i%3), Action: audit.Update, RequestID: fmt.Sprintf("req-%d", i),
		TraceID: "0af7651916cd43dd8448eb211c80319c",
		Changes: []audit.Change{
			{Path: "display_name", Before: structpb.NewStringValue("old"), After: structpb.NewStringValue(fmt.Sprint("new ", i))},
			{Path: "limits", After: structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{
				structpb.NewNumberValue(1.5), structpb.NewNullValue(), structpb.NewBoolValue(true),
				structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
					"b": structpb.NewStringValue("x"), "a": structpb.NewNumberValue(-0.1)}}),
			}})},
			{Path: "note", Before: structpb.NewNullValue()},
		},
	}
}

// appendUnsealed appends n records, each in a transaction of its own, and returns what Append
// returned: their content, unsealed.
func appendUnsealed(t *testing.T, db *sqldb.DB, n int) []audit.Record {
	t.Helper()
	ctx := context.Background()
	var out []audit.Record
	for i := range n {
		var r audit.Record
		err := db.InTx(ctx, func(tx *sql.Tx) (err error) {
			r, err = audit.Append(ctx, tx, db.Engine(), entry(i))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.Sequence != 0 || r.Hash != "" || r.PreviousHash != "" {
			t.Fatalf("Append returned a sealed record: %+v", r)
		}
		out = append(out, r)
	}
	return out
}

// appendN appends n records, seals them, and returns the whole sealed chain.
func appendN(t *testing.T, db *sqldb.DB, n int) []audit.Record {
	t.Helper()
	appendUnsealed(t, db, n)
	if got, err := audit.SealPending(context.Background(), db); err != nil || got != n {
		t.Fatalf("SealPending sealed %d, %v; want %d", got, err, n)
	}
	rs, err := audit.NewStore(db).List(context.Background(), audit.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestAppendAndList(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := open(t, d)
		ctx := context.Background()
		appended := appendUnsealed(t, db, 5)
		store := audit.NewStore(db)
		// Unsealed records are not listed.
		if got, err := store.List(ctx, audit.Query{Limit: 100}); err != nil || len(got) != 0 {
			t.Fatalf("before sealing: listed %v, %v", got, err)
		}
		if n, err := audit.SealPending(ctx, db); err != nil || n != 5 {
			t.Fatalf("SealPending = %d, %v", n, err)
		}
		got, err := store.List(ctx, audit.Query{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 {
			t.Fatalf("listed %d records, want 5", len(got))
		}
		for i, r := range got {
			if r.Sequence != int64(i+1) {
				t.Errorf("record %d has sequence %d", i, r.Sequence)
			}
			want := appended[i]
			if !r.CreateTime.Equal(want.CreateTime) || r.Resource != want.Resource ||
				r.CreateTime.Location() != time.UTC || r.Actor != want.Actor || r.RequestID != want.RequestID {
				t.Errorf("record %d read back as %+v, appended %+v", i+1, r, want)
			}
			if i > 0 && r.PreviousHash != got[i-1].Hash {
				t.Errorf("record %d does not link to record %d", r.Sequence, i)
			}
			if audit.Hash(r) != r.Hash {
				t.Errorf("record %d read back does not hash to its hash", r.Sequence)
			}
			if len(r.Changes) != 3 || !proto.Equal(r.Changes[1].After, want.Changes[1].After) ||
				r.Changes[2].After != nil || r.Changes[2].Before.GetKind() == nil {
				t.Errorf("record %d changes read back as %v", r.Sequence, r.Changes)
			}
		}
		if got[0].PreviousHash != "" {
			t.Errorf("first record's previous_hash = %q", got[0].PreviousHash)
		}

		page, err := store.List(ctx, audit.Query{AfterSequence: 2, Limit: 2})
		if err != nil || len(page) != 2 || page[0].Sequence != 3 || page[1].Sequence != 4 {
			t.Errorf("page after 2 = %v, %v", page, err)
		}
		byResource, err := store.List(ctx, audit.Query{Resource: "things/t1", Actor: "users/u0@example.com", Limit: 10})
		if err != nil || len(byResource) != 1 || byResource[0].Sequence != 5 {
			t.Errorf("by resource and actor = %v, %v", byResource, err)
		}
		inTime, err := store.List(ctx, audit.Query{From: got[1].CreateTime, Until: got[3].CreateTime.Add(time.Microsecond), Limit: 10})
		if err != nil || len(inTime) < 3 || inTime[0].Sequence != 2 {
			t.Errorf("by time = %v, %v", inTime, err)
		}
		// A compiled filter combines with the other conditions and the keyset.
		where, args, err := filter.Compile(`resource = "things/t1" OR actor = "users/u0@example.com"`, audit.RecordSchema, 1)
		if err != nil {
			t.Fatal(err)
		}
		var filtered []int64
		for after := int64(0); ; {
			page, err := store.List(ctx, audit.Query{Where: where, Args: args, Action: audit.Update, AfterSequence: after, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			after = page[0].Sequence
			filtered = append(filtered, after)
		}
		var want []int64
		for _, r := range got {
			if (r.Resource == "things/t1" || r.Actor == "users/u0@example.com") && r.Action == audit.Update {
				want = append(want, r.Sequence)
			}
		}
		if len(want) == 0 || fmt.Sprint(filtered) != fmt.Sprint(want) {
			t.Errorf("filtered pages = %v, want %v", filtered, want)
		}
		none, err := store.List(ctx, audit.Query{From: got[4].CreateTime.Add(time.Second), Limit: 10})
		if err != nil || len(none) != 0 {
			t.Errorf("after the last record = %v, %v", none, err)
		}
	})
}

// A transaction that changes several resources appends one record per resource.
func TestAppendsInOneTransaction(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := open(t, d)
		ctx := context.Background()
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			for i := range 3 {
				if _, err := audit.Append(ctx, tx, db.Engine(), entry(i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := audit.SealPending(ctx, db); err != nil || n != 3 {
			t.Fatalf("SealPending = %d, %v", n, err)
		}
		rs, err := audit.NewStore(db).List(ctx, audit.Query{Limit: 10})
		if err != nil || len(rs) != 3 {
			t.Fatalf("records = %+v, %v", rs, err)
		}
		for i, r := range rs {
			// Appended in one transaction, sealed in the order of the appends.
			if r.Sequence != int64(i+1) || r.RequestID != entry(i).RequestID || i > 0 && r.PreviousHash != rs[i-1].Hash {
				t.Fatalf("record %d = %+v", i+1, r)
			}
		}
		if v, err := audit.NewStore(db).Verify(ctx); err != nil || !v.Valid || v.Checked != 3 {
			t.Fatalf("verify = %+v, %v", v, err)
		}
	})
}

func TestRolledBackAppendLeavesNoTrace(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := open(t, d)
		boom := errors.New("the change failed")
		err := db.InTx(context.Background(), func(tx *sql.Tx) error {
			if _, err := audit.Append(context.Background(), tx, db.Engine(), entry(0)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if n, _, err := audit.Unsealed(context.Background(), db); err != nil || n != 0 {
			t.Fatalf("after a rollback: %d unsealed records, %v", n, err)
		}
		rs := appendN(t, db, 1)
		if rs[0].Sequence != 1 || rs[0].PreviousHash != "" {
			t.Fatalf("after a rollback the next record is %d after %q", rs[0].Sequence, rs[0].PreviousHash)
		}
		v, err := audit.NewStore(db).Verify(context.Background())
		if err != nil || !v.Valid || v.Checked != 1 {
			t.Fatalf("verify = %+v, %v", v, err)
		}
	})
}

func TestVerifyFindsTheFirstBrokenLink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper []string // SQL run against a chain of 6 records
		broken int64
	}{
		{"intact", nil, 0},
		{"field edited", []string{`UPDATE audit_records SET actor = 'users/mallory' WHERE sequence = 3`}, 3},
		{"change edited", []string{`UPDATE audit_records SET changes = REPLACE(changes, 'new 3', 'new 9') WHERE sequence = 4`}, 4},
		{"time edited", []string{`UPDATE audit_records SET create_time = (SELECT create_time FROM audit_records WHERE sequence = 1) WHERE sequence = 5`}, 5},
		{"hash edited", []string{`UPDATE audit_records SET hash = previous_hash WHERE sequence = 2`}, 2},
		{"record deleted", []string{`DELETE FROM audit_records WHERE sequence = 2`}, 2},
		{"first record deleted", []string{`DELETE FROM audit_records WHERE sequence = 1`}, 1},
		{"last record deleted", []string{`DELETE FROM audit_records WHERE sequence = 6`}, 6},
		{"records swapped", []string{
			`UPDATE audit_records SET sequence = -3 WHERE sequence = 3`,
			`UPDATE audit_records SET sequence = 3 WHERE sequence = 4`,
			`UPDATE audit_records SET sequence = 4 WHERE sequence = -3`,
		}, 3},
		{"changes unreadable", []string{`UPDATE audit_records SET changes = 'not json' WHERE sequence = 6`}, 6},
	}
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				db := open(t, separate(t, d))
				appendN(t, db, 6)
				for _, q := range tt.tamper {
					if _, err := db.ExecContext(context.Background(), q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				v, err := audit.NewStore(db).Verify(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if v.FirstBroken != tt.broken || v.Valid != (tt.broken == 0) {
					t.Fatalf("verify = %+v, want first broken %d", v, tt.broken)
				}
				if tt.broken == 0 && v.Checked != 6 || tt.broken != 0 && (v.Checked != tt.broken-1 || v.Reason == "") {
					t.Fatalf("verify = %+v", v)
				}
			})
		}
	})
}

// A record re-hashed after an edit verifies on its own; its successor's link does not.
func TestVerifyFindsARehashedRecordThroughItsSuccessor(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := open(t, d)
		rs := appendN(t, db, 4)
		forged := rs[1]
		forged.Actor = "users/mallory"
		forged.Hash = audit.Hash(forged)
		if _, err := db.ExecContext(context.Background(), `UPDATE audit_records SET actor = $1, hash = $2 WHERE sequence = 2`,
			forged.Actor, forged.Hash); err != nil {
			t.Fatal(err)
		}
		v, err := audit.NewStore(db).Verify(context.Background())
		if err != nil || v.FirstBroken != 3 || v.Checked != 2 {
			t.Fatalf("verify = %+v, %v; want record 3 broken", v, err)
		}
	})
}

func TestConcurrentAppendsFormOneChain(t *testing.T) {
	t.Parallel()
	const writers = 50
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := open(t, d)
		ctx := context.Background()
		sealer := runSealer(t, db, audit.SealerOptions{})
		testkit.Concurrently(t, writers, func(i int) error {
			return db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := audit.Append(ctx, tx, db.Engine(), entry(i))
				return err
			})
		})
		flush(t, sealer)
		verifyAll(t, db, writers)
		wantDense(t, db, writers)
	})
}

// separate returns a database of the same engine as d but of its own, for subtests that each
// need a fresh chain.
func separate(t *testing.T, d testenv.Database) testenv.Database {
	if d.Engine == testenv.EnginePostgres {
		return testenv.Postgres(t)
	}
	return testenv.SQLite(t)
}
