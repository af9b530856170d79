package datadir

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestSecureTightensWhatExists: a data folder left 0755 with 0644 files (an earlier version, a
// restored backup) becomes 0700 with 0600 files, at every depth; a symbolic link's target,
// outside the folder, is not touched.
func TestSecureTightensWhatExists(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	sub := filepath.Join(dir, "nats", "jetstream")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(root, "outside.txt")
	files := []string{filepath.Join(dir, "budget.db"), filepath.Join(dir, "budget.db-wal"), filepath.Join(sub, "msgs.blk"), outside}
	for _, f := range files {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{dir, filepath.Join(dir, "nats"), sub} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(files[0], 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	if err := Secure(dir, slog.New(slog.NewJSONHandler(&logs, nil))); err != nil {
		t.Fatalf("Secure: %v", err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "nats"), sub} {
		if got := mode(t, p); got != DirMode {
			t.Errorf("mode of folder %s = %#o; want %#o", p, got, DirMode)
		}
	}
	for _, f := range files[:3] {
		if got := mode(t, f); got != FileMode {
			t.Errorf("mode of file %s = %#o; want %#o", f, got, FileMode)
		}
	}
	if got := mode(t, outside); got != 0o644 {
		t.Errorf("mode of a symbolic link's target outside the folder = %#o; want it left 0644", got)
	}
	if logs.Len() != 0 {
		t.Errorf("logged %s; want nothing when every mode could be changed", logs.String())
	}
}

// TestSecureCreates: a missing data folder is created 0700 whatever the umask.
func TestSecureCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "data")
	if err := Secure(dir, nil); err != nil {
		t.Fatal(err)
	}
	if got := mode(t, dir); got != DirMode {
		t.Errorf("mode of a created data folder = %#o; want %#o", got, DirMode)
	}
}

// TestSecureWarnsWhenItCannot: a mode that cannot be changed is a warning naming the file, not
// a failure to start.
func TestSecureWarnsWhenItCannot(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "budget.db")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The tests may run as root, who can change any mode: the refusal is simulated.
	chmod = func(p string, m fs.FileMode) error {
		if p == file {
			return &fs.PathError{Op: "chmod", Path: p, Err: fs.ErrPermission}
		}
		return os.Chmod(p, m)
	}
	t.Cleanup(func() { chmod = os.Chmod })

	var logs bytes.Buffer
	if err := Secure(dir, slog.New(slog.NewJSONHandler(&logs, nil))); err != nil {
		t.Fatalf("Secure: %v; want a warning, not an error", err)
	}
	var line struct{ Level, Path, Mode, Want string }
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v; want one JSON line", logs.String(), err)
	}
	if line.Level != "WARN" || line.Path != file || line.Mode != "0644" || line.Want != "0600" {
		t.Errorf("logged %+v; want a WARN line with path %s, mode 0644, want 0600", line, file)
	}
	if got := mode(t, dir); got != DirMode {
		t.Errorf("mode of the folder = %#o; want %#o despite the file's failure", got, DirMode)
	}
}

// TestSecureFile: a database file is created 0600, an existing one and its journal siblings
// tightened to 0600; an existing folder keeps its mode.
func TestSecureFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "new", "fresh.db")
	if err := SecureFile(fresh, nil, "-wal"); err != nil {
		t.Fatal(err)
	}
	if got := mode(t, fresh); got != FileMode {
		t.Errorf("mode of a created file = %#o; want %#o", got, FileMode)
	}
	if got := mode(t, filepath.Dir(fresh)); got != DirMode {
		t.Errorf("mode of a created folder = %#o; want %#o", got, DirMode)
	}
	old := filepath.Join(dir, "old.db")
	for _, f := range []string{old, old + "-wal"} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := SecureFile(old, nil, "-wal", "-shm"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{old, old + "-wal"} {
		if got := mode(t, f); got != FileMode {
			t.Errorf("mode of existing %s = %#o; want %#o", f, got, FileMode)
		}
	}
	if _, err := os.Stat(old + "-shm"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing sibling was created (stat: %v)", err)
	}
	if got := mode(t, dir); got != 0o755 {
		t.Errorf("mode of an existing folder = %#o; want it left 0755", got)
	}
}
