package conformance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
)

// The demo data of the hardening cases: `mlmon simulate` traffic of model credit_risk (8 days ending at the start of
// the current hour, scripted incidents included), written once per run into an embedded data directory and into a
// private ClickHouse server (conformance/testdata/clickhouse.ts), shared by every test that needs it.
const (
	demoModel = "credit_risk"
	demoDays  = 8
)

// clickhousePassword is the password of the ClickHouse user "monitor": it holds characters that URL encoding and
// base64 change, so that every form of it can be looked for in what the backend answers and logs.
const clickhousePassword = "Pa55:w/rd@%+é"

var (
	fixtureDir  string
	demoEnd     = time.Now().UTC().Truncate(time.Hour)
	embeddedDir struct {
		once sync.Once
		path string
		err  error
	}
	clickhouse struct {
		once     sync.Once
		url      string
		database string
		stdin    io.WriteCloser
		cmd      *exec.Cmd
		err      error
	}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mlmon-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	if clickhouse.cmd != nil {
		_ = clickhouse.stdin.Close()
		_ = clickhouse.cmd.Wait()
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// mlmon runs the repository's CLI (bin/mlmon.js) with extra environment variables.
func mlmon(root string, env []string, args ...string) ([]byte, error) {
	cmd := exec.Command("node", append([]string{filepath.Join(root, "bin", "mlmon.js")}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

// simulateArgs are the `mlmon simulate` options of the demo data.
func simulateArgs() []string {
	return []string{"simulate", "--models", demoModel, "--days", strconv.Itoa(demoDays), "--end", demoEnd.Format(time.RFC3339)}
}

// demoDataDirectory is the embedded store holding the demo data.
func demoDataDirectory(t *testing.T) string {
	t.Helper()
	embeddedDir.once.Do(func() {
		embeddedDir.path = filepath.Join(fixtureDir, "embedded")
		out, err := mlmon(repoRoot(t), nil, append(simulateArgs(), "--data-dir", embeddedDir.path)...)
		if err != nil {
			embeddedDir.err = fmt.Errorf("mlmon simulate into %s: %v\n%s", embeddedDir.path, err, out)
		}
	})
	if embeddedDir.err != nil {
		t.Fatal(embeddedDir.err)
	}
	return embeddedDir.path
}

// demoClickHouse starts the private ClickHouse server (once) and writes the demo data into it.
func demoClickHouse(t *testing.T) (url, database string) {
	t.Helper()
	clickhouse.once.Do(func() {
		root := repoRoot(t)
		cmd := exec.Command("node", filepath.Join(root, "node_modules", "tsx", "dist", "cli.mjs"),
			filepath.Join(root, "conformance", "testdata", "clickhouse.ts"))
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "MLMON_CONFORMANCE_CLICKHOUSE_PASSWORD="+clickhousePassword)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err == nil {
			var stdout io.ReadCloser
			if stdout, err = cmd.StdoutPipe(); err == nil {
				if err = cmd.Start(); err == nil {
					clickhouse.cmd, clickhouse.stdin = cmd, stdin
					var started struct{ URL, Database string }
					line, readErr := bufio.NewReader(stdout).ReadString('\n')
					if err = readErr; err == nil {
						err = json.Unmarshal([]byte(line), &started)
					}
					clickhouse.url, clickhouse.database = started.URL, started.Database
				}
			}
		}
		if err != nil {
			clickhouse.err = fmt.Errorf("starting ClickHouse (conformance/testdata/clickhouse.ts): %v", err)
			return
		}
		out, err := mlmon(root, nil, append(simulateArgs(), "--clickhouse", clickhouse.url, "--clickhouse-database", clickhouse.database)...)
		if err != nil {
			clickhouse.err = fmt.Errorf("mlmon simulate into ClickHouse: %v\n%s", err, out)
		}
	})
	if clickhouse.err != nil {
		t.Fatal(clickhouse.err)
	}
	return clickhouse.url, clickhouse.database
}

// demoStore is one store holding the demo data, as a datasource's settings.
type demoStore struct {
	name     string
	jsonData map[string]any
	secure   map[string]string
}

// context is the PluginContext of a datasource on this store (a fresh uid per call keeps instances apart).
func (s demoStore) context(uid string) *pluginv2.PluginContext {
	return datasource(s.name+"-"+uid, s.jsonData, s.secure)
}

// demoStores are both stores with the demo data: the embedded directory and ClickHouse (user monitor).
func demoStores(t *testing.T) []demoStore {
	t.Helper()
	url, database := demoClickHouse(t)
	return []demoStore{
		{name: "embedded", jsonData: map[string]any{"dataDirectory": demoDataDirectory(t)}},
		{
			name:     "clickhouse",
			jsonData: map[string]any{"storeKind": "clickhouse", "clickhouseUrl": url, "database": database, "user": "monitor"},
			secure:   map[string]string{"password": clickhousePassword},
		},
	}
}

// cpuSeconds is the CPU time (user + system) the process has used, from /proc/<pid>/stat.
func cpuSeconds(t *testing.T, pid int) float64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("reading the backend's CPU time: %v", err)
	}
	// Fields after the command name (which may hold spaces) start after the last ')'; utime and stime are 14 and 15.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	user, _ := strconv.ParseFloat(fields[11], 64)
	system, _ := strconv.ParseFloat(fields[12], 64)
	return (user + system) / 100 // clock ticks; 100 per second on Linux
}
