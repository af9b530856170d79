package talent_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/talent"
)

// env is a running talent service with its peer, a budget service, and clients of both calling
// with every scope.
type env struct {
	*testkit.Service
	client talentv1.TalentServiceClient
	budget budgetv1.BudgetServiceClient
	db     *sqldb.DB
}

// start runs a budget service and the talent service calling it, each on a database of db's
// engine, with opts for the talent service.
func start(t *testing.T, db testenv.Database, opts ...func(*host.Options)) *env {
	t.Helper()
	b := testkit.Start(t, testenv.Another(t, db), budget.Service())
	s := testkit.Start(t, db, talent.Service(), testkit.WithHostOptions(func(o *host.Options) {
		o.Peers = map[string]string{"budget": b.Addr}
		for _, opt := range opts {
			opt(o)
		}
	}))
	return &env{Service: s, client: talentv1.NewTalentServiceClient(s.Conn),
		budget: budgetv1.NewBudgetServiceClient(b.Conn), db: s.DB(t)}
}

// as returns a client of the talent service calling as subject with scopes.
func (e *env) as(t *testing.T, subject string, scopes ...string) talentv1.TalentServiceClient {
	return talentv1.NewTalentServiceClient(e.ConnAs(t, subject, scopes...))
}

// events returns the payloads of the events about resource whose subject ends with suffix
// (".person.joined"), oldest first, decoded with newM.
func events[M proto.Message](t *testing.T, db *sqldb.DB, suffix, resource string, newM func() M) []M {
	t.Helper()
	var out []M
	for _, payload := range testkit.Column[[]byte](t, db,
		`SELECT payload FROM outbox WHERE subject LIKE $1 AND resource_name = $2 ORDER BY seq`, "%"+suffix, resource) {
		m := newM()
		if err := protojson.Unmarshal(payload, m); err != nil {
			t.Fatalf("event %s: %v", suffix, err)
		}
		out = append(out, m)
	}
	return out
}

// TestSkeletonServes starts the service on every engine: it is migrated, and authorizes and
// validates calls through the real interceptors.
func TestSkeletonServes(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		for _, table := range []string{"teams", "people"} {
			if n := testkit.Column[int](t, e.db, `SELECT COUNT(*) FROM `+table)[0]; n != 0 {
				t.Errorf("%s has %d rows, want 0", table, n)
			}
		}
		_, err := e.client.GetTeam(ctx, &talentv1.GetTeamRequest{Name: "teams/nobody"})
		e.AssertStatus(t, err, codes.NotFound, "TEAM_NOT_FOUND")
		_, err = e.client.GetTeam(ctx, &talentv1.GetTeamRequest{Name: "teams/Not_An_ID"})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "name")
		reader := e.as(t, "apiKeys/reader", "talent.read")
		_, err = reader.CreateTeam(ctx, &talentv1.CreateTeamRequest{Team: &talentv1.Team{DisplayName: "x"}})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("CreateTeam with talent.read only = %v; want PERMISSION_DENIED", err)
		}
		writer := e.as(t, "apiKeys/writer", "talent.read", "talent.write")
		_, err = writer.ApprovePosition(ctx, &talentv1.ApprovePositionRequest{Name: "positions/p1"})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("ApprovePosition without talent.approve = %v; want PERMISSION_DENIED", err)
		}
	})
}

func TestTeams(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		eng, err := e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: "engineering",
			Team: &talentv1.Team{DisplayName: " Engineering ", Description: "All of it"}})
		if err != nil {
			t.Fatal(err)
		}
		if eng.GetName() != "teams/engineering" || eng.GetDisplayName() != "Engineering" || eng.GetEtag() == "" ||
			eng.GetCreateTime() == nil || eng.GetParent() != "" {
			t.Errorf("created %v", eng)
		}
		platform, err := e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: "platform",
			Team: &talentv1.Team{DisplayName: "Platform", Parent: eng.GetName()}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.client.GetTeam(ctx, &talentv1.GetTeamRequest{Name: "teams/platform"})
		if err != nil || !proto.Equal(got, platform) {
			t.Errorf("GetTeam = %v, %v; want %v", got, err, platform)
		}

		// Bad input: a missing display name, a parent that does not exist, a taken ID, a manager
		// who is nobody.
		_, err = e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{Team: &talentv1.Team{DisplayName: "  "}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "team.display_name")
		_, err = e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{Team: &talentv1.Team{DisplayName: "Orphan", Parent: "teams/none"}})
		e.AssertStatus(t, err, codes.InvalidArgument, "PARENT_NOT_FOUND", "team.parent")
		_, err = e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: "platform", Team: &talentv1.Team{DisplayName: "Again"}})
		e.AssertStatus(t, err, codes.AlreadyExists, "TEAM_ALREADY_EXISTS")
		_, err = e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{Team: &talentv1.Team{DisplayName: "Led", Manager: "people/nobody"}})
		e.AssertStatus(t, err, codes.InvalidArgument, "MANAGER_NOT_FOUND", "team.manager")

		// Lists filter by parent; roots have none.
		list, err := e.client.ListTeams(ctx, &talentv1.ListTeamsRequest{Filter: `parent = "teams/engineering"`})
		if err != nil || len(list.GetTeams()) != 1 || list.GetTeams()[0].GetName() != "teams/platform" {
			t.Errorf("children of engineering = %v, %v", list, err)
		}
		list, err = e.client.ListTeams(ctx, &talentv1.ListTeamsRequest{Filter: `parent = null`, OrderBy: "display_name desc"})
		if err != nil || len(list.GetTeams()) != 1 || list.GetTeams()[0].GetName() != "teams/engineering" {
			t.Errorf("roots = %v, %v", list, err)
		}

		// Moving engineering under platform would close a cycle.
		_, err = e.client.UpdateTeam(ctx, &talentv1.UpdateTeamRequest{Team: &talentv1.Team{Name: eng.GetName(), Parent: platform.GetName()}})
		e.AssertStatus(t, err, codes.InvalidArgument, "PARENT_CYCLE", "team.parent")
		// An update with a stale etag is ABORTED; with the current one it applies and is recorded.
		upd, err := e.client.UpdateTeam(ctx, &talentv1.UpdateTeamRequest{Team: &talentv1.Team{Name: platform.GetName(),
			DisplayName: "Platform engineering", Etag: platform.GetEtag()}})
		if err != nil || upd.GetDisplayName() != "Platform engineering" || upd.GetEtag() == platform.GetEtag() {
			t.Fatalf("update = %v, %v", upd, err)
		}
		_, err = e.client.UpdateTeam(ctx, &talentv1.UpdateTeamRequest{Team: &talentv1.Team{Name: platform.GetName(),
			DisplayName: "Stale", Etag: platform.GetEtag()}})
		e.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		updated := events(t, e.db, ".team.updated", "teams/platform", func() *talentv1.TeamUpdated { return new(talentv1.TeamUpdated) })
		if len(updated) != 1 || updated[0].GetVersion() != 2 || len(updated[0].GetChangedFields().GetPaths()) != 1 ||
			updated[0].GetChangedFields().GetPaths()[0] != "display_name" {
			t.Errorf("team.updated events = %v", updated)
		}

		// A team with a child cannot be deleted; the child can, then the parent.
		_, err = e.client.DeleteTeam(ctx, &talentv1.DeleteTeamRequest{Name: eng.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "TEAM_NOT_EMPTY")
		if _, err := e.client.DeleteTeam(ctx, &talentv1.DeleteTeamRequest{Name: platform.GetName()}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.DeleteTeam(ctx, &talentv1.DeleteTeamRequest{Name: eng.GetName(), Etag: eng.GetEtag()}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.GetTeam(ctx, &talentv1.GetTeamRequest{Name: eng.GetName()})
		e.AssertStatus(t, err, codes.NotFound, "TEAM_NOT_FOUND")
		if n := len(events(t, e.db, ".team.deleted", "teams/engineering", func() *talentv1.TeamDeleted { return new(talentv1.TeamDeleted) })); n != 1 {
			t.Errorf("%d team.deleted events for engineering, want 1", n)
		}
	})
}

// TestTeamCostCenterIsCheckedWithBudget: a team's cost centre must be one budget knows and keeps
// active; budget is asked for the caller.
func TestTeamCostCenterIsCheckedWithBudget(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		cc, err := e.budget.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenterId: "it-eng",
			CostCenter: &budgetv1.CostCenter{DisplayName: "IT engineering", Code: "CC-200"}})
		if err != nil {
			t.Fatal(err)
		}
		inactive := false
		old, err := e.budget.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenterId: "it-old",
			CostCenter: &budgetv1.CostCenter{DisplayName: "Closed", Code: "CC-999", Active: &inactive}})
		if err != nil {
			t.Fatal(err)
		}
		team, err := e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: "platform",
			Team: &talentv1.Team{DisplayName: "Platform", CostCenter: cc.GetName()}})
		if err != nil || team.GetCostCenter() != "costCenters/it-eng" {
			t.Fatalf("create with a cost centre = %v, %v", team, err)
		}
		_, err = e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{Team: &talentv1.Team{DisplayName: "Ghost", CostCenter: "costCenters/none"}})
		e.AssertStatus(t, err, codes.InvalidArgument, "COST_CENTER_NOT_FOUND", "team.cost_center")
		_, err = e.client.UpdateTeam(ctx, &talentv1.UpdateTeamRequest{Team: &talentv1.Team{Name: team.GetName(), CostCenter: old.GetName()}})
		e.AssertStatus(t, err, codes.InvalidArgument, "COST_CENTER_INACTIVE", "team.cost_center")
		// Budget answers for the caller: one who may not read budget cannot name a cost centre.
		noBudget := e.as(t, "apiKeys/talent-only", "talent.read", "talent.write")
		_, err = noBudget.CreateTeam(ctx, &talentv1.CreateTeamRequest{Team: &talentv1.Team{DisplayName: "Sneaky", CostCenter: cc.GetName()}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "PEER_REFUSED")
		// Without a cost centre, budget is not asked at all.
		if _, err := noBudget.CreateTeam(ctx, &talentv1.CreateTeamRequest{Team: &talentv1.Team{DisplayName: "Plain"}}); err != nil {
			t.Error(err)
		}
	})
}
