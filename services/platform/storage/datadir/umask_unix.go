//go:build unix

package datadir

import "syscall"

// PrivateByDefault sets the process's umask to 077, so that every file and folder it creates
// from now on — by this process's code or by a library's (SQLite's journal files, the embedded
// NATS store) — is born without group and other permissions, whatever mode the creator asked
// for. It returns the previous umask.
func PrivateByDefault() int { return syscall.Umask(0o077) }
