// Package budget is the budget service — IT financial management: cost centres, budgets, spend
// and forecasts — packaged for the host that runs it, in its own process or inside the
// standalone binary.
package budget

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/server"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// Domain is the service's domain name.
const Domain = "budget"

// Settings are the budget service's own settings (a host.Settings), read from flags and the
// environment by the programs that run it (prefix QUARTERDECK_).
type Settings struct {
	FiscalYearStartMonth int    `env:"BUDGET_FISCAL_YEAR_START_MONTH" default:"1" help:"first calendar month (1-12) of the fiscal year of new budgets; fiscal years are named after the calendar year in which they end"`
	WritePolicy          string `env:"BUDGET_WRITE_POLICY" default:"scopes" help:"who may change a cost centre or a budget: scopes (any holder of the method's scopes) or owner (its owner principal, the members of its owner team, asked of talent, or a holder of budget.admin)"`
}

// Validate reports settings out of range.
func (s Settings) Validate() error {
	if s.FiscalYearStartMonth < 1 || s.FiscalYearStartMonth > 12 {
		return fmt.Errorf("QUARTERDECK_BUDGET_FISCAL_YEAR_START_MONTH is %d; want 1 (January) to 12 (December)", s.FiscalYearStartMonth)
	}
	_, err := ownership.ParsePolicy("QUARTERDECK_BUDGET_WRITE_POLICY", s.WritePolicy)
	return err
}

// ownershipRules declares who owns what in budget (ADR 0014): cost centres and budgets have
// owners; a budget's lines, transfers, spend and revisions are its own. Approvals and spend are
// exempt: others make them.
func ownershipRules(owners ownership.Owners) ownership.Rules {
	const approval = "an approver decides on another principal's budget (separation of duties); budget.approve guards it"
	const spend = "spend is recorded against any budget by whoever holds budget.spend — finance, and the vendors and talent services acting for their callers; the funds check and BLOCK guard it"
	return ownership.Rules{
		Service: budgetv1.File_quarterdeck_budget_v1_budget_service_proto.Services().ByName("BudgetService"),
		Owned:   []string{"costCenters", "budgets"},
		Owners:  owners,
		Unowned: map[string]string{
			"exchangeRates": "reference data of the whole platform, guarded by budget.rates",
		},
		Exempt: map[string]string{
			"ApproveBudget":     approval,
			"RejectBudget":      approval,
			"CloseBudget":       "closing the fiscal year is the approvers' (budget.approve)",
			"ApproveTransfer":   approval,
			"RejectTransfer":    approval,
			"RecordActual":      spend,
			"RecordCommitment":  spend,
			"ReleaseCommitment": spend,
			"PlaceHold":         spend,
			"ReleaseHold":       spend,
			"CheckFunds":        "a read: it changes nothing",
		},
	}
}

// Service describes the budget service with default settings to the host.
func Service() host.Service {
	return Configured(Settings{FiscalYearStartMonth: 1, WritePolicy: string(ownership.Scopes)})
}

// talentTeams asks talent, a service's peer under the owner write policy, for the caller's teams
// (GetCallerTeams), each answer kept for ownership.TeamsTTL: the members of a team that owns a
// resource write it (ADR 0014).
func talentTeams(talent *peer.Conn) ownership.Teams {
	return ownership.CachedTeams(func(ctx context.Context, _ string) ([]string, error) {
		out, err := talentv1.NewTalentServiceClient(talent).GetCallerTeams(ctx, &talentv1.GetCallerTeamsRequest{})
		return out.GetTeams(), err
	}, ownership.TeamsTTL, time.Now)
}

// Configured describes the budget service with cfg, which must be valid, to the host. The
// service reads the time from the host's clock (host.Options.Clock); tests pass server options,
// such as a fixed clock of the server's own. Under the owner write policy it calls talent, its
// peer then, for the members of the teams that own cost centres and budgets.
func Configured(cfg Settings, opts ...server.Option) host.Service {
	policy, _ := ownership.ParsePolicy("", cfg.WritePolicy)
	var peers []string
	if policy == ownership.Owner {
		peers = []string{"talent"}
	}
	newServer := func(deps host.Deps) *server.Server {
		o := []server.Option{server.WithFiscalYearStart(time.Month(cfg.FiscalYearStartMonth))}
		if deps.Clock != nil {
			o = append(o, server.WithClock(deps.Clock.Now))
		}
		if deps.Logger != nil {
			o = append(o, server.WithLogger(deps.Logger))
		}
		return server.New(store.New(deps.DB, deps.Events), append(o, opts...)...)
	}
	return host.Service{
		Domain:     Domain,
		Migrations: store.Migrations.For,
		Names:      []string{budgetv1.BudgetService_ServiceDesc.ServiceName},
		Peers:      peers,
		Settings:   cfg,
		Ownership: func(deps host.Deps) (ownership.Policy, []ownership.Rules) {
			// The server is built at the first look-up: the rules are also read without a
			// database, to list the methods they check.
			srv := sync.OnceValue(func() *server.Server { return newServer(deps) })
			rules := ownershipRules(func(ctx context.Context, name string) ([]string, error) {
				return srv().Owners(ctx, name)
			})
			if policy == ownership.Owner {
				rules.Teams = talentTeams(deps.Peers["talent"])
			}
			return policy, []ownership.Rules{rules}
		},
		Register: func(r grpc.ServiceRegistrar, deps host.Deps) error {
			budgetv1.RegisterBudgetServiceServer(r, newServer(deps))
			return nil
		},
		// The vendors service's contract and invoice events, applied to the contracts' budget
		// lines (ADR 0010; server.ApplyVendorsEvent), and the risk service's incident costs.
		Consumers: func(deps host.Deps) []consumer.Spec {
			srv, db := newServer(deps), sqlstore.New(deps.DB, deps.Events)
			apply := func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
				return db.Join(ctx, tx, func(ctx context.Context, t *sqlstore.Tx) error { return srv.ApplyVendorsEvent(ctx, store.Join(t), ev) })
			}
			specs := make([]consumer.Spec, 0, len(server.VendorsConsumers)+len(server.TalentConsumers)+1)
			for _, c := range server.VendorsConsumers {
				specs = append(specs, consumer.Spec{Name: c.Name, Domain: "vendors", Subjects: []string{c.Subject}, Handler: apply,
					Partitions: c.Partitions, PartitionKey: c.PartitionKey, Ignore: c.Ignore})
			}
			// The talent service's position events, applied to the positions' labour lines
			// (ADR 0013; server.ApplyTalentEvent).
			for _, c := range server.TalentConsumers {
				specs = append(specs, consumer.Spec{Name: c.Name, Domain: "talent", Subjects: []string{c.Subject},
					Handler: func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
						return db.Join(ctx, tx, func(ctx context.Context, t *sqlstore.Tx) error { return srv.ApplyTalentEvent(ctx, store.Join(t), ev) })
					}})
			}
			// The risk service's incident costs, recorded as actuals (server.ApplyIncidentEvent).
			ic := server.IncidentsConsumer
			return append(specs, consumer.Spec{Name: ic.Name, Domain: ic.Domain, Subjects: []string{ic.Subject},
				Handler: func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
					return db.Join(ctx, tx, func(ctx context.Context, t *sqlstore.Tx) error { return srv.ApplyIncidentEvent(ctx, store.Join(t), ev) })
				}})
		},
		// The daily forecast evaluation of every approved budget (server.CheckForecast) and the
		// expiry of holds (server.ExpireHold).
		Schedules: func(deps host.Deps) map[string]scheduler.Handler {
			s := newServer(deps)
			return map[string]scheduler.Handler{
				store.ForecastCheckKind: s.CheckForecast,
				store.HoldExpiryKind:    s.ExpireHold,
			}
		},
	}
}
