//go:build !unix

package datadir

// PrivateByDefault does nothing where there is no umask; it returns 0.
func PrivateByDefault() int { return 0 }
