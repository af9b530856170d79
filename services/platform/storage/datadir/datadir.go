// Package datadir keeps the files a process writes private to the user it runs as: its data
// folder and every folder below it 0700, every file in them 0600 — the SQLite databases with
// their WAL and shared-memory files, the embedded NATS store, anything else. A database file is
// the whole of a service's data (and the gateway's API key hashes); a group- or world-readable
// mode hands it to every account on the machine.
package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// The modes of the data folder's contents.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// chmod is os.Chmod; a test replaces it to make a change fail.
var chmod = os.Chmod

// Secure creates dir when missing and makes it and everything below it private: folders 0700,
// files 0600, also when they exist with wider modes (a folder made by an earlier version, a
// copied backup). Symbolic links are left alone and not followed: what they point to is not the
// folder's. A mode it cannot change (a file owned by another user, a read-only mount) is logged
// as a warning and left: the process still runs, and the operator learns what stays readable.
// Only a folder that cannot be created or read is an error.
func Secure(dir string, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return fmt.Errorf("read data folder: %w", err)
			}
			log.Warn("data folder: cannot read, its mode is left as it is", "path", path, "error", err)
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			return nil
		case d.IsDir():
			restrict(path, DirMode, log)
		case d.Type().IsRegular():
			restrict(path, FileMode, log)
		}
		return nil
	})
}

// SecureFile makes the file at path 0600 when it exists, and creates it empty with that mode
// when it does not, so that a program that creates files beside it with its mode (SQLite makes
// a database's -wal and -shm files with the database's permissions) makes them private too.
// Its folder is created 0700 when missing; an existing folder keeps its mode (it may be shared,
// like the working directory). The siblings named by suffixes ("-wal", "-shm") are made 0600
// when they exist. A mode that cannot be changed is a warning, as for Secure.
func SecureFile(path string, log *slog.Logger, suffixes ...string) error {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(path), DirMode); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
	switch {
	case err == nil:
		return f.Close()
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("create %s: %w", path, err)
	}
	for _, p := range append([]string{""}, suffixes...) {
		if fi, err := os.Lstat(path + p); err == nil && fi.Mode().IsRegular() {
			restrict(path+p, FileMode, log)
		}
	}
	return nil
}

// restrict sets the permission bits of path to mode unless they already are, and warns when it
// cannot.
func restrict(path string, mode fs.FileMode, log *slog.Logger) {
	fi, err := os.Lstat(path)
	if err != nil {
		log.Warn("data folder: cannot read the mode", "path", path, "error", err)
		return
	}
	if fi.Mode().Perm() == mode {
		return
	}
	if err := chmod(path, mode); err != nil {
		log.Warn("data folder: cannot make private; other users may read it", "path", path,
			"mode", fmt.Sprintf("%#o", fi.Mode().Perm()), "want", fmt.Sprintf("%#o", mode), "error", err)
	}
}
