package gateway_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/quarterdeck/quarterdeck/gateway/asyncapi"
)

// checkAsyncAPI checks an event as the platform published it against the AsyncAPI document the
// gateway serves: its subject is a channel's address, every header the document requires is
// there, every header there is described and matches its schema's value or pattern, and every
// field of the payload is a property of the message's payload schema.
func checkAsyncAPI(t *testing.T, prefix, subject string, h nats.Header, data []byte) {
	t.Helper()
	type schema struct {
		Ref        string            `json:"$ref"`
		Const      string            `json:"const"`
		Pattern    string            `json:"pattern"`
		Required   []string          `json:"required"`
		Properties map[string]schema `json:"properties"`
		AllOf      []schema          `json:"allOf"`
	}
	var doc struct {
		Channels map[string]struct {
			Address  string                       `json:"address"`
			Messages map[string]map[string]string `json:"messages"`
		} `json:"channels"`
		Components struct {
			Messages map[string]struct {
				Headers schema `json:"headers"`
				Payload schema `json:"payload"`
			} `json:"messages"`
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(asyncapi.Document, &doc); err != nil {
		t.Fatal(err)
	}
	ref := func(s schema) schema {
		if s.Ref != "" {
			return doc.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
		}
		return s
	}
	var msgRef string
	for _, ch := range doc.Channels {
		if strings.Replace(ch.Address, "{prefix}", prefix, 1) == subject {
			for _, m := range ch.Messages {
				msgRef = strings.TrimPrefix(m["$ref"], "#/components/messages/")
			}
		}
	}
	msg, ok := doc.Components.Messages[msgRef]
	if !ok {
		t.Fatalf("asyncapi.json has no channel with a message at %s", subject)
	}
	// The headers' schema: the common one and the message's own, merged.
	headers := map[string]schema{}
	var required []string
	for _, part := range msg.Headers.AllOf {
		part = ref(part)
		required = append(required, part.Required...)
		for k, v := range part.Properties {
			if prev, ok := headers[k]; ok && v.Const == "" {
				v.Const = prev.Const
			}
			headers[k] = v
		}
	}
	for _, k := range required {
		if h.Get(k) == "" {
			t.Errorf("asyncapi.json requires header %s; the event has none", k)
		}
	}
	for k := range h {
		s, ok := headers[k]
		switch {
		case !ok:
			t.Errorf("the event has header %s; asyncapi.json does not describe it", k)
		case s.Const != "" && h.Get(k) != s.Const:
			t.Errorf("header %s = %q; asyncapi.json says %q", k, h.Get(k), s.Const)
		case s.Pattern != "" && !regexp.MustCompile(s.Pattern).MatchString(h.Get(k)):
			t.Errorf("header %s = %q does not match asyncapi.json's pattern %s", k, h.Get(k), s.Pattern)
		}
	}
	var payload map[string]any
	if err := json.Unmarshal(data, &payload); err != nil {
		t.Fatal(err)
	}
	props := ref(msg.Payload).Properties
	for k := range payload {
		if _, ok := props[k]; !ok {
			keys := make([]string, 0, len(props))
			for p := range props {
				keys = append(keys, p)
			}
			slices.Sort(keys)
			t.Errorf("payload field %s is not in asyncapi.json's schema (%v)", k, keys)
		}
	}
}
