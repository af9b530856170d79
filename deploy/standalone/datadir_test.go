//go:build unix

package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestDataDirPrivate: a data folder a previous version left 0755, with 0644 databases, is made
// 0700 with 0600 files at the next start, and everything the running binary writes under it —
// SQLite databases with their -wal and -shm files, the embedded NATS store — is private to its
// user: no group or other permission on any folder or file.
func TestDataDirPrivate(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	p := start(t, dataDir, scenario{prefix: "quarterdeck"})
	createCostCenter(t, p.rest, "Infrastructure", "CC-100")
	p.Stop()

	// What an earlier version left: everything readable by all.
	if err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(path, 0o755)
		}
		return os.Chmod(path, 0o644)
	}); err != nil {
		t.Fatal(err)
	}

	p = start(t, dataDir, scenario{prefix: "quarterdeck"})
	createCostCenter(t, p.rest, "Marketing", "CC-200")
	checkPrivate(t, dataDir, "budget.db", "budget.db-wal", "budget.db-shm", "vendors.db", "gateway.db", "nats")
	p.Stop()
	checkPrivate(t, dataDir)
}

// checkPrivate checks that dir and everything below it has no group or other permission, and
// that the names given exist in it.
func checkPrivate(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s in the data folder: %v", n, err)
		}
	}
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			files++
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %#o; want %#o", path, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Errorf("no file in the data folder %s", dir)
	}
}
