package sqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// thingStore, thingTx and thingReader are a service's store in miniature, put together as
// Store's documentation says.
type thingStore struct {
	sqlstore.Store[thingTx]
	thingReader
}

type thingTx struct {
	*sqlstore.Tx
	thingReader
}

func joinThings(t *sqlstore.Tx) thingTx { return thingTx{Tx: t, thingReader: thingReader{t.Reads()}} }

type thingReader struct{ sqlstore.Reader }

const getThing = `SELECT id, parent, n FROM things WHERE id = $1`

func (r thingReader) GetThing(ctx context.Context, id string) (thing, error) {
	return sqlstore.Get(ctx, r.Q, "thing", errNoThing, scanThing, r.ForUpdate(getThing), id)
}

func TestStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		s := sqlstore.NewStore(db, joinThings)
		things := thingStore{Store: s, thingReader: thingReader{s.Reads()}}
		if got := things.ForUpdate(getThing); got != getThing {
			t.Errorf("outside a transaction ForUpdate = %q, want the query as it is", got)
		}
		boom := errors.New("boom")
		change := func(fail bool) error {
			return things.Within(ctx, func(ctx context.Context, tx thingTx) error {
				if tx.Tx == nil {
					t.Fatal("Within gave a transaction its join did not make")
				}
				if got, want := tx.ForUpdate(getThing), db.Dialect.ForUpdate(getThing); got != want {
					t.Errorf("in a transaction ForUpdate = %q, want the dialect's %q", got, want)
				}
				if err := sqlstore.Exec(ctx, tx, nil, `UPDATE things SET n = n + 10 WHERE id = $1`, "a"); err != nil {
					return err
				}
				// The transaction's reads see its own write: they run in it.
				if got, err := tx.GetThing(ctx, "a"); err != nil || got.N != 11 {
					t.Errorf("GetThing(a) in the transaction = %v, %v; want n 11", got, err)
				}
				if fail {
					return boom
				}
				return nil
			})
		}
		if err := change(true); !errors.Is(err, boom) {
			t.Fatalf("failed change: %v", err)
		}
		if got, err := things.GetThing(ctx, "a"); err != nil || got.N != 1 {
			t.Errorf("GetThing(a) after a rollback = %v, %v; want n 1", got, err)
		}
		if err := change(false); err != nil {
			t.Fatal(err)
		}
		if got, err := things.GetThing(ctx, "a"); err != nil || got.N != 11 {
			t.Errorf("GetThing(a) after a commit = %v, %v; want n 11", got, err)
		}
	})
}
