// Package asyncapi embeds the AsyncAPI 3.0 document of every Quarterdeck domain event, generated
// from the protos by `make generate` (protoc-gen-eventdoc with format=asyncapi).
package asyncapi

import _ "embed"

// Document is the AsyncAPI document, served by the gateway at /asyncapi.json.
//
//go:embed asyncapi.json
var Document []byte
