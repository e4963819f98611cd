package conformance

// Grafana Live against the built executable: subscribe like Grafana (SubscribeStream with the datasource's plugin
// context, then RunStream on the pluginv2 Stream client), ingest records through a real `mlmon serve` writing the
// same data directory, and see them reach a streamed frame, read with the SDK's frame JSON reader. The ingest step is
// a function, so that another transport (Kafka) can replace HTTP.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ingestFunc delivers prediction records of a model to the collector and returns once the transport acknowledged
// them (for HTTP: the collector's 2xx, given when the records are durable in its write-ahead log).
type ingestFunc func(t *testing.T, model string, records []map[string]any)

// startCollector runs `mlmon serve --demo` (no token) on the data directory and returns its base URL.
func startCollector(t *testing.T, dataDir string) string {
	t.Helper()
	log := startMlmon(t, []string{"serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, nil, 20*time.Second)
	pattern := regexp.MustCompile(`collector listening on (http://[^\s,/]+)`)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := pattern.FindStringSubmatch(log.String()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("the collector did not start:\n%s", log.String())
	return ""
}

// httpIngest posts the records as NDJSON to the collector at baseURL.
func httpIngest(baseURL string) ingestFunc {
	return func(t *testing.T, model string, records []map[string]any) {
		t.Helper()
		var body bytes.Buffer
		for _, record := range records {
			line, _ := json.Marshal(record)
			body.Write(append(line, '\n'))
		}
		response, err := http.Post(baseURL+"/api/v1/models/"+model+"/predictions", "application/x-ndjson", &body)
		if err != nil {
			t.Fatalf("posting predictions: %v", err)
		}
		defer response.Body.Close()
		if response.StatusCode/100 != 2 {
			var text bytes.Buffer
			_, _ = text.ReadFrom(response.Body)
			t.Fatalf("the collector answered %d: %s", response.StatusCode, text.String())
		}
	}
}

// predictions are n records stamped `at`, failed ones (error set) when failed is true.
func predictions(prefix string, n int, at time.Time, failed bool) []map[string]any {
	records := make([]map[string]any, n)
	for i := range records {
		records[i] = map[string]any{
			"id": fmt.Sprintf("%s-%d", prefix, i), "ts": at.UnixMilli(), "version": "v1",
			"features": map[string]any{"income": 40000 + i, "region": "north"}, "prediction": 1, "score": 0.8,
			"latency_ms": 12.5,
		}
		if failed {
			records[i]["error"] = "model timed out"
		}
	}
	return records
}

// liveChannel is a subscription as the datasource frontend makes it (src/datasource/live.ts): the parsed query and
// its window in the data, and the path `<queryType>/<64-bit FNV-1a of the canonical JSON of both>` (map keys sorted,
// as Go's encoding/json writes them; ASCII only here, where UTF-16 code units and bytes agree).
func liveChannel(query map[string]any, window map[string]any) (path string, body []byte) {
	body, _ = json.Marshal(map[string]any{"query": query, "window": window})
	hash := fnv.New64a()
	hash.Write(body)
	return fmt.Sprintf("%s/%016x", query["queryType"], hash.Sum64()), body
}

// frameReader turns a run's packets into frames with the SDK's reader: the schema of the last packet that had one,
// the values of this one.
type frameReader struct{ schema json.RawMessage }

func (r *frameReader) read(t *testing.T, packet []byte) *data.Frame {
	t.Helper()
	var parts struct {
		Schema json.RawMessage `json:"schema"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(packet, &parts); err != nil {
		t.Fatalf("the packet is not JSON: %v\n%s", err, packet)
	}
	if parts.Schema != nil {
		r.schema = parts.Schema
	}
	if r.schema == nil {
		t.Fatalf("the first packet of a run has no schema: %s", packet)
	}
	// The SDK's reader wants the schema first (a Go map would be written data first).
	whole := fmt.Appendf(nil, `{"schema":%s,"data":%s}`, r.schema, parts.Data)
	frame := &data.Frame{}
	if err := json.Unmarshal(whole, frame); err != nil {
		t.Fatalf("the SDK cannot read the streamed frame: %v\n%s", err, packet)
	}
	return frame
}

// fieldValues are the numbers of the named field (null as 0): one per bucket of the window.
func fieldValues(t *testing.T, frame *data.Frame, name string) []float64 {
	t.Helper()
	field, _ := frame.FieldByName(name)
	if field == nil {
		t.Fatalf("the frame has no %q field: %v", name, frame.Fields)
	}
	values := make([]float64, field.Len())
	for row := range values {
		if value, _ := numericValue(field.At(row)); value != nil {
			values[row] = *value
		}
	}
	return values
}

// total is the sum of the named field over the window (the records counted in it, for `count`).
func total(t *testing.T, frame *data.Frame, name string) float64 {
	sum := 0.0
	for _, value := range fieldValues(t, frame, name) {
		sum += value
	}
	return sum
}

// liveRun is one RunStream call with its frames arriving on a channel.
type liveRun struct {
	cancel context.CancelFunc
	frames chan *data.Frame
	ended  chan error
}

func runStream(t *testing.T, p *startedPlugin, pc *pluginv2.PluginContext, path string, body []byte) *liveRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := p.clients.stream.RunStream(ctx, &pluginv2.RunStreamRequest{PluginContext: pc, Path: path, Data: body})
	if err != nil {
		t.Fatalf("RunStream: %v", err)
	}
	run := &liveRun{cancel: cancel, frames: make(chan *data.Frame, 100), ended: make(chan error, 1)}
	reader := &frameReader{}
	go func() {
		for {
			packet, err := stream.Recv()
			if err != nil {
				run.ended <- err
				return
			}
			run.frames <- reader.read(t, packet.Data)
		}
	}()
	t.Cleanup(cancel)
	return run
}

// waitForFrame returns the first frame (within `within`) that passes the check.
func (r *liveRun) waitForFrame(t *testing.T, within time.Duration, what string, check func(*data.Frame) bool) *data.Frame {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case frame := <-r.frames:
			if check(frame) {
				return frame
			}
		case err := <-r.ended:
			t.Fatalf("the stream ended while waiting for %s: %v", what, err)
		case <-timeout:
			t.Fatalf("no streamed frame showed %s within %v", what, within)
		}
	}
}

// latest is the newest frame received so far (waiting for one if none is queued).
func (r *liveRun) latest(t *testing.T) *data.Frame {
	t.Helper()
	frame := r.waitForFrame(t, 15*time.Second, "a frame", func(*data.Frame) bool { return true })
	for {
		select {
		case newer := <-r.frames:
			frame = newer
		default:
			return frame
		}
	}
}

// writeBaseline stores a baseline of the model version with `mlmon baseline` from a reference file of 200 rows:
// income 40 000–40 005 (as `predictions` sends it), region north or south.
func writeBaseline(t *testing.T, dataDir, model, version string) {
	t.Helper()
	var reference strings.Builder
	reference.WriteString("income,region\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&reference, "%d,%s\n", 40000+i%6, []string{"north", "south"}[i%2])
	}
	file := filepath.Join(t.TempDir(), "reference.csv")
	if err := os.WriteFile(file, []byte(reference.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(repoRoot(t), "bin", "mlmon.js"), "baseline", "--model", model, "--version", version,
		"--from", file, "--data-dir", dataDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mlmon baseline: %v\n%s", err, out)
	}
}

// waitUntilStored waits until QueryData counts `want` records of the model in the last ten minutes: the collector
// has flushed them from its write-ahead log into the store.
func waitUntilStored(t *testing.T, p *startedPlugin, pc *pluginv2.PluginContext, model string, want float64) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"queryType": "operational", "model": model, "metric": "throughput", "bucket": "10m"})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		now := time.Now()
		response, err := p.clients.data.QueryData(context.Background(), &pluginv2.QueryDataRequest{PluginContext: pc,
			Queries: []*pluginv2.DataQuery{{RefId: "S", Json: body, TimeRange: &pluginv2.TimeRange{
				FromEpochMS: now.Add(-10 * time.Minute).UnixMilli(), ToEpochMS: now.UnixMilli()}}}})
		if err != nil {
			t.Fatalf("QueryData: %v", err)
		}
		if frames, err := data.UnmarshalArrowFrames(response.Responses["S"].Frames); err == nil && len(frames) == 1 &&
			total(t, frames[0], "count") == want {
			return
		}
	}
	t.Fatalf("the store did not hold %v records of %s within 30 s", want, model)
}

// liveAnswers are what a live subscription to the model's error rate shows a subscriber: the channel path, the
// subscription's answer, and the first packet of its run or the error that ended it.
func liveAnswers(t *testing.T, p *startedPlugin, pc *pluginv2.PluginContext, model string) []string {
	t.Helper()
	query := map[string]any{"refId": "L", "queryType": "operational", "model": model, "metric": "error_rate"}
	path, body := liveChannel(query, map[string]any{"rangeMs": 3_600_000, "intervalMs": 60_000, "maxDataPoints": 100})
	answers := []string{path}
	subscribed, err := p.clients.stream.SubscribeStream(context.Background(),
		&pluginv2.SubscribeStreamRequest{PluginContext: pc, Path: path, Data: body})
	answers = append(answers, fmt.Sprint(subscribed, err))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := p.clients.stream.RunStream(ctx, &pluginv2.RunStreamRequest{PluginContext: pc, Path: path, Data: body})
	if err == nil {
		packet, recvErr := stream.Recv()
		if recvErr == nil {
			return append(answers, string(packet.Data))
		}
		err = recvErr
	}
	return append(answers, err.Error())
}

// metricValue reads one metric of the backend's CollectMetrics.
func metricValue(t *testing.T, p *startedPlugin, name string) float64 {
	t.Helper()
	response, err := p.clients.diagnostics.CollectMetrics(context.Background(), &pluginv2.CollectMetricsRequest{})
	if err != nil {
		t.Fatalf("CollectMetrics: %v", err)
	}
	for _, line := range strings.Split(string(response.Metrics.Prometheus), "\n") {
		if value, found := strings.CutPrefix(line, name+" "); found {
			number, _ := strconv.ParseFloat(value, 64)
			return number
		}
	}
	t.Fatalf("metric %s is missing", name)
	return 0
}

func TestLiveStreamsIngestedRecords(t *testing.T) {
	testLiveStreams(t, func(t *testing.T, dataDir string) ingestFunc { return httpIngest(startCollector(t, dataDir)) })
}

// testLiveStreams runs the live checks with the records delivered by the transport `start` sets up on the data
// directory (HTTP here; the Kafka variant passes its own).
func testLiveStreams(t *testing.T, start func(t *testing.T, dataDir string) ingestFunc) {
	dataDir := t.TempDir()
	ingest := start(t, dataDir)
	ingest(t, "live", predictions("seed", 4, time.Now(), false))

	p := startPlugin(t, false)
	pc := datasource("live-uid", map[string]any{"dataDirectory": dataDir}, nil)
	window := map[string]any{"rangeMs": 10 * 60_000, "intervalMs": 10_000, "maxDataPoints": 200}
	query := func(refId, metric string) map[string]any {
		return map[string]any{"refId": refId, "queryType": "operational", "model": "live", "metric": metric}
	}
	waitUntilStored(t, p, pc, "live", 4)
	throughputPath, throughputBody := liveChannel(query("A", "throughput"), window)
	errorPath, errorBody := liveChannel(query("B", "error_rate"), window)

	subscribed, err := p.clients.stream.SubscribeStream(context.Background(),
		&pluginv2.SubscribeStreamRequest{PluginContext: pc, Path: throughputPath, Data: throughputBody})
	if err != nil || subscribed.Status != pluginv2.SubscribeStreamResponse_OK {
		t.Fatalf("SubscribeStream: %v %v", subscribed, err)
	}
	counts := runStream(t, p, pc, throughputPath, throughputBody)
	errorRate := runStream(t, p, pc, errorPath, errorBody)
	counted := func(f *data.Frame) float64 { return total(t, f, "count") }
	counts.waitForFrame(t, 15*time.Second, "the seed records", func(f *data.Frame) bool { return counted(f) == 4 })

	t.Run("ingested records reach the streamed frame", func(t *testing.T) {
		ingest(t, "live", predictions("new", 6, time.Now(), false))
		counts.waitForFrame(t, 15*time.Second, "6 more records counted", func(f *data.Frame) bool { return counted(f) == 10 })
		ingest(t, "live", predictions("failed", 5, time.Now(), true))
		errorRate.waitForFrame(t, 15*time.Second, "5 failed records of 15 in the error rate", func(f *data.Frame) bool {
			counts, rates := fieldValues(t, f, "count"), fieldValues(t, f, "value")
			failed := 0.0
			for i := range counts {
				failed += counts[i] * rates[i]
			}
			return counted(f) == 15 && failed > 4.999 && failed < 5.001
		})
	})

	t.Run("drift of the newest buckets moves as shifted records arrive", func(t *testing.T) {
		writeBaseline(t, dataDir, "live", "v1")
		// The query as the frontend sends it: parsed, with the parser's defaults (metric psi, persistence 1).
		drift := map[string]any{"refId": "D", "queryType": "drift", "model": "live", "features": []string{"income"},
			"metric": "psi", "persistence": 1}
		path, body := liveChannel(drift, window)
		run := runStream(t, p, pc, path, body)
		// The PSI of the bucket holding `at` (a closed one by the time the channel computes it, or the open one).
		psiAt := func(f *data.Frame, at time.Time) float64 {
			psi, values := 0.0, fieldValues(t, f, "value")
			for row := range values {
				start, isTime := f.Fields[0].At(row).(time.Time)
				if !isTime {
					t.Fatalf("the frame's first field is not its time: %v", f.Fields[0])
				}
				if !start.After(at) {
					psi = values[row]
				}
			}
			return psi
		}
		first := run.latest(t)
		// Records stamped in the last 300 ms of a bucket: the channel sees them after that bucket closed, and must
		// count them in it (the newest buckets it computes again start one before the open one).
		bucketMs := int64(first.Meta.Custom.(map[string]any)["bucketMs"].(float64))
		time.Sleep(time.Duration(bucketMs-time.Now().UnixMilli()%bucketMs-300) * time.Millisecond)
		at := time.Now()
		if before := psiAt(first, at); before > 1 {
			t.Fatalf("the PSI before the shifted records is already %v", before)
		}
		shifted := predictions("shifted", 60, at, false)
		for _, record := range shifted {
			record["features"] = map[string]any{"income": 90000, "region": "north"}
		}
		ingest(t, "live", shifted)
		run.waitForFrame(t, 15*time.Second, "the PSI of the shifted records' bucket rising past 1", func(f *data.Frame) bool {
			return psiAt(f, at) > 1
		})
		run.cancel()
	})

	t.Run("a bad path or data is refused and other streams go on", func(t *testing.T) {
		subscribe := func(path string, body []byte) (*pluginv2.SubscribeStreamResponse, error) {
			return p.clients.stream.SubscribeStream(context.Background(),
				&pluginv2.SubscribeStreamRequest{PluginContext: pc, Path: path, Data: body})
		}
		if answer, err := subscribe("../../etc/passwd", throughputBody); err != nil || answer.Status != pluginv2.SubscribeStreamResponse_NOT_FOUND {
			t.Errorf("an unknown path: %v %v, want NOT_FOUND", answer, err)
		}
		if answer, err := subscribe(errorPath, throughputBody); err != nil || answer.Status != pluginv2.SubscribeStreamResponse_PERMISSION_DENIED {
			t.Errorf("data of another channel: %v %v, want PERMISSION_DENIED", answer, err)
		}
		if _, err := subscribe(throughputPath, []byte(`{"query":`)); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "not JSON") {
			t.Errorf("data that is not JSON: %v, want InvalidArgument saying so", err)
		}
		_, performance := liveChannel(map[string]any{"refId": "C", "queryType": "performance", "model": "live"}, window)
		if _, err := subscribe("performance/0123456789abcdef", performance); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "does not stream") {
			t.Errorf("a query type that does not stream: %v", err)
		}
		bad := runStream(t, p, pc, "../../etc/passwd", throughputBody)
		select {
		case err := <-bad.ended:
			if status.Code(err) != codes.Internal && status.Code(err) != codes.InvalidArgument {
				t.Errorf("RunStream on a bad path ended with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("RunStream on a bad path did not end")
		}
		if answer, err := p.clients.stream.PublishStream(context.Background(),
			&pluginv2.PublishStreamRequest{PluginContext: pc, Path: throughputPath, Data: []byte(`{}`)}); err != nil || answer.Status != pluginv2.PublishStreamResponse_PERMISSION_DENIED {
			t.Errorf("PublishStream: %v %v, want PERMISSION_DENIED", answer, err)
		}
		now := counted(counts.latest(t))
		ingest(t, "live", predictions("after", 2, time.Now(), false))
		counts.waitForFrame(t, 15*time.Second, "records after the refusals", func(f *data.Frame) bool { return counted(f) == now+2 })
	})

	t.Run("cancelling the runs stops the polling", func(t *testing.T) {
		counts.cancel()
		errorRate.cancel()
		deadline := time.Now().Add(10 * time.Second)
		for metricValue(t, p, "mlmon_live_channels") != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%v live channels still run after their runs were cancelled", metricValue(t, p, "mlmon_live_channels"))
			}
			time.Sleep(100 * time.Millisecond)
		}
		polls := metricValue(t, p, "mlmon_live_polls_total")
		time.Sleep(3 * time.Second)
		if after := metricValue(t, p, "mlmon_live_polls_total"); after != polls {
			t.Errorf("the store was polled %v more times after every run ended", after-polls)
		}
	})
}
