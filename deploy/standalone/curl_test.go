//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
)

// A guide may also write its calls as curl commands, as the README does, in an sh block:
//
//	```sh
//	curl -s -X POST http://127.0.0.1:8080/v1/costCenters \
//	  -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
//	  -d '{"displayName":"Infrastructure","code":"CC-100"}'
//	```
//
// and the json block right after it is the answer its last curl command must give: an error
// (an object with a numeric "code", the gRPC code) with that code's HTTP status, anything else
// with 200. The runner knows the curl options the docs use: -s, -S, -i, -X, -H, -d (--data,
// --data-raw), -G with --data-urlencode; any other option is an error of the guide, so that a
// command the runner cannot read is never skipped. Other lines (export, comments) are not run.

// curlExchanges returns the exchanges of the curl commands of an sh block.
func curlExchanges(block string, line int) ([]guideExchange, error) {
	var out []guideExchange
	logical := strings.ReplaceAll(block, "\\\n", " ")
	for i, l := range strings.Split(logical, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "curl ") {
			continue
		}
		words, err := shellWords(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line+i, err)
		}
		ex, err := curlExchange(words[1:])
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line+i, err)
		}
		ex.line = line + i
		out = append(out, ex)
	}
	return out, nil
}

// curlExchange reads curl's arguments.
func curlExchange(args []string) (guideExchange, error) {
	var (
		ex       guideExchange
		data     []string
		get      bool
		urlArg   string
		encoded  url.Values = url.Values{}
		hasQuery bool
	)
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("curl %s needs a value", a)
			}
			i++
			return args[i], nil
		}
		var err error
		switch a {
		case "-s", "-S", "-sS", "-i", "--silent", "--show-error":
		case "-X", "--request":
			ex.method, err = value()
		case "-H", "--header":
			var h string
			if h, err = value(); err == nil {
				k, v, ok := strings.Cut(h, ":")
				if !ok {
					return ex, fmt.Errorf("curl header %q has no colon", h)
				}
				ex.headers = append(ex.headers, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
			}
		case "-d", "--data", "--data-raw":
			var d string
			if d, err = value(); err == nil {
				data = append(data, d)
			}
		case "-G", "--get":
			get = true
		case "--data-urlencode":
			var d string
			if d, err = value(); err == nil {
				k, v, _ := strings.Cut(d, "=")
				encoded.Add(k, v)
				hasQuery = true
			}
		default:
			if strings.HasPrefix(a, "-") || urlArg != "" {
				return ex, fmt.Errorf("curl argument %q: the guide runner does not know it", a)
			}
			urlArg = a
		}
		if err != nil {
			return ex, err
		}
	}
	u, err := url.Parse(urlArg)
	if err != nil || u.Path == "" {
		return ex, fmt.Errorf("curl without a URL with a path: %q", urlArg)
	}
	ex.target = u.EscapedPath()
	query := u.RawQuery
	if hasQuery {
		if query != "" {
			query += "&"
		}
		query += encoded.Encode()
	}
	if get {
		for _, d := range data {
			query = strings.TrimPrefix(query+"&"+d, "&")
		}
		data = nil
	}
	if query != "" {
		ex.target += "?" + query
	}
	ex.body = strings.Join(data, "&")
	if ex.method == "" {
		ex.method = "GET"
		if ex.body != "" {
			ex.method = "POST"
		}
	}
	return ex, nil
}

// curlAnswer makes a json block the answer of the curl exchange before it.
func curlAnswer(ex *guideExchange, block string) error {
	var v map[string]any
	if err := json.Unmarshal([]byte(strings.ReplaceAll(block, "…", "")), &v); err != nil {
		return fmt.Errorf("the answer of a curl command is not a JSON object: %v", err)
	}
	ex.status = 200
	if c, ok := v["code"].(float64); ok {
		if _, isMessage := v["message"]; isMessage {
			ex.status = runtime.HTTPStatusFromCode(codes.Code(c))
		}
	}
	ex.want = strings.TrimSpace(block)
	return nil
}

// shellWords splits a command line as a POSIX shell would for the quoting the docs use: single
// quotes keep everything, double quotes keep spaces (and $VAR, which the runner expands), a
// backslash outside single quotes keeps the next character.
func shellWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // a word has started
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unclosed ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			in = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`, s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unclosed \" in %q", s)
			}
			in = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		case c == '#' && !in:
			i = len(s) // a comment to the end of the line
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// TestCurlParsing checks the runner's reading of curl commands and of "…" in answers.
func TestCurlParsing(t *testing.T) {
	exs, err := parseGuide("```sh\nexport KEY=x   # a comment\n" +
		"curl -s -X PATCH http://127.0.0.1:8080/v1/costCenters/a \\\n  -H \"Authorization: Bearer $KEY\" \\\n" +
		"  -H 'Content-Type: application/json' -d '{\"displayName\":\"It'\\''s\"}'\n" +
		"curl -sS -G http://127.0.0.1:8080/v1/budgets --data-urlencode 'filter=state = APPROVED'\n```\n" +
		"```json\n{\"code\":5, \"message\":\"…\"}\n```\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 2 {
		t.Fatalf("%d exchanges, want 2: %+v", len(exs), exs)
	}
	patch, get := exs[0], exs[1]
	if patch.method != "PATCH" || patch.target != "/v1/costCenters/a" || patch.body != `{"displayName":"It's"}` ||
		len(patch.headers) != 2 || patch.headers[0] != [2]string{"Authorization", "Bearer $KEY"} || patch.status != 0 {
		t.Errorf("patch = %+v", patch)
	}
	if get.method != "GET" || get.target != "/v1/budgets?filter=state+%3D+APPROVED" || get.body != "" || get.status != 404 {
		t.Errorf("get = %+v, want the filter URL-encoded and the answer's NOT_FOUND as 404", get)
	}
	if _, err := parseGuide("```sh\ncurl -k https://x/v1/a\n```\n"); err == nil {
		t.Error("an unknown curl option was accepted")
	}
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"costCenters/…", "costCenters/01a2", true},
		{"costCenters/…", "budgets/01a2", false},
		{"a…b…c", "a-x-b-y-c", true},
		{"a…b…c", "a-x-c", false},
		{"…Z", "2026-01-01T00:00:00Z", true},
	} {
		if got := glob(c.pattern, c.s); got != c.want {
			t.Errorf("glob(%q, %q) = %v", c.pattern, c.s, got)
		}
	}
}
