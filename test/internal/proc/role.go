package proc

import (
	"os"
	"testing"
)

// TestMain lets a test binary double as the child processes its run starts and kills, as the
// program does: when the environment variable env names a role, the binary runs that role and
// exits (1 on an error), else it runs the tests.
func TestMain(m *testing.M, env string, run func(role string) error) {
	if role := os.Getenv(env); role != "" {
		if err := run(role); err != nil {
			os.Stderr.WriteString(role + ": " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
