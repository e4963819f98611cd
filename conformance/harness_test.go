// Package conformance starts the built backend executable the way Grafana does (hashicorp/go-plugin client,
// magic cookie grafana_plugin_type=datasource, protocol version 2, gRPC only, its own working directory,
// optionally an empty environment) and checks its answers with Grafana's plugin SDK.
//
// Run `npm run build:backend` (or `npm run build`) first, then `cd conformance && go test ./...`.
package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// handshake is Grafana's (grafana-plugin-sdk-go backend/grpcplugin/handshake.go).
var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  2,
	MagicCookieKey:   "grafana_plugin_type",
	MagicCookieValue: "datasource",
}

// clients holds the pluginv2 stubs over the connection go-plugin made.
type clients struct {
	conn        *grpc.ClientConn
	data        pluginv2.DataClient
	diagnostics pluginv2.DiagnosticsClient
	resource    pluginv2.ResourceClient
	stream      pluginv2.StreamClient
}

// grafanaPlugin is the client half of a plugin in go-plugin's plugin set; Grafana registers one per service.
type grafanaPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (grafanaPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return fmt.Errorf("the conformance suite is a client only")
}

func (grafanaPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (interface{}, error) {
	return &clients{
		conn:        conn,
		data:        pluginv2.NewDataClient(conn),
		diagnostics: pluginv2.NewDiagnosticsClient(conn),
		resource:    pluginv2.NewResourceClient(conn),
		stream:      pluginv2.NewStreamClient(conn),
	}, nil
}

// repoRoot is the repository holding this module.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// executablePath is dist/datasource/gpx_modelmonitor_<os>_<arch>; the test fails with what to run when it is missing.
func executablePath(t *testing.T) string {
	t.Helper()
	path := filepath.Join(repoRoot(t), "dist", "datasource", fmt.Sprintf("gpx_modelmonitor_%s_%s", runtime.GOOS, runtime.GOARCH))
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("backend executable %s is missing (%v): run `npm run build:backend` (or `npm run build`) in %s first", path, err, repoRoot(t))
	}
	return path
}

// startedPlugin is one running backend process.
type startedPlugin struct {
	client  *plugin.Client
	clients *clients
	// pid of the backend process (for its CPU time and memory in /proc).
	pid int
	// stderr holds everything the process wrote to its standard error (what Grafana logs).
	stderr *lockedBuffer
}

// lockedBuffer is a strings.Builder safe for go-plugin's stderr goroutine and the test reading it.
type lockedBuffer struct {
	mu   sync.Mutex
	text strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.text.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.text.String()
}

// startPlugin launches the executable as Grafana does. With emptyEnv the child gets only go-plugin's variables
// and the magic cookie (Grafana's SkipHostEnv); the working directory is a fresh temporary directory either way.
func startPlugin(t *testing.T, emptyEnv bool) *startedPlugin {
	t.Helper()
	cmd := exec.Command(executablePath(t))
	cmd.Dir = t.TempDir()
	stderr := &lockedBuffer{}
	client := plugin.NewClient(&plugin.ClientConfig{
		Stderr:          stderr,
		HandshakeConfig: handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			2: {"diagnostics": grafanaPlugin{}, "data": grafanaPlugin{}, "resource": grafanaPlugin{}, "stream": grafanaPlugin{}},
		},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		SkipHostEnv:      emptyEnv,
		StartTimeout:     60 * time.Second,
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: testWriter{t}, Level: hclog.Debug}),
	})
	t.Cleanup(client.Kill)
	rpcClient, err := client.Client()
	if err != nil {
		t.Fatalf("plugin did not start: %v", err)
	}
	if version := client.NegotiatedVersion(); version != 2 {
		t.Fatalf("negotiated protocol version %d, Grafana requires 2", version)
	}
	raw, err := rpcClient.Dispense("data")
	if err != nil {
		t.Fatalf("dispense: %v", err)
	}
	return &startedPlugin{client: client, clients: raw.(*clients), pid: cmd.Process.Pid, stderr: stderr}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

var _ io.Writer = testWriter{}

// datasource is the PluginContext Grafana sends for one datasource.
func datasource(uid string, jsonData map[string]any, secure map[string]string) *pluginv2.PluginContext {
	body, _ := json.Marshal(jsonData)
	return &pluginv2.PluginContext{
		OrgId:    1,
		PluginId: "mlmon-modelmonitor-datasource",
		DataSourceInstanceSettings: &pluginv2.DataSourceInstanceSettings{
			Id:                      1,
			Uid:                     uid,
			Name:                    "Model Monitor " + uid,
			JsonData:                body,
			DecryptedSecureJsonData: secure,
			LastUpdatedMS:           time.Now().UnixMilli(),
		},
	}
}

// seedDataDirectory writes a prediction log for model "credit" through the repository's store
// (conformance/testdata/seed.ts): one prediction per minute for `hours` hours before end; `model` "duel" writes the
// champion/challenger model of the seed instead.
func seedDataDirectory(t *testing.T, end time.Time, hours int, model ...string) string {
	t.Helper()
	dir := t.TempDir()
	root := repoRoot(t)
	args := append([]string{filepath.Join(root, "node_modules", "tsx", "dist", "cli.mjs"),
		filepath.Join(root, "conformance", "testdata", "seed.ts"), dir, strconv.FormatInt(end.UnixMilli(), 10), strconv.Itoa(hours)}, model...)
	cmd := exec.Command("node", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("seeding the data directory failed: %v\n%s", err, out)
	}
	return dir
}
