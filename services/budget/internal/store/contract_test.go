package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestContract runs the contract suite against SQLite always and against PostgreSQL when a
// server is available.
func TestContract(t *testing.T) {
	t.Parallel()
	for engine, database := range map[string]func(testing.TB) testenv.Database{"sqlite": testenv.SQLite, "postgres": testenv.Postgres} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			run(t, func(t *testing.T) (store.Store, *sqldb.DB) {
				db := testkit.Open(t, database(t), append(host.PlatformMigrations(), store.Migrations)...)
				events, err := outbox.NewFactory("quarterdeck", nil)
				if err != nil {
					t.Fatal(err)
				}
				return store.New(db, events), db
			})
		})
	}
}

// opener returns a fresh, empty store and the database under it.
type opener func(t *testing.T) (store.Store, *sqldb.DB)

var t0 = time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)

func newCC(t *testing.T, id, code, parent string) *domain.CostCenter {
	t.Helper()
	c, err := domain.NewCostCenter(id, domain.CostCenterFields{
		DisplayName: "Cost centre " + id, Code: code, Owner: "owner@example.com", ParentID: parent,
		Description: "for tests",
	}, t0.Add(1234567*time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func insert(t *testing.T, s store.Store, cs ...*domain.CostCenter) {
	t.Helper()
	err := s.Within(context.Background(), func(ctx context.Context, tx store.Tx) error {
		for _, c := range cs {
			if err := tx.InsertCostCenter(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
}

func insertErr(s store.Store, c *domain.CostCenter) error {
	return s.Within(context.Background(), func(ctx context.Context, tx store.Tx) error {
		return tx.InsertCostCenter(ctx, c)
	})
}

// run runs the contract suite; open is called once per case.
func run(t *testing.T, open opener) {
	ctx := context.Background()
	runBudgets(t, open)
	runRevisions(t, open)
	runDeferred(t, open)

	t.Run("insert then get returns the same cost centre", func(t *testing.T) {
		s, _ := open(t)
		c := newCC(t, "infra", "CC-100", "")
		c.Active = false
		insert(t, s, c)
		got, err := s.GetCostCenter(ctx, "infra")
		if err != nil {
			t.Fatal(err)
		}
		if *got != *c {
			t.Errorf("got  %+v\nwant %+v", got, c)
		}
		if got.CreateTime.Location() != time.UTC {
			t.Errorf("create time not UTC: %v", got.CreateTime.Location())
		}
	})

	t.Run("get of a missing cost centre is not found", func(t *testing.T) {
		s, _ := open(t)
		if _, err := s.GetCostCenter(ctx, "nope"); !errors.Is(err, domain.ErrCostCenterNotFound) {
			t.Errorf("err = %v, want ErrCostCenterNotFound", err)
		}
	})

	t.Run("duplicate ID, duplicate code and missing parent are told apart", func(t *testing.T) {
		s, _ := open(t)
		insert(t, s, newCC(t, "infra", "CC-100", ""))
		if err := insertErr(s, newCC(t, "infra", "CC-200", "")); !errors.Is(err, domain.ErrCostCenterExists) {
			t.Errorf("same ID: err = %v", err)
		}
		if err := insertErr(s, newCC(t, "other", "CC-100", "")); !errors.Is(err, domain.ErrCodeTaken) {
			t.Errorf("same code: err = %v", err)
		}
		if err := insertErr(s, newCC(t, "child", "CC-300", "ghost")); !errors.Is(err, domain.ErrParentNotFound) {
			t.Errorf("missing parent: err = %v", err)
		}
	})

	t.Run("list pages through every cost centre in ID order", func(t *testing.T) {
		s, _ := open(t)
		var want []string
		for i := range 7 {
			id := fmt.Sprintf("cc-%02d", 6-i) // inserted in reverse order
			insert(t, s, newCC(t, id, "C"+strconv.Itoa(i), ""))
			want = append(want, id)
		}
		slices.Sort(want)
		if got := listAll(t, s, &budgetv1.ListCostCentersRequest{PageSize: 3}, 3); !slices.Equal(got, want) {
			t.Errorf("ids = %v, want %v", got, want)
		}
	})

	t.Run("list filters and orders by every field of the schema", func(t *testing.T) {
		s, _ := open(t)
		// A small tree with ties in every sortable column: a and b are roots; c, d under a; e under c.
		cs := []*domain.CostCenter{
			newCC(t, "a", "CODEA", ""), newCC(t, "b", "CODEB", ""), newCC(t, "c", "CODEC", "a"),
			newCC(t, "d", "CODED", "a"), newCC(t, "e", "CODEE", "c"),
		}
		for i, c := range cs {
			c.DisplayName = []string{"network", "storage", "network", "apps", "storage"}[i]
			c.Owner = []string{"x", "y", "x", "x", "y"}[i]
			c.Active = i%2 == 0
			c.CreateTime = t0.Add(time.Duration(i/2) * time.Microsecond)
			c.UpdateTime = t0.Add(time.Duration(5-i) * time.Second)
			insert(t, s, c)
		}
		tests := []struct {
			filter, orderBy string
			want            []string
		}{
			{"", "", []string{"a", "b", "c", "d", "e"}},
			{`parent = null`, "", []string{"a", "b"}},
			{`parent = "costCenters/a"`, "", []string{"c", "d"}},
			{`parent != "costCenters/a"`, "", []string{"a", "b", "e"}},
			{`active = true`, "name desc", []string{"e", "c", "a"}},
			{`NOT active = true`, "", []string{"b", "d"}},
			{`display_name = network OR owner = "y"`, "", []string{"a", "b", "c", "e"}},
			{`code >= "CODEC"`, "code desc", []string{"e", "d", "c"}},
			{`name = "costCenters/d"`, "", []string{"d"}},
			{`create_time > "2026-01-15T08:00:00Z"`, "", []string{"c", "d", "e"}},
			{`create_time >= "2026-01-15T08:00:00.000001Z" AND create_time < "2026-01-15T08:00:00.000002Z"`, "", []string{"c", "d"}},
			{`update_time <= "2026-01-15T08:00:02Z"`, "update_time", []string{"e", "d"}},
			{`description = "for tests"`, "display_name, name desc", []string{"d", "c", "a", "e", "b"}},
			{"", "create_time desc, display_name", []string{"e", "d", "c", "a", "b"}},
			{"", "parent desc, owner", []string{"e", "c", "d", "a", "b"}},
			{"", "active, update_time desc", []string{"b", "d", "a", "c", "e"}},
		}
		for _, tt := range tests {
			for _, size := range []int32{1, 2, 50} {
				got := listAll(t, s, &budgetv1.ListCostCentersRequest{Filter: tt.filter, OrderBy: tt.orderBy, PageSize: size}, int(size))
				if !slices.Equal(got, tt.want) {
					t.Errorf("filter %q order %q size %d: %v, want %v", tt.filter, tt.orderBy, size, got, tt.want)
				}
			}
		}
	})

	t.Run("update checks the previous version and code uniqueness", func(t *testing.T) {
		s, _ := open(t)
		insert(t, s, newCC(t, "a", "A", ""), newCC(t, "b", "B", ""))
		err := s.Within(ctx, func(ctx context.Context, tx store.Tx) error {
			c, err := tx.GetCostCenter(ctx, "a")
			if err != nil {
				return err
			}
			prev := c.Version
			if _, err := c.Apply([]string{domain.FieldDisplayName}, domain.CostCenterFields{DisplayName: "Renamed"}, t0.Add(time.Hour)); err != nil {
				return err
			}
			return tx.UpdateCostCenter(ctx, c, prev)
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetCostCenter(ctx, "a")
		if got.DisplayName != "Renamed" || got.Version != 2 || !got.UpdateTime.Equal(t0.Add(time.Hour)) {
			t.Errorf("after update: %+v", got)
		}
		stale := *got
		stale.DisplayName = "Stale"
		err = s.Within(ctx, func(ctx context.Context, tx store.Tx) error { return tx.UpdateCostCenter(ctx, &stale, 1) })
		if !errors.Is(err, sqlstore.ErrConcurrentUpdate) {
			t.Errorf("stale version: err = %v", err)
		}
		clash := *got
		clash.Code, clash.Version = "B", 3
		err = s.Within(ctx, func(ctx context.Context, tx store.Tx) error { return tx.UpdateCostCenter(ctx, &clash, 2) })
		if !errors.Is(err, domain.ErrCodeTaken) {
			t.Errorf("code clash: err = %v", err)
		}
	})

	t.Run("hierarchy: ancestors, children and deletion", func(t *testing.T) {
		s, _ := open(t)
		insert(t, s, newCC(t, "division", "D", ""), newCC(t, "dept", "DE", "division"), newCC(t, "team", "T", "dept"))
		err := s.Within(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.LockHierarchy(ctx); err != nil {
				return err
			}
			anc, err := tx.Ancestors(ctx, "team")
			if err != nil {
				return err
			}
			if !slices.Equal(anc, []string{"dept", "division"}) {
				t.Errorf("ancestors(team) = %v", anc)
			}
			if anc, _ := tx.Ancestors(ctx, "division"); len(anc) != 0 {
				t.Errorf("ancestors(division) = %v", anc)
			}
			if has, err := tx.HasChildren(ctx, "dept"); err != nil || !has {
				t.Errorf("HasChildren(dept) = %v, %v", has, err)
			}
			if has, err := tx.HasChildren(ctx, "team"); err != nil || has {
				t.Errorf("HasChildren(team) = %v, %v", has, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// The foreign key refuses deleting a parent even without the HasChildren check.
		err = s.Within(ctx, func(ctx context.Context, tx store.Tx) error { return tx.DeleteCostCenter(ctx, "dept", 1) })
		if !errors.Is(err, domain.ErrHasChildren) {
			t.Errorf("delete parent: err = %v", err)
		}
		err = s.Within(ctx, func(ctx context.Context, tx store.Tx) error { return tx.DeleteCostCenter(ctx, "team", 1) })
		if err != nil {
			t.Fatalf("delete leaf: %v", err)
		}
		if _, err := s.GetCostCenter(ctx, "team"); !errors.Is(err, domain.ErrCostCenterNotFound) {
			t.Errorf("after delete: err = %v", err)
		}
		err = s.Within(ctx, func(ctx context.Context, tx store.Tx) error { return tx.DeleteCostCenter(ctx, "team", 1) })
		if !errors.Is(err, sqlstore.ErrConcurrentUpdate) {
			t.Errorf("second delete: err = %v", err)
		}
	})

	t.Run("a failed transaction leaves neither the change nor its event", func(t *testing.T) {
		s, db := open(t)
		boom := errors.New("boom")
		c := newCC(t, "infra", "CC-100", "")
		// insertWithEvent writes the cost centre and its event, as the service does.
		insertWithEvent := func(ctx context.Context, tx store.Tx) error {
			if err := tx.InsertCostCenter(ctx, c); err != nil {
				return err
			}
			return tx.Emit(ctx, c.Name(), &budgetv1.CostCenterCreated{Version: 1})
		}
		err := s.Within(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := insertWithEvent(ctx, tx); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if _, err := s.GetCostCenter(ctx, "infra"); !errors.Is(err, domain.ErrCostCenterNotFound) {
			t.Errorf("row survived rollback: %v", err)
		}
		if n, _, err := outbox.Pending(ctx, db); err != nil || n != 0 {
			t.Errorf("outbox rows after rollback = %d, %v", n, err)
		}
		// The same transaction committed leaves both.
		if err := s.Within(ctx, insertWithEvent); err != nil {
			t.Fatal(err)
		}
		if n, _, err := outbox.Pending(ctx, db); err != nil || n != 1 {
			t.Errorf("outbox rows after commit = %d, %v", n, err)
		}
	})

	t.Run("concurrent read-modify-write transactions lose no update", func(t *testing.T) {
		s, _ := open(t)
		insert(t, s, newCC(t, "infra", "CC-100", ""))
		const writers = 20
		testkit.Concurrently(t, writers, func(i int) error {
			return s.Within(ctx, func(ctx context.Context, tx store.Tx) error {
				c, err := tx.GetCostCenter(ctx, "infra")
				if err != nil {
					return err
				}
				prev := c.Version
				// Each writer appends its mark: a lost update would drop one.
				desc := c.Description + fmt.Sprintf("[%d]", i)
				if _, err := c.Apply([]string{domain.FieldDescription}, domain.CostCenterFields{Description: desc}, t0); err != nil {
					return err
				}
				return tx.UpdateCostCenter(ctx, c, prev)
			})
		})
		got, err := s.GetCostCenter(ctx, "infra")
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != writers+1 {
			t.Errorf("version = %d, want %d", got.Version, writers+1)
		}
		for i := range writers {
			if !strings.Contains(got.Description, fmt.Sprintf("[%d]", i)) {
				t.Errorf("update of writer %d lost: %q", i, got.Description)
			}
		}
	})
	t.Run("an audit record commits and rolls back with its change", func(t *testing.T) {
		s, db := open(t)
		boom := errors.New("boom")
		c := newCC(t, "infra", "CC-100", "")
		insertAudited := func(ctx context.Context, tx store.Tx) error {
			if err := tx.InsertCostCenter(ctx, c); err != nil {
				return err
			}
			return tx.Record(ctx, sqlstore.Change{Request: &budgetv1.CreateCostCenterRequest{}, Action: audit.Create, Resource: c.Name()})
		}
		err := s.Within(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := insertAudited(ctx, tx); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		records := audit.NewStore(db)
		if n, _, err := audit.Unsealed(ctx, db); err != nil || n != 0 {
			t.Errorf("unsealed audit records after rollback = %d, %v", n, err)
		}
		if rs, err := records.List(ctx, audit.Query{Limit: 10}); err != nil || len(rs) != 0 {
			t.Errorf("audit records after rollback = %v, %v", rs, err)
		}
		if err := s.Within(ctx, insertAudited); err != nil {
			t.Fatal(err)
		}
		// The record is committed unsealed; a service's sealer seals it a moment later.
		if n, err := audit.SealPending(ctx, db); err != nil || n != 1 {
			t.Fatalf("sealed %d audit records, %v; want 1", n, err)
		}
		rs, err := records.List(ctx, audit.Query{Limit: 10})
		if err != nil || len(rs) != 1 || rs[0].Sequence != 1 || rs[0].Resource != c.Name() {
			t.Errorf("audit records after commit = %v, %v", rs, err)
		}
	})
}

// runRevisions checks the numbering of a chain's revisions: the highest, whatever revision a
// new one revises.
func runRevisions(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("max revision is the chain's highest, 0 for none", func(t *testing.T) {
		s, _ := open(t)
		insert(t, s, newCC(t, "infra", "CC-100", ""))
		b, err := domain.NewBudget("infra-fy2027", "infra", 2027, time.April, "EUR",
			domain.BudgetFields{DisplayName: "Infra FY2027"}, t0)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Within(ctx, func(ctx context.Context, tx store.Tx) error {
			if n, err := tx.MaxRevision(ctx, b.ChainID); err != nil || n != 0 {
				return fmt.Errorf("max revision of no chain = %d, %v; want 0", n, err)
			}
			if err := tx.InsertChain(ctx, domain.NewChain(b)); err != nil {
				return err
			}
			if err := tx.InsertBudget(ctx, b); err != nil {
				return err
			}
			for _, rev := range []int32{3, 2} {
				r := *b
				r.ID, r.Revision, r.PreviousID = fmt.Sprintf("%s-r%d", b.ID, rev), rev, b.ID
				if err := tx.InsertBudget(ctx, &r); err != nil {
					return err
				}
			}
			if n, err := tx.MaxRevision(ctx, b.ChainID); err != nil || n != 3 {
				return fmt.Errorf("max revision = %d, %v; want 3", n, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// listAll pages through the cost centres that req selects, size at a time, as the service does.
func listAll(t *testing.T, s store.Store, req *budgetv1.ListCostCentersRequest, size int) []string {
	t.Helper()
	var ids []string
	for page := 0; ; page++ {
		q, err := listing.Plan(req, store.CostCenterTable.Resource)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := s.ListCostCenters(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) > size+1 || page > 20 {
			t.Fatalf("page %d has %d items", page, len(cs))
		}
		cs, token := listing.Page(q, cs, store.CostCenterTable.Value)
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		if token == "" {
			return ids
		}
		req = proto.CloneOf(req)
		req.PageToken = token
	}
}
