package domain

// Errors of vendors, attestations, contracts, invoices, assessments, scorecards and evaluations,
// as fault.Error sentinels: kind, reason, message (fault.Named adds the name to a not-found).
// Reasons are stable API: clients branch on them. Compare with errors.Is, which matches kind and
// reason, so a copy carrying metadata or field violations still matches its sentinel.
//
// Field violations name the field's full path in the request ("vendor.display_name",
// "contract.end_date"), so the server passes them through unprefixed.
//
// Each resource's errors are added in a block of their own below, named after the resource
// (ErrVendorNotFound, ErrContractNotDraft, …).
