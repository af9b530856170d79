// Package platform is the shared runtime of Quarterdeck's domain services. A service written on it
// is its domain, its protos, its SQL and a few lines of wiring; everything else is here, so that
// budget, vendors, risk and talent keep one shape. docs/new-service.md lists the files a new
// service writes.
//
// The packages are grouped by layer, from what a service's API looks like down to what runs it:
//
//	api/        the conventions every API follows (ADR 0001)
//	  names       resource names parsed and formatted against their AIP-122 pattern
//	  fault       the one error vocabulary: codes, reasons, field violations, not-found
//	  filter      AIP-160 filters, parsed and compiled to SQL
//	  listing     a List call in one line: keyset pages, filters, order, field tables
//	  pagetoken   checksummed, opaque page tokens
//	  fieldmask   update masks (AIP-134) checked against the message's field behaviours
//	  etag        etags from versions (AIP-154)
//	  idempotency request IDs (AIP-155): one transaction, once per request ID
//	  money       exact amounts, currencies and rate conversion
//	  civil       calendar dates and months
//
//	runtime/    what hosts and serves a service
//	  host        a service as a value (host.Service), its binary (host.ServiceMain), Start and Stop
//	  rpc         the gRPC server, its interceptors and the error mapping
//	  config      settings from flags and QUARTERDECK_* variables, --help
//	  identity    the caller identity the gateway signs and services verify
//	  peer        calls to another service on the caller's behalf: identity, deadline, safe
//	              retries, PEER_UNAVAILABLE and PEER_REFUSED, the peer's health
//	  authz       per-method scopes declared in the protos
//	  operations  the OperationsService every service serves: audit trail, dead letters
//	  telemetry   OpenTelemetry traces and Prometheus metrics
//	  clock       the time a service reads and waits for: real in the binaries, moved by tests
//	  scheduler   events that fire because a date arrives: due items written with the change,
//	              fired once by a leased worker through the outbox
//
//	storage/    a service's database
//	  sqldb       SQLite or PostgreSQL behind one handle: transactions, migrations, leases
//	  sqlstore    the helpers a service's store is written with: queries, scans, nulls, the
//	              engine Dialect, and Tx.Record — a change's event and audit record in one call
//	  audit       the hash-chained audit trail and its sealer
//	  datadir     the data folder and its files private to the process's user (0700, 0600)
//
//	messaging/  events on NATS JetStream
//	  events      subjects, streams, CloudEvents headers, connections
//	  outbox      the transactional outbox and the relay that publishes it
//	  consumer    durable consumers with an inbox, bounded redelivery and dead letters
//	  natsembed   the in-process NATS server of the standalone binary and the tests
//
//	testing/    what every service's tests use
//	  testenv     migrated databases and NATS servers on both engines
//	  testkit     a service started for a test, clients acting as a caller, error assertions,
//	              Eventually
//
//	internal/   pieces the packages above share: the leased batch loop of the relay and the sealer,
//	            timed waits, work-queue gauges
package platform
