// Package risk is the risk service — the risk register a CIO reports to the board: the risk
// matrix and appetite, risks with their scores, score history, treatment and review, mitigation
// actions and acceptances, the heat map and the register report — and incident handling
// (IncidentService), and compliance — frameworks, controls, their tests and the posture,
// policies, and the continuity plans of business services with their exercises
// (ComplianceService) — packaged for the host that runs it, in its own process or inside the
// standalone binary.
package risk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/server"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// Domain is the service's domain name.
const Domain = "risk"

// Settings are the risk service's own settings (a host.Settings), read from flags and the
// environment by the programs that run it (prefix QUARTERDECK_).
type Settings struct {
	ReviewDaysLow        int `env:"RISK_REVIEW_DAYS_LOW" default:"365" help:"days between reviews of a risk whose residual level is LOW (1 to 1095)"`
	ReviewDaysMedium     int `env:"RISK_REVIEW_DAYS_MEDIUM" default:"180" help:"days between reviews of a risk whose residual level is MEDIUM (1 to 1095)"`
	ReviewDaysHigh       int `env:"RISK_REVIEW_DAYS_HIGH" default:"90" help:"days between reviews of a risk whose residual level is HIGH (1 to 1095)"`
	ReviewDaysCritical   int `env:"RISK_REVIEW_DAYS_CRITICAL" default:"30" help:"days between reviews of a risk whose residual level is CRITICAL (1 to 1095)"`
	ReviewDaysUnassessed int `env:"RISK_REVIEW_DAYS_UNASSESSED" default:"30" help:"days from identification by which a risk not yet scored is due for assessment (1 to 1095)"`
	AcceptanceMaxDays    int `env:"RISK_ACCEPTANCE_MAX_DAYS" default:"730" help:"the furthest an acceptance's expiry date may be from the day it is requested, in days (1 to 1825)"`

	WritePolicy string `env:"RISK_WRITE_POLICY" default:"scopes" help:"who may change a risk (its actions and acceptances), a control or a policy: scopes (any holder of the method's scopes) or owner (its owner principal or the members of its owner team, asked of talent, an action's owner too, or a holder of risk.admin)"`
}

// DefaultSettings are the settings' defaults, as the programs that run the service read them
// when nothing is set.
func DefaultSettings() Settings {
	return Settings{ReviewDaysLow: 365, ReviewDaysMedium: 180, ReviewDaysHigh: 90, ReviewDaysCritical: 30,
		ReviewDaysUnassessed: 30, AcceptanceMaxDays: 730, WritePolicy: string(ownership.Scopes)}
}

// Validate reports settings out of range, all of them together.
func (s Settings) Validate() error {
	var errs []error
	for _, c := range []struct {
		name string
		days int
	}{
		{"LOW", s.ReviewDaysLow}, {"MEDIUM", s.ReviewDaysMedium}, {"HIGH", s.ReviewDaysHigh},
		{"CRITICAL", s.ReviewDaysCritical}, {"UNASSESSED", s.ReviewDaysUnassessed},
	} {
		if c.days < 1 || c.days > 1095 {
			errs = append(errs, fmt.Errorf("QUARTERDECK_RISK_REVIEW_DAYS_%s is %d; want 1 to 1095", c.name, c.days))
		}
	}
	if s.AcceptanceMaxDays < 1 || s.AcceptanceMaxDays > 1825 {
		errs = append(errs, fmt.Errorf("QUARTERDECK_RISK_ACCEPTANCE_MAX_DAYS is %d; want 1 to 1825", s.AcceptanceMaxDays))
	}
	if _, err := ownership.ParsePolicy("QUARTERDECK_RISK_WRITE_POLICY", s.WritePolicy); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ownershipRules declares who owns what in risk (ADR 0014): a risk's owner owns the risk, its
// mitigation actions (with each action's own owner) and its acceptances; a continuity plan's
// owner owns the plan and records its exercises; a control's owner the control, a policy's owner
// the policy and its versions (compliance). Decisions of risk.approve holders, the matrix and
// appetite, frameworks, and incidents are not owned.
func ownershipRules(owners, compliance ownership.Owners) []ownership.Rules {
	const decision = "a decision of risk.approve holders on another principal's acceptance (separation of duties)"
	const board = "the organisation's one risk matrix and appetite, set by risk.approve holders"
	return []ownership.Rules{{
		Service: riskv1.File_quarterdeck_risk_v1_risk_service_proto.Services().ByName("RiskService"),
		Owned:   []string{"risks"},
		Owners:  owners,
		Unowned: map[string]string{"riskMatrix": board, "riskAppetite": board},
		Exempt: map[string]string{
			"ApproveAcceptance": decision,
			"RejectAcceptance":  decision,
			"RevokeAcceptance":  decision,
		},
	}, {
		Service: riskv1.File_quarterdeck_risk_v1_incident_service_proto.Services().ByName("IncidentService"),
		Unowned: map[string]string{
			"incidents": "incident response is shared work of whoever holds incidents.write: the responders on call change it, not one owner; closing and postmortem decisions take incidents.manage",
		},
	}, {
		Service: riskv1.File_quarterdeck_risk_v1_compliance_service_proto.Services().ByName("ComplianceService"),
		Owned:   []string{"continuityPlans", "controls", "policies"},
		Owners:  compliance,
		Unowned: map[string]string{
			"frameworks": "frameworks come from the service's catalogue, the same for the whole organisation",
		},
		Exempt: map[string]string{
			"CreateControlTest": "a control's test is recorded by whoever tests it — an auditor, the security team — and an owner testing only their own control is what an audit avoids; compliance.write guards it",
			"AcknowledgePolicy": "an acknowledgement is recorded for the people the policy asks, not by its owner; compliance.write and talent's answer guard it",
		},
	}}
}

// talentTeams asks talent, the service's peer under the owner write policy, for the caller's
// teams (GetCallerTeams), each answer kept for ownership.TeamsTTL: the members of a team that owns
// a resource write it (ADR 0014).
func talentTeams(talent *peer.Conn) ownership.Teams {
	return ownership.CachedTeams(func(ctx context.Context, _ string) ([]string, error) {
		out, err := talentv1.NewTalentServiceClient(talent).GetCallerTeams(ctx, &talentv1.GetCallerTeamsRequest{})
		return out.GetTeams(), err
	}, ownership.TeamsTTL, time.Now)
}

// config is the server's view of the settings.
func (s Settings) config() server.Config {
	return server.Config{
		ReviewDays:        [5]int{s.ReviewDaysUnassessed, s.ReviewDaysLow, s.ReviewDaysMedium, s.ReviewDaysHigh, s.ReviewDaysCritical},
		AcceptanceMaxDays: s.AcceptanceMaxDays,
	}
}

// Service describes the risk service with default settings to the host.
func Service() host.Service { return Configured(DefaultSettings()) }

// Configured describes the risk service with cfg, which must be valid, to the host. The service
// calls talent (its peer, at the address the host is given) about the people an incident's
// roles name, and reads the time from the host's clock (host.Options.Clock); tests pass server options, such as
// a fixed clock of the server's own.
func Configured(cfg Settings, opts ...server.Option) host.Service {
	policy, _ := ownership.ParsePolicy("", cfg.WritePolicy)
	newServer := func(deps host.Deps) *server.Server {
		o := []server.Option{server.WithConfig(cfg.config()),
			server.WithTalent(talentv1.NewTalentServiceClient(deps.Peers["talent"]))}
		if deps.Clock != nil {
			o = append(o, server.WithClock(deps.Clock.Now))
		}
		var srv *server.Server
		if policy == ownership.Owner {
			// A control linked to a risk, or unlinked from it, changes the risk: the caller
			// must be one who may write it.
			admin := ownership.AdminScope(riskv1.File_quarterdeck_risk_v1_risk_service_proto.Services().ByName("RiskService"))
			teams := talentTeams(deps.Peers["talent"])
			o = append(o, server.WithRiskWriters(func(ctx context.Context, risk string) error {
				return ownership.Authorize(ctx, risk, admin, srv.Owners, teams)
			}))
		}
		srv = server.New(store.New(deps.DB, deps.Events), append(o, opts...)...)
		return srv
	}
	return host.Service{
		Domain:     Domain,
		Migrations: store.Migrations.For,
		Names: []string{riskv1.RiskService_ServiceDesc.ServiceName, riskv1.IncidentService_ServiceDesc.ServiceName,
			riskv1.ComplianceService_ServiceDesc.ServiceName},
		// Talent is asked about the people an incident's roles name (people/…).
		Peers:    []string{"talent"},
		Settings: cfg,
		Ownership: func(deps host.Deps) (ownership.Policy, []ownership.Rules) {
			// The server is built at the first look-up: the rules are also read without a
			// database, to list the methods they check.
			srv := sync.OnceValue(func() *server.Server { return newServer(deps) })
			rules := ownershipRules(func(ctx context.Context, name string) ([]string, error) {
				return srv().Owners(ctx, name)
			}, func(ctx context.Context, name string) ([]string, error) {
				return srv().Compliance().Owners(ctx, name)
			})
			if policy == ownership.Owner {
				// A team owning a risk is asked about of talent, the service's peer.
				teams := talentTeams(deps.Peers["talent"])
				for i := range rules {
					rules[i].Teams = teams
				}
			}
			return policy, rules
		},
		Register: func(r grpc.ServiceRegistrar, deps host.Deps) error {
			srv := newServer(deps)
			riskv1.RegisterRiskServiceServer(r, srv)
			riskv1.RegisterIncidentServiceServer(r, srv.Incidents())
			riskv1.RegisterComplianceServiceServer(r, srv.Compliance())
			return nil
		},
		// The reactions to other services' events (server.Reactions): a consumer per reaction.
		Consumers: func(deps host.Deps) []consumer.Spec {
			srv, db := newServer(deps), sqlstore.New(deps.DB, deps.Events)
			var specs []consumer.Spec
			for _, r := range srv.Reactions() {
				specs = append(specs, consumer.Spec{Name: r.Consumer(), Domain: r.Domain, Subjects: []string{r.Subject},
					Handler: func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
						return db.Join(ctx, tx, func(ctx context.Context, t *sqlstore.Tx) error { return r.Handle(ctx, store.Join(t), ev) })
					}})
			}
			return specs
		},
		// The handlers of the service's due items, by kind. Each resource declares its own in
		// its file of the server (Server.Schedules gathers them), so that adding one is a change
		// to that file alone.
		Schedules: func(deps host.Deps) map[string]scheduler.Handler {
			return newServer(deps).Schedules()
		},
	}
}
