package browser

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// adminKey is the bootstrap admin key of the platform the test starts.
const adminKey = "browser-test-admin-key-0123456789abcdefghij"

// binary is the quarterdeck binary built by TestMain ("" when there is no browser to test with).
var binary string

// chromium is the browser's path ("" when none is installed).
var chromium string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	chromium = findChromium()
	if chromium == "" {
		// The tests skip with the reason; nothing to build.
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "quarterdeck-browser-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browser test:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "quarterdeck")
	goTool, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browser test: no go command on PATH:", err)
		return 1
	}
	cmd := exec.Command(goTool, "build", "-o", binary, "./deploy/standalone")
	cmd.Dir = repoRoot()
	cmd.Env = os.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "browser test: build the standalone binary: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// findChromium is QUARTERDECK_TEST_CHROMIUM, or the first of Debian's and the usual names on PATH.
func findChromium() string {
	if p := os.Getenv("QUARTERDECK_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func needBrowser(t *testing.T) {
	t.Helper()
	if chromium == "" {
		t.Skip("no Chromium: install it (Debian: apt-get install chromium) or set QUARTERDECK_TEST_CHROMIUM to a Chrome binary; CI installs it")
	}
}

// repoRoot is the repository's root: this package is test/browser.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// platform is a running standalone binary.
type platform struct {
	rest string
	cmd  *exec.Cmd
	log  *lockedBuffer
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startPlatform starts the standalone binary on free ports with a fresh data folder and waits
// for its ready line. extra are more environment variables (QUARTERDECK_…=…).
func startPlatform(t *testing.T, extra ...string) *platform {
	t.Helper()
	dataDir := t.TempDir()
	cmd := exec.Command(binary, "--http-addr", "127.0.0.1:0", "--nats-port", "0", "--data-dir", dataDir)
	cmd.Env = append(cleanEnv(), append([]string{"QUARTERDECK_BOOTSTRAP_API_KEY=" + adminKey}, extra...)...)
	pr, pw := io.Pipe()
	logs := &lockedBuffer{}
	cmd.Stdout = logs
	cmd.Stderr = io.MultiWriter(logs, pw)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start quarterdeck: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("quarterdeck's output:\n%s", logs.String())
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				REST string `json:"rest"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "Quarterdeck is ready" {
				ready <- line.REST
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case rest := <-ready:
		return &platform{rest: rest, cmd: cmd, log: logs}
	case <-done:
		t.Fatalf("quarterdeck exited before it was ready:\n%s", logs.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("quarterdeck not ready after 90s:\n%s", logs.String())
	}
	return nil
}

// cleanEnv is the environment without the QUARTERDECK_ settings of whoever runs the test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "QUARTERDECK_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// loadDemo runs `quarterdeck demo` against the platform and returns its summary line.
func loadDemo(t *testing.T, p *platform, small bool) string {
	t.Helper()
	args := []string{"demo", "--url", p.rest}
	if small {
		args = append(args, "--small")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(cleanEnv(), "QUARTERDECK_API_KEY="+adminKey)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quarterdeck demo: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// createKey makes an API key with the scopes through the admin API and returns it.
func createKey(t *testing.T, p *platform, scopes ...string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"displayName": "limited", "principal": "principals/limited", "scopes": scopes})
	req, _ := http.NewRequest("POST", p.rest+"/v1/apiKeys", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var key struct {
		Key string `json:"key"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&key); err != nil || resp.StatusCode != 200 || key.Key == "" {
		t.Fatalf("create a key: %d %v", resp.StatusCode, err)
	}
	return key.Key
}

// getJSON reads a resource with the admin key.
func getJSON(t *testing.T, p *platform, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", p.rest+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
