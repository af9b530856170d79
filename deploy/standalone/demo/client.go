package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// client calls the public REST API with one API key.
type client struct {
	base  string
	key   string
	http  *http.Client
	calls int
}

// apiError is a refused call: its HTTP status and the ErrorInfo reason.
type apiError struct {
	Method, Path string
	Status       int
	Reason       string
	Message      string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s %s", e.Method, e.Path, e.Status, e.Reason, e.Message)
}

func status(err error) int {
	var e *apiError
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// do sends one call and decodes the answer into out (when not nil). It retries what the gateway
// asks to retry (429, 503) after a pause.
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+c.key)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		c.calls++
		resp, err := c.http.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && attempt < 20 {
			wait := 250 * time.Millisecond * time.Duration(attempt+1)
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		if resp.StatusCode >= 300 {
			var st struct {
				Message string `json:"message"`
				Details []struct {
					Type            string `json:"@type"`
					Reason          string `json:"reason"`
					FieldViolations []struct {
						Field       string `json:"field"`
						Description string `json:"description"`
					} `json:"fieldViolations"`
				} `json:"details"`
			}
			_ = json.Unmarshal(data, &st)
			e := &apiError{Method: method, Path: path, Status: resp.StatusCode, Message: st.Message}
			for _, d := range st.Details {
				if strings.HasSuffix(d.Type, "ErrorInfo") {
					e.Reason = d.Reason
				}
				for _, v := range d.FieldViolations {
					e.Message += fmt.Sprintf("; %s: %s", v.Field, v.Description)
				}
			}
			return e
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("%s %s: decode: %w", method, path, err)
			}
		}
		return nil
	}
}

// ensure creates a resource with a fixed id, or reads it when it exists already (a second run):
// a refused create is looked up by its name, whatever the refusal said (ALREADY_EXISTS, or a
// rule such as "one pending acceptance per risk" that the existing resource itself trips). It
// reports whether it created it.
// query adds parameters to the create (already escaped, each "name=value").
func (c *client) ensure(ctx context.Context, collection, idParam, id string, body, out any, query ...string) (bool, error) {
	path := "/v1/" + collection + "?" + idParam + "=" + url.QueryEscape(id)
	for _, q := range query {
		path += "&" + q
	}
	err := c.do(ctx, "POST", path, body, out)
	if err == nil {
		return true, nil
	}
	if s := status(err); s != http.StatusConflict && s != http.StatusBadRequest && s != http.StatusPreconditionFailed {
		return false, err
	}
	if gerr := c.do(ctx, "GET", "/v1/"+collection+"/"+id, nil, out); gerr != nil {
		return false, err
	}
	return false, nil
}

// list reads every item of a collection into items (field is the collection's field).
func list[T any](ctx context.Context, c *client, path, field string) ([]T, error) {
	var all []T
	token := ""
	for {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		p := path + sep + "pageSize=500"
		if token != "" {
			p += "&pageToken=" + url.QueryEscape(token)
		}
		var page map[string]json.RawMessage
		if err := c.do(ctx, "GET", p, nil, &page); err != nil {
			return nil, err
		}
		var items []T
		if raw, ok := page[field]; ok {
			if err := json.Unmarshal(raw, &items); err != nil {
				return nil, err
			}
		}
		all = append(all, items...)
		token = ""
		if raw, ok := page["nextPageToken"]; ok {
			_ = json.Unmarshal(raw, &token)
		}
		if token == "" {
			return all, nil
		}
	}
}
