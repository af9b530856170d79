package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/config"
)

// TestSettingsDocumented checks that every setting of the gateway's binary is in
// docs/configuration.md, which operators and the Helm chart's check go by.
func TestSettingsDocumented(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out); !errors.Is(err, config.ErrHelp) {
		t.Fatalf("--help: %v; want config.ErrHelp", err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`QUARTERDECK_[A-Z0-9_]+`).FindAllString(out.String(), -1)
	if len(names) < 30 {
		t.Fatalf("--help lists %d settings:\n%s", len(names), out.String())
	}
	for _, name := range names {
		if !bytes.Contains(doc, []byte("`"+name+"`")) {
			t.Errorf("%s is not in docs/configuration.md", name)
		}
	}
}
