// Package testkit is what every service's tests use, so that a new service's tests start from
// the same few calls instead of a copy of budget's fixtures:
//
//   - Start runs a host.Service for one test on a database of testenv (SQLite always, PostgreSQL
//     when available) with a NATS server of testenv and the test process's identity verifier,
//     and stops it when the test ends (a failing test's output ends with what the service
//     logged); ForEachDatabase runs a test on every engine.
//   - Service.ConnAs, Dial and DialAs are client connections acting as a given caller
//     (identitytest's keys), Serve serves a bare gRPC server on a loopback port.
//   - Errors.Assert and AssertStatus check an error's code, ErrorInfo reason and domain, and the
//     paths (and reasons) of its field violations — what the API promises, not message text.
//   - Eventually polls a condition until a deadline, instead of hand-written sleep loops.
//   - Open and Migrated open a test database with the migrations a store test needs; Column
//     reads a column back, Rows whole rows; Timestamp is the engine's time column type.
//   - Concurrently runs many callers at once; AllPages follows a list's page tokens; Metrics
//     reads a service's OpenTelemetry metrics; Buffer holds what a server logs.
//   - ProtoFile builds a test's own proto API from its descriptor in text format.
//
// A service's tests typically read:
//
//	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
//		s := testkit.Start(t, db, budget.Service())
//		client := budgetv1.NewBudgetServiceClient(s.Conn)
//		_, err := client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/x"})
//		s.AssertStatus(t, err, codes.NotFound, "COST_CENTER_NOT_FOUND")
//	})
package testkit
