// Package etag computes and checks the etags of AIP-154: an opaque tag that changes whenever a
// resource changes, so that a client can make an update or delete conditional on having seen the
// latest state.
package etag

import (
	"encoding/hex"
	"hash/fnv"
	"strconv"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// ErrMismatch is returned when the etag a client sent is not the resource's current one.
var ErrMismatch = fault.New(fault.Aborted, "ETAG_MISMATCH",
	"the resource changed since it was read; read it again and retry")

// Of returns the etag of the resource named name at aggregate version version. It is derived
// rather than stored, and opaque so that clients compare it instead of interpreting it.
func Of(name string, version int64) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(version, 10)))
	return hex.EncodeToString(h.Sum(nil))
}

// Check returns ErrMismatch (with the resource name) unless given is empty or matches the etag of
// the resource at version.
func Check(given, name string, version int64) error {
	if given == "" || given == Of(name, version) {
		return nil
	}
	return ErrMismatch.With("resource", name)
}
