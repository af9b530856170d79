package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/natsembed"
)

// runNATSD is the child-process role: a NATS server with a file store flushed before every
// acknowledgement (sync_interval: always), serving until it is killed.
func runNATSD() error {
	port, err := strconv.Atoi(os.Getenv(natsPortEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", natsPortEnv, err)
	}
	srv, err := natsembed.Start(natsembed.Options{
		Port:       port,
		StoreDir:   os.Getenv(natsStoreEnv),
		ServerName: "faults",
		SyncAlways: true,
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	srv.Shutdown()
	return nil
}
