// Package proto holds Quarterdeck's API contract: the .proto sources under api/, the vendored
// third-party protos under third_party/, and the Go code generated from them under gen/go
// (regenerate with `make generate`; never edit generated files by hand).
package proto
