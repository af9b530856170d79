// Package briefing is the briefing service — the executive briefing, a read model of every
// domain built only from the domains' events on NATS — packaged for the host that runs it, in its
// own process or inside the standalone binary. ADR 0011 says why it is a service of its own.
package briefing

import (
	"context"
	"database/sql"
	"time"

	"google.golang.org/grpc"

	briefingv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/briefing/v1"
	"github.com/quarterdeck/quarterdeck/services/briefing/internal/model"
	"github.com/quarterdeck/quarterdeck/services/briefing/internal/server"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
)

// Domain is the service's domain name.
const Domain = "briefing"

// Domains are the domains whose streams the briefing is built from: one durable consumer of
// each whole stream, named after the domain (JetStream durable briefing_<domain>).
var Domains = []string{"budget", "vendors", "risk", "talent"}

// Settings are the briefing service's own settings: none yet, the common ones (database, NATS,
// consumers) are all it needs.
type Settings struct{}

// Validate accepts the settings.
func (Settings) Validate() error { return nil }

// Service describes the briefing service to the host. The briefing's "today" is the host's clock
// (host.Options.Clock), which tests move. At each start, in its own process or in the standalone
// binary, the service rebuilds from the streams a model that other code built (model.Version),
// while the streams still hold their first events (Server.Upgrade).
func Service() host.Service {
	return host.Service{
		Domain:     Domain,
		Settings:   Settings{},
		Migrations: model.Migrations.For,
		Names:      []string{briefingv1.BriefingService_ServiceDesc.ServiceName},
		Register: func(r grpc.ServiceRegistrar, deps host.Deps) error {
			srv := server.New(deps.DB, deps.Consumers, deps.Background, Domains, deps.Events.Prefix(), deps.Clock.Now)
			// Before the consumers run (the host starts them after Register): a model built by
			// other code is rebuilt from the streams once they do.
			ctx, cancel := context.WithTimeout(context.Background(), upgradeTimeout)
			defer cancel()
			if err := srv.Upgrade(ctx, deps.Logger); err != nil {
				return err
			}
			briefingv1.RegisterBriefingServiceServer(r, srv)
			return nil
		},
		Consumers: func(host.Deps) []consumer.Spec { return Consumers() },
	}
}

// upgradeTimeout bounds the reading of the model's version at the start.
const upgradeTimeout = 30 * time.Second

// Consumers are the consumers that build the model: one per domain of Domains, reading every
// event of its stream.
func Consumers() []consumer.Spec {
	specs := make([]consumer.Spec, 0, len(Domains))
	for _, d := range Domains {
		specs = append(specs, consumer.Spec{Name: d, Domain: d,
			Handler: func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
				return model.Apply(ctx, tx, d, ev)
			}})
	}
	return specs
}
