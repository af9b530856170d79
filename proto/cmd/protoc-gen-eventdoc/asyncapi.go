package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The AsyncAPI document describes the platform as the application: it sends every event. An
// automation reads it from the other side, receiving what the operations send.
//
// What it says of the wire is what the kit does (services/platform/messaging/events and
// outbox): the headers the relay sets, the payload as protojson with its default options (JSON
// field names, enums by name, 64-bit integers as strings, fields at their zero value left out, so
// that no payload field is required), and the subject `<prefix>.<domain>.<aggregate>.<action>`.

const (
	asyncAPIVersion = "3.0.0"
	// headersSchema is the component schema of the headers every event carries.
	headersSchema = "CloudEventsHeaders"
	// prefixParam is the channel parameter of the configurable first subject token.
	prefixParam = "prefix"
)

type object = map[string]any

// asyncAPI returns the AsyncAPI 3.0 document of evs, as indented JSON.
func asyncAPI(p *protogen.Plugin, evs []event) ([]byte, error) {
	idx := newIndex(p)
	schemas := object{headersSchema: cloudEventsHeaders()}
	channels, operations, messages := object{}, object{}, object{}
	domains := map[string]bool{}
	var tags []any
	for _, e := range evs {
		if !domains[e.domain] {
			domains[e.domain] = true
			tags = append(tags, object{
				"name": e.domain,
				"description": fmt.Sprintf("The %s domain's events, in the JetStream stream `QUARTERDECK_%s` over `quarterdeck.%s.>` (with the default prefix).",
					e.domain, strings.ToUpper(e.domain), e.domain),
			})
		}
		tag := []any{object{"name": e.domain}}
		id := e.domain + "." + e.aggregate + "." + e.action
		name := string(e.msg.Desc.Name())
		channels[id] = object{
			"address": "{" + prefixParam + "}." + id,
			"title":   id,
			"description": fmt.Sprintf("%s\n\nThe subject of `%s` events. With the default prefix: `quarterdeck.%s`, in the stream `QUARTERDECK_%s`.",
				e.doc, e.typ, id, strings.ToUpper(e.domain)),
			"parameters": object{prefixParam: object{"$ref": "#/components/parameters/" + prefixParam}},
			"messages":   object{name: object{"$ref": "#/components/messages/" + e.typ}},
		}
		operations[operationID(e)] = object{
			"action":      "send",
			"channel":     object{"$ref": "#/channels/" + id},
			"messages":    []any{object{"$ref": "#/channels/" + id + "/messages/" + name}},
			"summary":     summary(e.doc),
			"description": "Quarterdeck publishes `" + e.typ + "` through its transactional outbox: " + e.doc,
			"tags":        tag,
		}
		messages[e.typ] = object{
			"name":        e.typ,
			"title":       name,
			"summary":     summary(e.doc),
			"description": e.doc,
			"contentType": "application/json",
			"headers": object{
				"type": "object",
				"allOf": []any{
					object{"$ref": "#/components/schemas/" + headersSchema},
					object{
						"type": "object",
						"properties": object{
							"ce-type":   object{"type": "string", "const": e.typ},
							"ce-source": object{"type": "string", "const": "/quarterdeck/" + e.domain},
						},
					},
				},
			},
			"payload": object{"$ref": "#/components/schemas/" + e.typ},
			"tags":    tag,
		}
		if err := idx.addMessage(schemas, e.msg.Desc); err != nil {
			return nil, err
		}
	}
	doc := object{
		"asyncapi": asyncAPIVersion,
		"id":       "urn:quarterdeck:events",
		"info": object{
			"title":   "Quarterdeck domain events",
			"version": "v1",
			"description": "Every state change of every Quarterdeck resource publishes a typed domain event on NATS JetStream, " +
				"through a transactional outbox: at-least-once, in order per resource. " +
				"Headers are CloudEvents 1.0 in binary mode; the payload is the event's proto message as protojson. " +
				"Consumers key idempotence on `ce-id` (equal to `Nats-Msg-Id`) and order the events of one resource by `ce-aggregateversion`. " +
				"Generated from the protos; the guide is docs/events.md.",
			"contact": object{"name": "Quarterdeck", "url": "https://github.com/quarterdeck/quarterdeck"},
			"license": object{"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
			"tags":    tags,
		},
		"defaultContentType": "application/json",
		"servers": object{
			"standalone": object{
				"host":     "127.0.0.1:4222",
				"protocol": "nats",
				"description": "The NATS server embedded in the standalone platform (`make run`) on its default port " +
					"(QUARTERDECK_NATS_PORT). A distributed deployment publishes to its own NATS cluster.",
			},
		},
		"channels":   channels,
		"operations": operations,
		"components": object{
			"schemas":  schemas,
			"messages": messages,
			"parameters": object{
				prefixParam: object{
					"description": "The first token of every subject, `quarterdeck` unless the deployment sets " +
						"QUARTERDECK_EVENT_SUBJECT_PREFIX (so that environments can share a NATS cluster); " +
						"the streams are named after it (`<PREFIX>_<DOMAIN>`).",
					"default":  "quarterdeck",
					"examples": []any{"quarterdeck"},
				},
			},
		},
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// operationID is a name a code generator can use as a function name, unique across domains:
// sendVendorsContractNoticeWindowOpened.
func operationID(e event) string {
	d := []rune(e.domain)
	d[0] = unicode.ToUpper(d[0])
	return "send" + camel(string(d)) + string(e.msg.Desc.Name())
}

func camel(s string) string {
	parts := strings.Split(s, "_")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}

// summary is the first sentence of a description.
func summary(doc string) string {
	if i := strings.Index(doc, ". "); i >= 0 {
		return doc[:i+1]
	}
	return doc
}

// cloudEventsHeaders is the schema of the headers the relay sets on every event.
func cloudEventsHeaders() object {
	str := func(desc string, extra ...any) object {
		o := object{"type": "string", "description": desc}
		for i := 0; i+1 < len(extra); i += 2 {
			o[extra[i].(string)] = extra[i+1]
		}
		return o
	}
	return object{
		"type":        "object",
		"description": "CloudEvents 1.0 attributes in binary mode, and the NATS and trace headers every event carries.",
		"required": []any{"ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time", "ce-subject",
			"ce-aggregateversion", "Content-Type", "Nats-Msg-Id"},
		"properties": object{
			"ce-specversion": str("The CloudEvents version.", "const", "1.0"),
			"ce-id":          str("The event's id, a UUIDv7 unique per event. Key idempotent consumers on it.", "format", "uuid"),
			"ce-source":      str("`/quarterdeck/<domain>`: the domain that published the event."),
			"ce-type":        str("The full name of the event's proto message, e.g. `quarterdeck.budget.v1.CostCenterUpdated`."),
			"ce-time":        str("When the change committed (RFC 3339, UTC); for a calendar event, when it fired.", "format", "date-time"),
			"ce-subject":     str("The name of the resource the event is about, e.g. `vendors/acme/contracts/support`."),
			"ce-aggregateversion": str("The resource's version after the change, in decimal: 1 for its creation, +1 per change. "+
				"Order the events of one resource by it and drop an event not newer than the last one applied.", "pattern", "^[0-9]+$"),
			"Content-Type": str("The payload's encoding: protojson.", "const", "application/json"),
			"Nats-Msg-Id":  str("Equal to `ce-id`: JetStream drops a second publish of the event within the stream's duplicate window.", "format", "uuid"),
			"traceparent": str("W3C trace context of the publish, a child of the request that made the change; absent when the change had none.",
				"pattern", "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"),
			"tracestate": str("W3C trace state, when the request carried one."),
			"Nats-Expected-Stream": str("The stream the relay required to store the event, `<PREFIX>_<DOMAIN>`; "+
				"JetStream keeps this header of the publish with the message.", "pattern", "^[A-Z][A-Z0-9_]*$"),
			"Nats-Batch-Id": str("Only on an event the relay published in a JetStream atomic batch (a backlog, on a stream that takes them): " +
				"the batch's id, which JetStream keeps with the message. A subscriber can ignore it."),
			"Nats-Batch-Sequence": str("With `Nats-Batch-Id`: the event's place in its batch, from 1.", "pattern", "^[1-9][0-9]*$"),
			"Nats-Batch-Commit":   str("With `Nats-Batch-Id`, on the batch's last event only.", "const", "1"),
		},
	}
}

// index finds the protogen form of any message or enum of the request, for its comments.
type index struct {
	messages map[protoreflect.FullName]*protogen.Message
	enums    map[protoreflect.FullName]*protogen.Enum
}

func newIndex(p *protogen.Plugin) *index {
	idx := &index{messages: map[protoreflect.FullName]*protogen.Message{}, enums: map[protoreflect.FullName]*protogen.Enum{}}
	var walk func([]*protogen.Message, []*protogen.Enum)
	walk = func(ms []*protogen.Message, es []*protogen.Enum) {
		for _, e := range es {
			idx.enums[e.Desc.FullName()] = e
		}
		for _, m := range ms {
			idx.messages[m.Desc.FullName()] = m
			walk(m.Messages, m.Enums)
		}
	}
	for _, f := range p.Files {
		walk(f.Messages, f.Enums)
	}
	return idx
}

// addMessage adds the schema of md and of every message and enum it refers to.
func (idx *index) addMessage(schemas object, md protoreflect.MessageDescriptor) error {
	name := string(md.FullName())
	if _, done := schemas[name]; done {
		return nil
	}
	if md.IsMapEntry() {
		return fmt.Errorf("%s: a map entry has no schema of its own", name)
	}
	props := object{}
	s := object{"type": "object", "properties": props}
	schemas[name] = s // before the fields, so that a recursive message refers to itself
	if m := idx.messages[md.FullName()]; m != nil {
		if d := comment(m.Comments.Leading); d != "" {
			s["description"] = d
		}
	}
	fields := md.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		fs, err := idx.field(schemas, f)
		if err != nil {
			return err
		}
		if m := idx.messages[md.FullName()]; m != nil {
			if d := comment(m.Fields[i].Comments.Leading); d != "" {
				fs = described(fs, d)
			}
		}
		props[f.JSONName()] = fs
	}
	return nil
}

// described adds a description to a field's schema. A reference cannot have siblings in the
// schema dialect of AsyncAPI 3.0 (JSON Schema draft 7), so it is wrapped in allOf.
func described(s object, d string) object {
	if _, ref := s["$ref"]; ref {
		return object{"description": d, "allOf": []any{s}}
	}
	s["description"] = d
	return s
}

func (idx *index) field(schemas object, f protoreflect.FieldDescriptor) (object, error) {
	if f.IsMap() {
		v, err := idx.single(schemas, f.MapValue())
		if err != nil {
			return nil, err
		}
		return object{"type": "object", "additionalProperties": v}, nil
	}
	s, err := idx.single(schemas, f)
	if err != nil {
		return nil, err
	}
	if f.IsList() {
		return object{"type": "array", "items": s}, nil
	}
	return s, nil
}

// single is the schema of one value of f as protojson writes it.
func (idx *index) single(schemas object, f protoreflect.FieldDescriptor) (object, error) {
	switch f.Kind() {
	case protoreflect.BoolKind:
		return object{"type": "boolean"}, nil
	case protoreflect.StringKind:
		return object{"type": "string"}, nil
	case protoreflect.BytesKind:
		return object{"type": "string", "contentEncoding": "base64"}, nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return object{"type": "integer", "format": "int32"}, nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return object{"type": "integer", "format": "uint32", "minimum": 0}, nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return object{"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}, nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return object{"type": "string", "format": "uint64", "pattern": "^[0-9]+$"}, nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return object{"type": "number"}, nil
	case protoreflect.EnumKind:
		return idx.enum(schemas, f.Enum()), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if wk, ok := wellKnown(f.Message().FullName()); ok {
			return wk, nil
		}
		if err := idx.addMessage(schemas, f.Message()); err != nil {
			return nil, err
		}
		return object{"$ref": "#/components/schemas/" + string(f.Message().FullName())}, nil
	}
	return nil, fmt.Errorf("%s: kind %s has no schema", f.FullName(), f.Kind())
}

// enum adds the schema of an enum, its value names (protojson writes enums by name), and refers
// to it.
func (idx *index) enum(schemas object, ed protoreflect.EnumDescriptor) object {
	name := string(ed.FullName())
	if _, done := schemas[name]; !done {
		var values []any
		for i := range ed.Values().Len() {
			values = append(values, string(ed.Values().Get(i).Name()))
		}
		s := object{"type": "string", "enum": values}
		if e := idx.enums[ed.FullName()]; e != nil {
			if d := comment(e.Comments.Leading); d != "" {
				s["description"] = d
			}
		}
		schemas[name] = s
	}
	return object{"$ref": "#/components/schemas/" + name}
}

// wellKnown is the schema of a well-known type that protojson writes in a form of its own.
func wellKnown(name protoreflect.FullName) (object, bool) {
	switch name {
	case "google.protobuf.Timestamp":
		return object{"type": "string", "format": "date-time"}, true
	case "google.protobuf.Duration":
		return object{"type": "string", "pattern": `^-?[0-9]+(\.[0-9]{1,9})?s$`}, true
	case "google.protobuf.FieldMask":
		return object{"type": "string", "description": "Field paths in their JSON form, separated by commas."}, true
	case "google.protobuf.Struct":
		return object{"type": "object"}, true
	case "google.protobuf.Value":
		return object{}, true
	case "google.protobuf.ListValue":
		return object{"type": "array"}, true
	case "google.protobuf.Empty":
		return object{"type": "object"}, true
	case "google.protobuf.Any":
		return object{"type": "object", "properties": object{"@type": object{"type": "string"}}, "required": []any{"@type"}}, true
	case "google.protobuf.StringValue":
		return object{"type": "string"}, true
	case "google.protobuf.BytesValue":
		return object{"type": "string", "contentEncoding": "base64"}, true
	case "google.protobuf.BoolValue":
		return object{"type": "boolean"}, true
	case "google.protobuf.Int32Value", "google.protobuf.UInt32Value":
		return object{"type": "integer"}, true
	case "google.protobuf.Int64Value", "google.protobuf.UInt64Value":
		return object{"type": "string", "pattern": "^-?[0-9]+$"}, true
	case "google.protobuf.FloatValue", "google.protobuf.DoubleValue":
		return object{"type": "number"}, true
	}
	return nil, false
}
