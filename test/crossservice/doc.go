// Package crossservice holds the end-to-end tests of actions that span services: each test runs
// the real services side by side, each on a database of its own and one NATS server, and drives
// them through their APIs only.
package crossservice
