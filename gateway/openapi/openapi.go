// Package openapi embeds the OpenAPI 3.1 document of every Quarterdeck REST API, generated from
// the protos by `make generate` (protoc-gen-openapiv3, merged with openapiv3-merge).
package openapi

import _ "embed"

// Document is the merged OpenAPI document, served by the gateway at /openapi.json.
//
//go:embed openapi.json
var Document []byte
