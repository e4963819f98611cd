package conformance

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
)

// aliasTTL is the backend's alias cache (src/server/registry/resolve.ts ALIAS_TTL_MS): queries follow a moved alias
// within it.
const aliasTTL = 5 * time.Second

// mlflowPython is the Python with MLflow (MLMON_MLFLOW_PYTHON, else ~/.cache/mlmon-mlflow-venv); the test fails saying
// how to install it when there is none: the registry tests are never skipped.
func mlflowPython(t *testing.T) string {
	t.Helper()
	python := os.Getenv("MLMON_MLFLOW_PYTHON")
	if python == "" {
		home, _ := os.UserHomeDir()
		python = filepath.Join(home, ".cache", "mlmon-mlflow-venv", "bin", "python")
	}
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("no Python with MLflow at %s: python3 -m venv ~/.cache/mlmon-mlflow-venv && ~/.cache/mlmon-mlflow-venv/bin/pip install mlflow==3.18.0 (or set MLMON_MLFLOW_PYTHON), as .ci/run does", python)
	}
	return python
}

// mlflowServer is a real MLflow tracking server on loopback (SQLite backend, artifacts served).
type mlflowServer struct {
	url    string
	python string
	root   string
}

// startMlflow starts `mlflow server` on a free loopback port in a process group of its own (stopped with the test).
func startMlflow(t *testing.T) *mlflowServer {
	t.Helper()
	python := mlflowPython(t)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	listener.Close()
	dir := t.TempDir()
	cmd := exec.Command(python, "-m", "mlflow", "server", "--backend-store-uri", "sqlite:///"+filepath.Join(dir, "mlflow.db"),
		"--artifacts-destination", filepath.Join(dir, "artifacts"), "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--workers", "1")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log := &lockedLog{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if res, err := http.Get(url + "/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return &mlflowServer{url: url, python: python, root: repoRoot(t)}
			}
		}
		select {
		case <-exited:
			t.Fatalf("mlflow server exited:\n%s", log.String())
		default:
		}
	}
	t.Fatalf("mlflow server did not answer on %s within 120 s:\n%s", url, log.String())
	return nil
}

// run drives the server with MLflow's own client (test/support/mlflow_registry.py) and returns its JSON answer.
func (m *mlflowServer) run(t *testing.T, args ...string) map[string]string {
	t.Helper()
	cmd := exec.Command(m.python, append([]string{filepath.Join(m.root, "test", "support", "mlflow_registry.py")}, args...)...)
	cmd.Env = append(os.Environ(), "MLFLOW_TRACKING_URI="+m.url, "GIT_PYTHON_REFRESH=quiet")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mlflow_registry.py %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	answer := map[string]string{}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &answer); err != nil {
		t.Fatalf("mlflow_registry.py %s answered %q", strings.Join(args, " "), out)
	}
	return answer
}

// startCollectorWithRegistry runs `mlmon serve --registry-url` on the data directory; its log is returned.
func startCollectorWithRegistry(t *testing.T, dataDir, registryURL string) *lockedLog {
	t.Helper()
	return startMlmon(t, []string{"serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir", dataDir,
		"--registry-url", registryURL, "--registry-interval-ms", "300"}, nil, 20*time.Second)
}

// waitForLog waits up to `within` for the pattern in the log.
func waitForLog(t *testing.T, log *lockedLog, pattern string, within time.Duration) {
	t.Helper()
	re := regexp.MustCompile(pattern)
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if re.MatchString(log.String()) {
			return
		}
	}
	t.Fatalf("%q did not appear in the collector's log within %v:\n%s", pattern, within, log.String())
}

// numbersOfFrames is every number of every numeric field of the frames, in order: what a panel draws.
func numbersOfFrames(frames data.Frames) string {
	var b strings.Builder
	for _, f := range frames {
		for _, field := range f.Fields {
			for row := 0; row < field.Len(); row++ {
				if v, ok := numericValue(field.At(row)); ok && v != nil {
					fmt.Fprintf(&b, "%s=%g ", field.Name, *v)
				}
			}
		}
	}
	return b.String()
}

// titlesOf is the titles of the rows of an annotations frame.
func titlesOf(t *testing.T, frames data.Frames) []string {
	t.Helper()
	var titles []string
	for _, f := range frames {
		if field, i := f.FieldByName("title"); i >= 0 {
			for row := 0; row < field.Len(); row++ {
				titles = append(titles, fmt.Sprint(field.At(row)))
			}
		}
	}
	return titles
}

func containsAll(list []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, item := range list {
			found = found || item == w
		}
		if !found {
			return false
		}
	}
	return true
}

func TestModelRegistry(t *testing.T) {
	mlflow := startMlflow(t)
	end := time.Now().Truncate(time.Minute)
	dataDir := seedDataDirectory(t, end, 4)
	reference := filepath.Join(t.TempDir(), "reference.csv")
	rows := "income,region,prediction\n31000,north,0\n52000,south,1\n64000,east,1\n45000,west,0\n"
	if err := os.WriteFile(reference, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	v1 := mlflow.run(t, "register", "credit", "--log-version", "v1", "--reference", reference)
	v2 := mlflow.run(t, "register", "credit", "--log-version", "v2", "--reference", reference)
	mlflow.run(t, "alias", "credit", "champion", v1["version"])
	mlflow.run(t, "alias", "credit", "challenger", v2["version"])
	collector := startCollectorWithRegistry(t, dataDir, mlflow.url)
	waitForLog(t, collector, `registry: credit: @champion → credit version 1`, 60*time.Second)

	runMlmon(t, "baseline", "--from-registry", "models:/credit@challenger", "--registry-url", mlflow.url,
		"--data-dir", dataDir, "--prediction", "prediction")

	p := startPlugin(t, false)
	pc := datasource("registry", map[string]any{"dataDirectory": dataDir, "registryUrl": mlflow.url}, nil)
	from := end.Add(-4 * time.Hour)
	timeRange := &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: end.Add(time.Hour).UnixMilli()}
	query := func(refID, body string) *pluginv2.DataQuery {
		return &pluginv2.DataQuery{RefId: refID, Json: []byte(body), TimeRange: timeRange, IntervalMS: 600_000, MaxDataPoints: 500}
	}
	distribution := func(version string) string {
		return fmt.Sprintf(`{"queryType":"distribution","model":"credit","version":%q,"baseline":"v1","features":["income"]}`, version)
	}
	ask := func(t *testing.T, queries ...*pluginv2.DataQuery) map[string]*pluginv2.DataResponse {
		t.Helper()
		res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: pc, Queries: queries})
		if err != nil {
			t.Fatal(err)
		}
		return res.Responses
	}

	t.Run("health reports the registry", func(t *testing.T) {
		health, err := p.clients.diagnostics.CheckHealth(ctx(t), &pluginv2.CheckHealthRequest{PluginContext: pc})
		if err != nil {
			t.Fatal(err)
		}
		if health.Status != pluginv2.CheckHealthResponse_OK || !strings.Contains(health.Message, "MLflow registry at "+mlflow.url+" reachable") {
			t.Errorf("health: %v %q", health.Status, health.Message)
		}
		down := datasource("registry-down", map[string]any{"dataDirectory": dataDir, "registryUrl": "http://127.0.0.1:1"}, nil)
		health, err = p.clients.diagnostics.CheckHealth(ctx(t), &pluginv2.CheckHealthRequest{PluginContext: down})
		if err != nil {
			t.Fatal(err)
		}
		if health.Status != pluginv2.CheckHealthResponse_ERROR || !strings.Contains(health.Message, "cannot reach the MLflow registry at http://127.0.0.1:1") {
			t.Errorf("health with the registry down: %v %q", health.Status, health.Message)
		}
	})

	t.Run("versions and aliases are template-variable values", func(t *testing.T) {
		var body struct {
			Versions []string `json:"versions"`
			Aliases  []string `json:"aliases"`
		}
		res := callResource(t, p, pc, "models/credit/versions")
		if err := json.Unmarshal(res.Body, &body); err != nil || res.Code != 200 {
			t.Fatalf("versions resource: %d %s", res.Code, res.Body)
		}
		if strings.Join(body.Versions, ",") != "v1,v2" || strings.Join(body.Aliases, ",") != "@challenger,@champion" {
			t.Errorf("versions resource: %s", res.Body)
		}
		frames := decodeFrames(t, "V", ask(t, query("V", `{"queryType":"versions","model":"credit"}`))["V"])
		field, _ := frames[0].FieldByName("version")
		var values []string
		for row := 0; row < field.Len(); row++ {
			values = append(values, fmt.Sprint(field.At(row)))
		}
		if strings.Join(values, ",") != "v1,v2,@challenger,@champion" {
			t.Errorf("versions query: %v", values)
		}
	})

	t.Run("@champion is resolved and queries follow the alias when it moves", func(t *testing.T) {
		answers := ask(t, query("C", distribution("@champion")), query("1", distribution("v1")), query("2", distribution("v2")))
		champion, first, second := numbersOfFrames(decodeFrames(t, "C", answers["C"])), numbersOfFrames(decodeFrames(t, "1", answers["1"])), numbersOfFrames(decodeFrames(t, "2", answers["2"]))
		if first == second {
			t.Fatalf("versions v1 and v2 have the same distribution; the test cannot tell them apart: %s", first)
		}
		if champion != first {
			t.Fatalf("@champion (version 1, logged as v1) answered\n%s\nv1 answers\n%s", champion, first)
		}
		noted := false
		for _, f := range decodeFrames(t, "C", answers["C"]) {
			for _, notice := range f.Meta.Notices {
				noted = noted || notice.Text == "version @champion is v1 in the MLflow registry"
			}
		}
		if !noted {
			t.Errorf("the frames of @champion do not say which version it is")
		}
		alertLabels := func() []string {
			res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: pc, Headers: alertHeaders(false), Queries: []*pluginv2.DataQuery{query("A", `{"queryType":"drift","model":"credit","version":"@champion","baseline":"v1"}`)}})
			if err != nil {
				t.Fatal(err)
			}
			var versions []string
			for _, f := range decodeFrames(t, "A", res.Responses["A"]) {
				for _, field := range f.Fields {
					if field.Labels != nil {
						versions = append(versions, field.Labels["version"])
					}
				}
			}
			return versions
		}
		before := alertLabels()
		mlflow.run(t, "alias", "credit", "champion", v2["version"])
		moved := time.Now()
		for {
			now := numbersOfFrames(decodeFrames(t, "C", ask(t, query("C", distribution("@champion")))["C"]))
			if now == second {
				t.Logf("queries followed the alias %v after the move", time.Since(moved).Round(time.Millisecond))
				after := alertLabels()
				if len(before) == 0 || strings.Join(before, ",") != strings.Join(after, ",") || before[0] != "@champion" {
					t.Errorf("an alert rule on @champion must keep its series labels (version @champion) as the alias moves: before %v, after %v", before, after)
				}
				break
			}
			if now != first {
				t.Fatalf("@champion answered neither v1 nor v2:\n%s", now)
			}
			if time.Since(moved) > aliasTTL+2*time.Second {
				t.Fatalf("@champion still answers v1 %v after the alias moved (cache %v)", time.Since(moved), aliasTTL)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("an unknown alias fails its query only, with a 400 naming the aliases", func(t *testing.T) {
		answers := ask(t, query("X", distribution("@staging")), query("1", distribution("v1")))
		if x := answers["X"]; x.Status != 400 || !strings.Contains(x.Error, "no alias @staging") || !strings.Contains(x.Error, "@challenger, @champion") {
			t.Errorf("unknown alias: %d %q", x.Status, x.Error)
		}
		decodeFrames(t, "1", answers["1"])
		down := datasource("registry-down", map[string]any{"dataDirectory": dataDir, "registryUrl": "http://127.0.0.1:1"}, nil)
		res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: down, Queries: []*pluginv2.DataQuery{query("D", distribution("@champion")), query("1", distribution("v1"))}})
		if err != nil {
			t.Fatal(err)
		}
		if d := res.Responses["D"]; d.Status != 502 || !strings.Contains(d.Error, "cannot reach the MLflow registry") {
			t.Errorf("unreachable registry: %d %q", d.Status, d.Error)
		}
		decodeFrames(t, "1", res.Responses["1"])
	})

	t.Run("registry events are annotations", func(t *testing.T) {
		mlflow.run(t, "alias", "credit", "champion", v2["version"]) // where the alias test left it, or a move now
		waitForLog(t, collector, `registry: credit: @champion → credit version 2`, 30*time.Second)
		frames := decodeFrames(t, "E", ask(t, query("E", `{"queryType":"events","model":"credit"}`))["E"])
		titles := titlesOf(t, frames)
		want := []string{"Registered: credit version 1", "Registered: credit version 2", "@champion → credit version 1", "@champion → credit version 2", "@challenger → credit version 2"}
		if !containsAll(titles, want...) {
			t.Errorf("events: got %q, want among them %q", titles, want)
		}
		for _, f := range frames {
			checkAnnotations(t, f, from, end.Add(time.Hour))
		}
	})

	t.Run("a baseline built --from-registry serves queries", func(t *testing.T) {
		res := callResource(t, p, pc, "models/credit/baselines")
		if !strings.Contains(string(res.Body), `"version":"v2"`) {
			t.Fatalf("baselines: %s", res.Body)
		}
		if frames := decodeFrames(t, "B", ask(t, query("B", `{"queryType":"drift","model":"credit","version":"@challenger","baseline":"v2"}`))["B"]); !hasData(frames) {
			t.Errorf("drift of @challenger on its registry baseline has no data")
		}
		cmd := exec.Command("node", filepath.Join(repoRoot(t), "bin", "mlmon.js"), "baseline", "show", "--model", "credit", "--version", "v2", "--data-dir", dataDir, "--format", "json")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("mlmon baseline show: %v", err)
		}
		var baseline struct {
			Source   string            `json:"source"`
			Rows     int               `json:"rows"`
			Registry map[string]string `json:"registry"`
		}
		if err := json.Unmarshal(out, &baseline); err != nil {
			t.Fatalf("baseline show: %v\n%s", err, out)
		}
		want := map[string]string{"name": "credit", "version": v2["version"], "logVersion": "v2", "runId": v2["run_id"], "alias": "challenger"}
		for key, value := range want {
			if baseline.Registry[key] != value {
				t.Errorf("baseline registry %s = %q, want %q (%v)", key, baseline.Registry[key], value, baseline.Registry)
			}
		}
		if baseline.Source != "models:/credit@challenger" || baseline.Rows != 4 {
			t.Errorf("baseline from %q with %d rows, want models:/credit@challenger with the 4 reference rows", baseline.Source, baseline.Rows)
		}
	})
}
