package natsembed

import (
	"log/slog"
	"testing"
)

// TestSyncAlwaysReachesJetStream checks that the option is applied, since its effect (an fsync
// per message) cannot be observed without pulling the power.
func TestSyncAlwaysReachesJetStream(t *testing.T) {
	for _, want := range []bool{false, true} {
		s, err := Start(Options{StoreDir: t.TempDir(), SyncAlways: want, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		got := s.ns.JetStreamConfig().SyncAlways
		s.Shutdown()
		if got != want {
			t.Errorf("SyncAlways = %v, want %v", got, want)
		}
	}
}
