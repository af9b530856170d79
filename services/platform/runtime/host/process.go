package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/config"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/telemetry"
)

// Main runs a Quarterdeck binary: run gets a context that the first SIGINT or SIGTERM cancels,
// the arguments and stderr. An error is printed with the program's name and exits with status 1;
// config.ErrHelp (after --help) counts as success.
func Main(program string, run func(ctx context.Context, args []string, stderr io.Writer) error) {
	ctx, stop := SignalContext()
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil && !errors.Is(err, config.ErrHelp) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", program, err)
		os.Exit(1)
	}
}

// Configure loads a binary's settings into cfg (see config.Load) and makes the JSON logger that tel
// (a part of cfg) asks for the default one. It returns the positional arguments and the logger, or
// config.ErrHelp after printing the usage.
func Configure(cfg any, tel *telemetry.Config, opts config.Options) (rest []string, log *slog.Logger, err error) {
	rest, err = config.Load(cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	out := opts.Output
	if out == nil {
		out = os.Stderr
	}
	log, err = telemetry.NewLogger(out, tel.LogLevel)
	if err != nil {
		return nil, nil, err
	}
	slog.SetDefault(log)
	return rest, log, nil
}
