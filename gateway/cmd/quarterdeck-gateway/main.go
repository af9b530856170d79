// Command quarterdeck-gateway runs the gateway on its own, for distributed deployments: the REST
// and gRPC APIs on one port, the OpenAPI document and its reference page (/docs), /healthz,
// /readyz and /metrics, in front of the domain services.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/services/platform/config"
	"github.com/quarterdeck/quarterdeck/services/platform/host"
	"github.com/quarterdeck/quarterdeck/services/platform/telemetry"
)

var version = "dev"

type settings struct {
	HTTPAddr        string           `env:"HTTP_ADDR" default:"127.0.0.1:8080" help:"listen address of the REST and gRPC APIs"`
	BudgetAddr      string           `env:"BUDGET_ADDR" default:"127.0.0.1:9001" help:"gRPC target of the budget service, e.g. dns:///budget:9001"`
	ShutdownTimeout time.Duration    `env:"SHUTDOWN_TIMEOUT" default:"20s" help:"how long a stop waits for in-flight requests"`
	Reflection      bool             `env:"GATEWAY_REFLECTION" default:"false" help:"serve gRPC server reflection, describing every service's API, on the gateway's port"`
	Gateway         gateway.Settings `prefix:"GATEWAY_"`
	Telemetry       telemetry.Config
}

func main() { host.Main("quarterdeck-gateway", run) }

func run(ctx context.Context, args []string, stderr io.Writer) error {
	var cfg settings
	_, log, err := host.Configure(&cfg, &cfg.Telemetry, config.Options{Program: "quarterdeck-gateway", Args: args, Output: stderr,
		Description: "Runs the Quarterdeck gateway: the REST and gRPC APIs in front of the domain services."})
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
		Backends:   map[string]string{"budget": cfg.BudgetAddr},
		Logger:     log,
		Metrics:    tel.Metrics,
		Reflection: cfg.Reflection,
		Settings:   cfg.Gateway,
	})
	if err != nil {
		lis.Close()
		return err
	}
	defer gw.Close()
	served := make(chan error, 1)
	go func() { served <- gw.Serve(lis) }()
	scheme := "http://"
	if gw.TLS() {
		scheme = "https://"
	}
	log.Info("gateway listening", "rest", scheme+lis.Addr().String(), "grpc", lis.Addr().String(), "tls", gw.TLS(),
		"reflection", cfg.Reflection)
	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("gateway server: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	return gw.Shutdown(sctx)
}
