// Command quarterdeck-gateway runs the gateway on its own, for distributed deployments: the REST
// API, the OpenAPI document, /healthz, /readyz and /metrics, in front of the domain services.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/services/platform/config"
	"github.com/quarterdeck/quarterdeck/services/platform/host"
	"github.com/quarterdeck/quarterdeck/services/platform/telemetry"
)

var version = "dev"

type settings struct {
	HTTPAddr        string        `env:"HTTP_ADDR" default:"127.0.0.1:8080" help:"REST API listen address"`
	BudgetAddr      string        `env:"BUDGET_ADDR" default:"127.0.0.1:9001" help:"gRPC target of the budget service, e.g. dns:///budget:9001"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" default:"20s" help:"how long a stop waits for in-flight requests"`
	Telemetry       telemetry.Config
}

func main() { host.Main("quarterdeck-gateway", run) }

func run(ctx context.Context, args []string, stderr io.Writer) error {
	var cfg settings
	_, log, err := host.Configure(&cfg, &cfg.Telemetry, config.Options{Program: "quarterdeck-gateway", Args: args, Output: stderr,
		Description: "Runs the Quarterdeck gateway: the REST API in front of the domain services."})
	if err != nil {
		return err
	}
	log.Info("starting gateway", "version", version, "settings", config.Describe(cfg, ""))
	tel, err := telemetry.Setup(ctx, "quarterdeck-gateway", version, cfg.Telemetry)
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.WithoutCancel(ctx))

	lis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (%v); set QUARTERDECK_HTTP_ADDR (--http-addr) to a free address", cfg.HTTPAddr, err)
	}
	gw, err := gateway.New(ctx, gateway.Options{
		Backends: map[string]string{"budget": cfg.BudgetAddr},
		Logger:   log,
		Metrics:  tel.Metrics,
	})
	if err != nil {
		lis.Close()
		return err
	}
	defer gw.Close()
	hs := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(lis) }()
	log.Info("gateway listening", "rest", "http://"+lis.Addr().String())
	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	return hs.Shutdown(sctx)
}
