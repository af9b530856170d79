// Package talent is the talent service — workforce planning for the office of the CTO/CIO:
// teams and people, the skills taxonomy and ratings, team requirements and their coverage,
// certifications, positions and headcount plans — packaged for the host that runs it, in its own
// process or inside the standalone binary.
package talent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/server"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/store"
)

// Domain is the service's domain name.
const Domain = "talent"

// Settings are the talent service's own settings (a host.Settings), read from flags and the
// environment by the programs that run it (prefix QUARTERDECK_).
type Settings struct {
	FiscalYearStartMonth int           `env:"TALENT_FISCAL_YEAR_START_MONTH" default:"1" help:"first calendar month (1-12) of the fiscal years of headcount plans, as budget's QUARTERDECK_BUDGET_FISCAL_YEAR_START_MONTH; fiscal years are named after the calendar year in which they end"`
	HoldTTL              time.Duration `env:"TALENT_HOLD_TTL" default:"15m" help:"time to live of the budget hold a position's approval places (1m to 24h); an approval is refused when its hold would expire within a minute"`
	WritePolicy          string        `env:"TALENT_WRITE_POLICY" default:"scopes" help:"who may change a position: scopes (any holder of the method's scopes) or owner (its requester, or a holder of talent.admin); teams and people, the people function's record, are not owned"`
}

// DefaultSettings are the settings' defaults, as the programs that run the service read them
// when nothing is set.
func DefaultSettings() Settings {
	return Settings{FiscalYearStartMonth: 1, HoldTTL: 15 * time.Minute, WritePolicy: string(ownership.Scopes)}
}

// Validate reports settings out of range, all of them together.
func (s Settings) Validate() error {
	var errs []error
	if s.FiscalYearStartMonth < 1 || s.FiscalYearStartMonth > 12 {
		errs = append(errs, fmt.Errorf("QUARTERDECK_TALENT_FISCAL_YEAR_START_MONTH is %d; want 1 (January) to 12 (December)", s.FiscalYearStartMonth))
	}
	if s.HoldTTL < time.Minute || s.HoldTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("QUARTERDECK_TALENT_HOLD_TTL is %s; want 1m to 24h (budget keeps holds that long at most)", s.HoldTTL))
	}
	if _, err := ownership.ParsePolicy("QUARTERDECK_TALENT_WRITE_POLICY", s.WritePolicy); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ownershipRules declares who owns what in talent (ADR 0014): a position is its requester's.
// Teams and people are the people function's record, not their members': see people below.
func ownershipRules(owners ownership.Owners) ownership.Rules {
	const people = "the people function's record of the organisation, kept by talent.write holders (HR, resource managers): owned by a team's members or a person, they would set their own staffing, requirements, headcount plans, level and certifications; a person's principal now makes a team's members known (ADR 0014), but who besides HR decides these is not settled"
	return ownership.Rules{
		Service: talentv1.File_quarterdeck_talent_v1_talent_service_proto.Services().ByName("TalentService"),
		Owned:   []string{"positions"},
		Owners:  owners,
		Unowned: map[string]string{
			"teams":            people,
			"people":           people,
			"skillCategories":  "the organisation's skill taxonomy, shared by every team",
			"skills":           "the organisation's skill taxonomy, shared by every team",
			"proficiencyScale": "the organisation's one proficiency scale",
		},
		Exempt: map[string]string{
			"ApprovePosition": "a decision of talent.approve holders on another principal's position (separation of duties)",
			"RejectPosition":  "a decision of talent.approve holders on another principal's position (separation of duties)",
		},
	}
}

// Service describes the talent service with default settings to the host.
func Service() host.Service { return Configured(DefaultSettings()) }

// Configured describes the talent service with cfg, which must be valid, to the host. The service
// calls budget (its peer, at the address the host is given) to check cost centres and reads the
// time from the host's clock (host.Options.Clock); tests pass server options, such as a fixed
// clock of the server's own.
func Configured(cfg Settings, opts ...server.Option) host.Service {
	newServer := func(deps host.Deps) *server.Server {
		o := []server.Option{server.WithPlanning(time.Month(cfg.FiscalYearStartMonth), cfg.HoldTTL)}
		if deps.Clock != nil {
			o = append(o, server.WithClock(deps.Clock.Now))
		}
		if deps.Logger != nil {
			o = append(o, server.WithLogger(deps.Logger))
		}
		budget := budgetv1.NewBudgetServiceClient(deps.Peers["budget"])
		return server.New(store.New(deps.DB, deps.Events), budget, append(o, opts...)...)
	}
	return host.Service{
		Domain:     Domain,
		Migrations: store.Migrations.For,
		Names:      []string{talentv1.TalentService_ServiceDesc.ServiceName},
		Peers:      []string{"budget"},
		Settings:   cfg,
		Ownership: func(deps host.Deps) (ownership.Policy, []ownership.Rules) {
			policy, _ := ownership.ParsePolicy("", cfg.WritePolicy)
			// The server is built at the first look-up: the rules are also read without a
			// database, to list the methods they check.
			srv := sync.OnceValue(func() *server.Server { return newServer(deps) })
			return policy, []ownership.Rules{ownershipRules(func(ctx context.Context, name string) ([]string, error) {
				return srv().Owners(ctx, name)
			})}
		},
		Register: func(r grpc.ServiceRegistrar, deps host.Deps) error {
			talentv1.RegisterTalentServiceServer(r, newServer(deps))
			return nil
		},
		// The handlers of the service's due items, by kind; each resource declares its own in
		// its file of the server (Server.Schedules gathers them).
		Schedules: func(deps host.Deps) map[string]scheduler.Handler {
			return newServer(deps).Schedules()
		},
	}
}
