// Command quarterdeck-briefing runs the briefing service on its own, for distributed
// deployments: gRPC on QUARTERDECK_GRPC_ADDR, PostgreSQL (or a SQLite file) for its read model
// and an external NATS server whose domain streams it consumes.
//
//	quarterdeck-briefing            serve
//	quarterdeck-briefing migrate    apply database migrations and exit
package main

import (
	"github.com/quarterdeck/quarterdeck/services/briefing"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	host.ServiceMain(host.Binary{Domain: briefing.Domain, Version: version, GRPCAddr: "127.0.0.1:9005"},
		func(briefing.Settings) host.Service { return briefing.Service() })
}
