package main

// The error model of every operation. The gateway answers every error with a google.rpc.Status
// whose details are google.protobuf.Any messages, told apart by their "@type". protoc-gen-openapiv3
// describes a detail as an object with any properties, so a client has to hand-write the types of
// the details it reads; here each detail the platform sends is a schema of its own with a constant
// "@type", and Status.details is their discriminated union: a TypeScript client narrows a detail by
// comparing its "@type", without casts.

const (
	statusSchema = "google.rpc.Status"
	anyTypeURL   = "type.googleapis.com/"
)

// detailSchemas are the google.rpc error details the platform puts in a Status, by schema name.
// A detail the platform starts sending must be added here, or clients will not know its type.
func detailSchemas() map[string]map[string]any {
	return map[string]map[string]any{
		"google.rpc.ErrorInfo": object(
			"Why the call failed: a stable, machine-readable `reason` (branch on it, not on the message) "+
				"and the `domain` that raised it (`<service>.quarterdeck.io`, or `gateway.quarterdeck.io`). "+
				"Every error carries one.",
			[]string{"reason", "domain"},
			props{
				"reason":   str("The reason, UPPER_SNAKE_CASE, e.g. `COST_CENTER_NOT_FOUND`."),
				"domain":   str("Who raised the error, e.g. `budget.quarterdeck.io`."),
				"metadata": stringMap("Facts about the error, e.g. the resource `name`."),
			}),
		"google.rpc.BadRequest": object(
			"The request's invalid fields, one violation per problem, all reported at once (INVALID_ARGUMENT).",
			[]string{"fieldViolations"},
			props{
				"fieldViolations": array("The violations.", ref("google.rpc.BadRequest.FieldViolation")),
			}),
		"google.rpc.RetryInfo": object(
			"When to retry the call (with a 429, as the `Retry-After` header does).",
			[]string{"retryDelay"},
			props{
				"retryDelay": map[string]any{"type": "string", "pattern": `^-?[0-9]+(\.[0-9]+)?s$`,
					"description": "How long to wait, a duration in seconds with the suffix `s`, e.g. `1.5s`."},
			}),
		"google.rpc.PreconditionFailure": object(
			"What in the resource's state forbids the call (FAILED_PRECONDITION).",
			[]string{"violations"},
			props{
				"violations": array("The failed preconditions.", ref("google.rpc.PreconditionFailure.Violation")),
			}),
	}
}

// detailParts are the messages the details are made of; they are not details themselves.
func detailParts() map[string]map[string]any {
	return map[string]map[string]any{
		"google.rpc.BadRequest.FieldViolation": object(
			"One invalid field of the request.",
			[]string{"field", "reason", "description"},
			props{
				"field": str("The path of the field in the request with proto field names, e.g. " +
					"`cost_center.display_name` (the same over gRPC and REST)."),
				"reason": str("A stable, machine-readable reason: named after the schema rule (`REQUIRED`, " +
					"`STRING_PATTERN`, `INT32_GTE`) or the service's own (`PARENT_CYCLE`)."),
				"description":      str("What is wrong, in English, for a developer."),
				"localizedMessage": ref("google.rpc.LocalizedMessage"),
			}),
		"google.rpc.LocalizedMessage": object(
			"A message for an end user in a given locale.",
			[]string{"locale", "message"},
			props{
				"locale":  str("The locale, a BCP 47 tag such as `en-US`."),
				"message": str("The message in that locale."),
			}),
		"google.rpc.PreconditionFailure.Violation": object(
			"One failed precondition.",
			[]string{"type", "subject", "description"},
			props{
				"type":        str("The kind of precondition, e.g. `STATE`."),
				"subject":     str("What failed it, e.g. a resource name."),
				"description": str("How it failed, in English, for a developer."),
			}),
	}
}

type props = map[string]any

func object(desc string, required []string, p props) map[string]any {
	s := map[string]any{"type": "object", "description": desc, "properties": p}
	if len(required) > 0 {
		r := make([]any, len(required))
		for i, n := range required {
			r[i] = n
		}
		s["required"] = r
	}
	return s
}

func str(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }

func ref(schema string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + schema}
}

func array(desc string, items map[string]any) map[string]any {
	return map[string]any{"type": "array", "description": desc, "items": items}
}

func stringMap(desc string) map[string]any {
	return map[string]any{"type": "object", "description": desc, "additionalProperties": map[string]any{"type": "string"}}
}

// errorResponse is one of the error responses an operation declares.
type errorResponse struct {
	status      string
	name        string // in components.responses
	description string
	applies     func(method string, op map[string]any) bool
}

var errorResponses = []errorResponse{
	{"400", "BadRequest", "The request is invalid (INVALID_ARGUMENT, with a `google.rpc.BadRequest` detail " +
		"listing every invalid field), the resource's state forbids the call (FAILED_PRECONDITION), or a " +
		"value is out of range (OUT_OF_RANGE). The `google.rpc.ErrorInfo` detail's `reason` says which.",
		always},
	{"401", "Unauthenticated", "The credential is missing or invalid (UNAUTHENTICATED).", always},
	{"403", "PermissionDenied", "The credential lacks the method's scope (PERMISSION_DENIED).", always},
	{"404", "NotFound", "The resource named in the path, or its parent, does not exist (NOT_FOUND).",
		hasPathParam},
	{"409", "Conflict", "The ID or a unique field is taken (ALREADY_EXISTS), or a concurrent change won " +
		"(ABORTED: `ETAG_MISMATCH` for a stale `etag` or `If-Match`, `CONCURRENCY_CONFLICT`); read the " +
		"resource again and retry.", isWrite},
	{"429", "TooManyRequests", "Too many requests from this client (RESOURCE_EXHAUSTED): retry after the " +
		"`Retry-After` header's seconds, also given by the `google.rpc.RetryInfo` detail.", always},
}

func always(string, map[string]any) bool { return true }

func isWrite(method string, _ map[string]any) bool { return method != "get" }

func hasPathParam(_ string, op map[string]any) bool {
	for _, p := range params(op) {
		if p["in"] == "path" {
			return true
		}
	}
	return false
}

// addErrors declares the error schemas and responses, and gives every operation the error responses
// that apply to it besides `default`.
func addErrors(doc map[string]any) error {
	comps := components(doc)
	schemas := child(comps, "schemas")
	var members, mapping = []any{}, map[string]any{}
	details := detailSchemas()
	for _, name := range sortedKeys(details) {
		s := details[name]
		p := s["properties"].(props)
		p["@type"] = map[string]any{"type": "string", "const": anyTypeURL + name,
			"description": "The type of the detail."}
		s["required"] = append([]any{"@type"}, s["required"].([]any)...)
		schemas[name] = s
		members = append(members, ref(name))
		mapping[anyTypeURL+name] = "#/components/schemas/" + name
	}
	for name, s := range detailParts() {
		schemas[name] = s
	}
	schemas[statusSchema] = object(
		"An error, as every operation answers one: the gRPC code, a message for a developer, and "+
			"typed details, told apart by their `@type`. Every error has a `google.rpc.ErrorInfo`.",
		[]string{"code", "details"},
		props{
			"code": map[string]any{"type": "integer", "format": "int32", "minimum": 1, "maximum": 16,
				"description": "The gRPC status code (`google.rpc.Code`), e.g. 3 for INVALID_ARGUMENT."},
			"message": str("A message for a developer, in English. Do not branch on it: use the ErrorInfo's `reason`."),
			"details": map[string]any{"type": "array", "description": "The error's details.",
				"items": map[string]any{
					"oneOf":         members,
					"discriminator": map[string]any{"propertyName": "@type", "mapping": mapping},
				}},
		})

	responses := child(comps, "responses")
	body := map[string]any{"application/json": map[string]any{"schema": ref(statusSchema)}}
	for _, r := range errorResponses {
		resp := map[string]any{"description": r.description, "content": body}
		if r.status == "429" {
			resp["headers"] = map[string]any{"Retry-After": map[string]any{
				"description": "The seconds to wait before retrying.",
				"schema":      map[string]any{"type": "integer", "minimum": 0},
			}}
		}
		responses[r.name] = resp
	}
	responses["Error"] = map[string]any{"content": body, "description": "Any other error: a server failure " +
		"(500 INTERNAL, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED, 501 UNIMPLEMENTED) or one of the " +
		"gateway's limits on a request's size (413, 414, 431)."}

	return eachOperation(doc, func(_, method string, op map[string]any) error {
		rs := child(op, "responses")
		for _, r := range errorResponses {
			if r.applies(method, op) {
				rs[r.status] = map[string]any{"$ref": "#/components/responses/" + r.name}
			}
		}
		rs["default"] = map[string]any{"$ref": "#/components/responses/Error"}
		return nil
	})
}
