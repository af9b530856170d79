// Package platform is the shared runtime of Quarterdeck's domain services. Its sub-packages give
// every service the same configuration, gRPC server, storage, transactional outbox, event
// relay, telemetry and test environment, so that budget, vendors, risk and talent keep one shape.
package platform
