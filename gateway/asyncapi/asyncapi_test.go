package asyncapi_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/quarterdeck/quarterdeck/gateway/asyncapi"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"

	// Every domain's events, registered for the look-ups below.
	_ "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	_ "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/iam/v1"
	_ "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	_ "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	_ "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
)

type document struct {
	AsyncAPI string `json:"asyncapi"`
	Channels map[string]struct {
		Address  string                       `json:"address"`
		Messages map[string]map[string]string `json:"messages"`
	} `json:"channels"`
	Components struct {
		Messages map[string]struct {
			Name    string          `json:"name"`
			Headers json.RawMessage `json:"headers"`
			Payload struct {
				Ref string `json:"$ref"`
			} `json:"payload"`
		} `json:"messages"`
		Schemas map[string]struct {
			Required   []string                   `json:"required"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
		Parameters map[string]struct {
			Default string `json:"default"`
		} `json:"parameters"`
	} `json:"components"`
}

// TestDocumentDescribesTheWire checks the document against what the kit publishes: every event
// message of every domain has a channel whose address, with the default prefix, is the subject
// the kit computes for it; its message is the event's type; its payload schema names the fields
// protojson writes; and the headers are the ones the relay sets.
func TestDocumentDescribesTheWire(t *testing.T) {
	var doc document
	if err := json.Unmarshal(asyncapi.Document, &doc); err != nil {
		t.Fatalf("parse the document: %v", err)
	}
	if doc.AsyncAPI != "3.0.0" {
		t.Errorf("asyncapi %q, want 3.0.0", doc.AsyncAPI)
	}
	prefix := doc.Components.Parameters["prefix"].Default
	if prefix != events.DefaultPrefix {
		t.Errorf("prefix parameter defaults to %q, want %q", prefix, events.DefaultPrefix)
	}

	// The subject of each channel, with the default prefix, and its one message.
	bySubject := map[string]string{}
	for id, ch := range doc.Channels {
		if len(ch.Messages) != 1 {
			t.Errorf("channel %s has %d messages, want 1", id, len(ch.Messages))
		}
		for _, m := range ch.Messages {
			bySubject[strings.Replace(ch.Address, "{prefix}", prefix, 1)] = strings.TrimPrefix(m["$ref"], "#/components/messages/")
		}
	}

	n := 0
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		md := mt.Descriptor()
		spec, err := events.SpecOfDescriptor(md)
		if err != nil {
			return true // not an event
		}
		n++
		subject := spec.Subject(events.DefaultPrefix)
		msgID, ok := bySubject[subject]
		if !ok {
			t.Errorf("%s: no channel at %s", spec.Type, subject)
			return true
		}
		msg := doc.Components.Messages[msgID]
		if msgID != spec.Type || msg.Name != spec.Type {
			t.Errorf("%s: channel %s carries message %s named %s", spec.Type, subject, msgID, msg.Name)
		}
		var headers bytes.Buffer
		_ = json.Compact(&headers, msg.Headers)
		if !strings.Contains(headers.String(), `"const":"`+spec.Type+`"`) ||
			!strings.Contains(headers.String(), `"const":"`+events.Source(spec.Domain)+`"`) {
			t.Errorf("%s: headers do not fix ce-type and ce-source: %s", spec.Type, msg.Headers)
		}
		// protojson writes every set field under its JSON name: fill each with a value and
		// compare the names it writes with the schema's.
		schema, ok := doc.Components.Schemas[strings.TrimPrefix(msg.Payload.Ref, "#/components/schemas/")]
		if !ok {
			t.Errorf("%s: payload %q is not a schema of the document", spec.Type, msg.Payload.Ref)
			return true
		}
		written := map[string]any{}
		if err := json.Unmarshal(populated(t, mt), &written); err != nil {
			t.Fatal(err)
		}
		for name := range written {
			if _, ok := schema.Properties[name]; !ok {
				t.Errorf("%s: protojson writes %q, the payload schema lacks it", spec.Type, name)
			}
		}
		if len(schema.Properties) != md.Fields().Len() {
			t.Errorf("%s: payload schema has %d properties, the message %d fields", spec.Type, len(schema.Properties), md.Fields().Len())
		}
		return true
	})
	if n == 0 || n != len(doc.Channels) {
		t.Errorf("%d event messages registered, %d channels in the document", n, len(doc.Channels))
	}

	headers := doc.Components.Schemas["CloudEventsHeaders"]
	for _, h := range []string{events.HeaderSpecVersion, events.HeaderID, events.HeaderSource, events.HeaderType,
		events.HeaderTime, events.HeaderSubject, events.HeaderVersion, events.HeaderContentType, events.HeaderMsgID} {
		if !slices.Contains(headers.Required, h) {
			t.Errorf("header %s is not required by CloudEventsHeaders (required: %v)", h, headers.Required)
		}
	}
	for _, h := range []string{events.HeaderTraceParent, events.HeaderTraceState} {
		if _, ok := headers.Properties[h]; !ok {
			t.Errorf("header %s is not described", h)
		}
	}
}

// populated returns the protojson of a message of type mt whose every top-level field is set.
func populated(t *testing.T, mt protoreflect.MessageType) []byte {
	t.Helper()
	m := mt.New()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		switch {
		case f.IsList():
			l := m.Mutable(f).List()
			l.Append(l.NewElement())
		case f.IsMap():
			m.Mutable(f).Map().Set(protoreflect.ValueOfString("k").MapKey(), m.Mutable(f).Map().NewValue())
		case f.Kind() == protoreflect.MessageKind:
			m.Mutable(f)
		case f.Kind() == protoreflect.EnumKind:
			m.Set(f, protoreflect.ValueOfEnum(1))
		case f.Kind() == protoreflect.StringKind:
			m.Set(f, protoreflect.ValueOfString("x"))
		case f.Kind() == protoreflect.BoolKind:
			m.Set(f, protoreflect.ValueOfBool(true))
		case f.Kind() == protoreflect.BytesKind:
			m.Set(f, protoreflect.ValueOfBytes([]byte{1}))
		default:
			m.Set(f, nonZero(f.Kind()))
		}
	}
	b, err := protojson.Marshal(m.Interface())
	if err != nil {
		t.Fatalf("%s: %v", mt.Descriptor().FullName(), err)
	}
	return b
}

func nonZero(k protoreflect.Kind) protoreflect.Value {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(1)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(1)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(1)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(1)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(1)
	default:
		return protoreflect.ValueOfFloat64(1)
	}
}
