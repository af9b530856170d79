package names

import "github.com/google/uuid"

// NewID returns a server-assigned resource ID, a time-ordered UUID (version 7): new resources
// append to the primary-key index instead of scattering over it, and listing by ID roughly
// follows creation order. It is a valid ID of every pattern (lower-case hex digits and '-').
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
