package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// expectedFrameType is the data-plane type of each query type (src/core/query/frames.ts); "" = plain table.
var expectedFrameType = map[string]data.FrameType{
	"drift":            data.FrameTypeTimeSeriesMulti,
	"prediction_drift": data.FrameTypeTimeSeriesMulti,
	"distribution":     data.FrameTypeNumericLong,
	"severity":         data.FrameTypeTimeSeriesLong,
	"quality":          data.FrameTypeTimeSeriesMulti,
	"performance":      data.FrameTypeTimeSeriesMulti,
	"operational":      data.FrameTypeTimeSeriesMulti,
	"ranking":          data.FrameTypeNumericLong,
	"compare":          data.FrameTypeTimeSeriesMulti,
	"events":           "", // one annotations frame (meta.dataTopic), checked by checkAnnotations
	"models":           "",
	"versions":         "",
	"features":         "",
}

// ownOptions are the options a query type cannot do without, beside the model.
var ownOptions = map[string]string{
	"compare": `,"champion":"v1","challenger":"v2"`,
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestRefusesToStartWithoutMagicCookie(t *testing.T) {
	cmd := exec.Command(executablePath(t))
	cmd.Dir = t.TempDir()
	cmd.Env = []string{}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	exitErr, ok := err.(*exec.ExitError)
	if !ok || exitErr.ExitCode() != 1 {
		t.Fatalf("want exit code 1 without the magic cookie, got %v", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout must stay empty, got %q", stdout.String())
	}
	if !strings.Contains(stderr.String(), "grafana_plugin_type") {
		t.Errorf("stderr should say which variable is missing, got %q", stderr.String())
	}
}

func TestEmptyEnvironment(t *testing.T) {
	p := startPlugin(t, true)
	res, err := p.clients.diagnostics.CheckHealth(ctx(t), &pluginv2.CheckHealthRequest{
		PluginContext: datasource("empty-env", map[string]any{"storeKind": "embedded", "dataDirectory": t.TempDir()}, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	// An existing, empty data directory: the store opens (DuckDB loads from beside the executable).
	if res.Status != pluginv2.CheckHealthResponse_OK || !strings.Contains(res.Message, "no models yet") {
		t.Fatalf("health in an empty environment: %v %q", res.Status, res.Message)
	}
}

func TestCheckHealth(t *testing.T) {
	p := startPlugin(t, false)
	end := time.Now()
	seeded := seedDataDirectory(t, end, 48)
	missing := filepath.Join(t.TempDir(), "nowhere")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		context *pluginv2.PluginContext
		status  pluginv2.CheckHealthResponse_HealthStatus
		message string
	}{
		{"seeded", datasource("seeded", map[string]any{"dataDirectory": seeded}, nil), pluginv2.CheckHealthResponse_OK, "1 model, 1.4 k predictions in the last 24 h"},
		{"missing directory", datasource("missing", map[string]any{"dataDirectory": missing}, nil), pluginv2.CheckHealthResponse_ERROR, "data directory " + missing + " does not exist"},
		{"file instead of directory", datasource("file", map[string]any{"dataDirectory": file}, nil), pluginv2.CheckHealthResponse_ERROR, "is a file, not a directory"},
		{"no directory", datasource("unset", map[string]any{}, nil), pluginv2.CheckHealthResponse_ERROR, "Set the data directory"},
		{"incomplete clickhouse", datasource("ch", map[string]any{"storeKind": "clickhouse", "user": "monitor"}, nil), pluginv2.CheckHealthResponse_ERROR, "Set the ClickHouse URL"},
		{"no datasource", &pluginv2.PluginContext{OrgId: 1}, pluginv2.CheckHealthResponse_ERROR, "names no datasource"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := p.clients.diagnostics.CheckHealth(ctx(t), &pluginv2.CheckHealthRequest{PluginContext: c.context})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != c.status || !strings.Contains(res.Message, c.message) {
				t.Fatalf("got %v %q, want %v containing %q", res.Status, res.Message, c.status, c.message)
			}
		})
	}
}

func TestPasswordNeverReturned(t *testing.T) {
	p := startPlugin(t, false)
	const password = "s3cr3t-Pa55word"
	pc := datasource("secret", map[string]any{"storeKind": "clickhouse", "clickhouseUrl": "http://127.0.0.1:1", "database": "db", "user": "monitor"},
		map[string]string{"password": password})
	health, err := p.clients.diagnostics.CheckHealth(ctx(t), &pluginv2.CheckHealthRequest{PluginContext: pc})
	if err != nil {
		t.Fatal(err)
	}
	// The bundled ClickHouse client runs inside the executable and its failure is explained.
	if health.Status != pluginv2.CheckHealthResponse_ERROR || !strings.Contains(health.Message, "cannot reach ClickHouse at http://127.0.0.1:1") {
		t.Fatalf("an unreachable ClickHouse must fail the health check saying so, got %v %q", health.Status, health.Message)
	}
	query, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{
		{RefId: "A", QueryType: "models", Json: []byte(`{"queryType":"models"}`), TimeRange: lastDay()},
	}})
	if err != nil {
		t.Fatal(err)
	}
	resource := callResource(t, p, pc, "models")
	for what, text := range map[string]string{"health": health.Message + string(health.JsonDetails), "query": query.Responses["A"].Error, "resource": string(resource.Body)} {
		if strings.Contains(text, password) {
			t.Errorf("%s answer contains the password: %q", what, text)
		}
	}
}

func lastDay() *pluginv2.TimeRange {
	now := time.Now()
	return &pluginv2.TimeRange{FromEpochMS: now.Add(-24 * time.Hour).UnixMilli(), ToEpochMS: now.UnixMilli()}
}

func callResource(t *testing.T, p *startedPlugin, pc *pluginv2.PluginContext, path string) *pluginv2.CallResourceResponse {
	t.Helper()
	stream, err := p.clients.resource.CallResource(ctx(t), &pluginv2.CallResourceRequest{PluginContext: pc, Path: path, Method: http.MethodGet, Url: path})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatalf("resource %s: %v", path, err)
	}
	if first.Code < 100 {
		t.Fatalf("resource %s: the first message must carry an HTTP status, got %d", path, first.Code)
	}
	return first
}

// decodeFrames decodes a response's frames with the SDK's Arrow reader and checks what Grafana checks.
func decodeFrames(t *testing.T, refID string, res *pluginv2.DataResponse) data.Frames {
	t.Helper()
	if res == nil {
		t.Fatalf("refId %s is missing from the response (alerting would see no data)", refID)
	}
	if res.Status != http.StatusOK || res.Error != "" {
		t.Fatalf("refId %s: status %d error %q", refID, res.Status, res.Error)
	}
	frames, err := data.UnmarshalArrowFrames(res.Frames)
	if err != nil {
		t.Fatalf("refId %s: the SDK cannot decode the frames: %v", refID, err)
	}
	for _, f := range frames {
		if f.RefID != refID {
			t.Errorf("frame %q carries refId %q, want %q", f.Name, f.RefID, refID)
		}
		if _, err := f.RowLen(); err != nil {
			t.Errorf("frame %q: %v", f.Name, err)
		}
	}
	return frames
}

// checkDataplane applies the data-plane contract rules (grafana/dataplane docs/contract) for the frame's type.
func checkDataplane(t *testing.T, f *data.Frame, want data.FrameType, from, to time.Time) {
	t.Helper()
	typ, version := f.TypeInfo("")
	if typ != want {
		t.Fatalf("frame %q has type %q, want %q", f.Name, typ, want)
	}
	if want == "" {
		return
	}
	if version != (data.FrameTypeVersion{0, 1}) {
		t.Errorf("frame %q has typeVersion %v, want [0 1]", f.Name, version)
	}
	var times []*data.Field
	var numbers []*data.Field
	for _, field := range f.Fields {
		switch {
		case field.Type() == data.FieldTypeTime:
			times = append(times, field)
		case field.Type() == data.FieldTypeNullableTime:
			t.Errorf("frame %q: time field %q is nullable; data-plane needs []time.Time", f.Name, field.Name)
		case field.Type().Numeric():
			numbers = append(numbers, field)
		}
	}
	if len(f.Fields) == 0 {
		return // a typed frame without fields is the data-plane "no data" answer
	}
	if len(numbers) == 0 {
		t.Errorf("frame %q (%s) has no numeric value field", f.Name, want)
	}
	switch want {
	case data.FrameTypeTimeSeriesMulti, data.FrameTypeTimeSeriesLong:
		if len(times) != 1 {
			t.Fatalf("frame %q (%s) needs exactly one non-null time field, has %d", f.Name, want, len(times))
		}
		for i := 0; i < times[0].Len(); i++ {
			ts := times[0].At(i).(time.Time)
			if ts.Before(from.Add(-24*time.Hour)) || ts.After(to) {
				t.Errorf("frame %q row %d: time %v is outside the query range %v..%v (nanoseconds expected)", f.Name, i, ts, from, to)
			}
			if i > 0 && ts.Before(times[0].At(i-1).(time.Time)) {
				t.Errorf("frame %q: times must be ascending (row %d)", f.Name, i)
			}
		}
		if want == data.FrameTypeTimeSeriesMulti {
			for _, n := range numbers {
				if n.Labels["model"] == "" {
					t.Errorf("frame %q field %q has no model label (alert instances need it): %v", f.Name, n.Name, n.Labels)
				}
			}
		}
	case data.FrameTypeNumericLong, data.FrameTypeNumericMulti, data.FrameTypeNumericWide:
		if len(times) != 0 {
			t.Errorf("numeric frame %q must not have a time field", f.Name)
		}
	}
}

// checkAnnotations checks an annotations frame (not a data-plane type): Grafana's event fields time, timeEnd, title,
// text and tags when present, each event inside the query range and ending at or after its start.
func checkAnnotations(t *testing.T, f *data.Frame, from, to time.Time) {
	t.Helper()
	start, i := f.FieldByName("time")
	if i < 0 || start.Type() != data.FieldTypeTime {
		t.Fatalf("annotations frame %q needs a non-null time field", f.Name)
	}
	if _, i := f.FieldByName("text"); i < 0 {
		t.Errorf("annotations frame %q has no text field", f.Name)
	}
	end, _ := f.FieldByName("timeEnd")
	for row := 0; row < start.Len(); row++ {
		ts := start.At(row).(time.Time)
		if ts.Before(from) || ts.After(to) {
			t.Errorf("annotations frame %q row %d: time %v is outside the query range %v..%v", f.Name, row, ts, from, to)
		}
		if end != nil && end.At(row).(time.Time).Before(ts) {
			t.Errorf("annotations frame %q row %d: timeEnd is before time", f.Name, row)
		}
	}
}

func queryTypes(t *testing.T, p *startedPlugin, pc *pluginv2.PluginContext) []string {
	res := callResource(t, p, pc, "query-types")
	var body struct {
		QueryTypes []string `json:"queryTypes"`
	}
	if err := json.Unmarshal(res.Body, &body); err != nil || len(body.QueryTypes) == 0 {
		t.Fatalf("query-types resource: %v %s", err, res.Body)
	}
	return body.QueryTypes
}

func TestQueryData(t *testing.T) {
	p := startPlugin(t, false)
	end := time.Now().Truncate(time.Minute)
	pc := datasource("queries", map[string]any{"dataDirectory": seedDataDirectory(t, end, 48)}, nil)
	from := end.Add(-24 * time.Hour)
	timeRange := &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: end.UnixMilli()}

	t.Run("every query type", func(t *testing.T) {
		for _, queryType := range queryTypes(t, p, pc) {
			want, known := expectedFrameType[queryType]
			if !known {
				t.Errorf("query type %q is served but not known to the conformance suite", queryType)
				continue
			}
			t.Run(queryType, func(t *testing.T) {
				body := fmt.Sprintf(`{"refId":"A","queryType":%q,"model":"credit"%s}`, queryType, ownOptions[queryType])
				res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{
					{RefId: "A", QueryType: queryType, Json: []byte(body), TimeRange: timeRange, IntervalMS: 3600_000, MaxDataPoints: 500},
				}})
				if err != nil {
					t.Fatalf("%s: %v", queryType, err)
				}
				frames := decodeFrames(t, "A", res.Responses["A"])
				if len(frames) == 0 {
					t.Errorf("%s: no frames", queryType)
				}
				for _, f := range frames {
					annotations := f.Meta != nil && f.Meta.DataTopic == data.DataTopicAnnotations
					if queryType == "events" && !annotations {
						t.Errorf("events: frame %q is not an annotations frame (meta.dataTopic)", f.Name)
					}
					if annotations {
						checkAnnotations(t, f, from, end)
						continue
					}
					checkDataplane(t, f, want, from, end)
				}
			})
		}
	})

	t.Run("every quality, performance and operational metric", func(t *testing.T) {
		metrics := map[string][]string{
			"quality":     {"null_rate", "out_of_range_rate", "unseen_category_rate", "type_error_rate", "schema_changes"},
			"performance": {"accuracy", "precision", "recall", "f1", "auc", "label_coverage"},
			"operational": {"latency_p50", "latency_p95", "latency_p99", "throughput", "error_rate"},
		}
		for queryType, names := range metrics {
			for _, metric := range names {
				body := fmt.Sprintf(`{"queryType":%q,"model":"credit","metric":%q}`, queryType, metric)
				res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{
					{RefId: "A", Json: []byte(body), TimeRange: timeRange, IntervalMS: 3600_000, MaxDataPoints: 500},
				}})
				if err != nil {
					t.Fatalf("%s %s: %v", queryType, metric, err)
				}
				for _, f := range decodeFrames(t, "A", res.Responses["A"]) {
					if f.Meta != nil && f.Meta.DataTopic == data.DataTopicAnnotations {
						continue // schema changes as events: an annotation frame beside the counts
					}
					checkDataplane(t, f, data.FrameTypeTimeSeriesMulti, from, end)
				}
			}
		}
	})

	t.Run("metadata", func(t *testing.T) {
		res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{
			{RefId: "M", Json: []byte(`{"queryType":"models"}`), TimeRange: timeRange},
			{RefId: "V", Json: []byte(`{"queryType":"versions","model":"credit"}`), TimeRange: timeRange},
			{RefId: "F", Json: []byte(`{"queryType":"features","model":"credit"}`), TimeRange: timeRange},
		}})
		if err != nil {
			t.Fatal(err)
		}
		models := decodeFrames(t, "M", res.Responses["M"])[0]
		if got := models.Fields[0].At(0); got != "credit" || models.Fields[0].Len() != 1 {
			t.Errorf("models: want one row 'credit', got %v rows, first %v", models.Fields[0].Len(), got)
		}
		predictions, _ := models.FieldByName("predictions")
		if predictions.Type() != data.FieldTypeNullableFloat64 || *predictions.At(0).(*float64) != 1440 {
			t.Errorf("models: predictions in the last 24 h should be 1440 (one a minute), got %v", predictions.At(0))
		}
		versions := decodeFrames(t, "V", res.Responses["V"])[0]
		if versions.Fields[0].Len() != 2 || versions.Fields[0].At(0) != "v1" || versions.Fields[0].At(1) != "v2" {
			t.Errorf("versions: want v1, v2, got %v", versions.Fields[0])
		}
		features := decodeFrames(t, "F", res.Responses["F"])[0]
		kinds := map[string]string{}
		for i := 0; i < features.Fields[0].Len(); i++ {
			kinds[features.Fields[0].At(i).(string)] = features.Fields[1].At(i).(string)
		}
		if kinds["income"] != "numeric" || kinds["region"] != "categorical" || len(kinds) != 2 {
			t.Errorf("features: want income numeric, region categorical, got %v", kinds)
		}
	})

	t.Run("drift alert instances", func(t *testing.T) {
		res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{
			{RefId: "D", Json: []byte(`{"queryType":"drift","model":"credit","bucket":"1h","persistence":3}`), TimeRange: timeRange, MaxDataPoints: 500},
		}})
		if err != nil {
			t.Fatal(err)
		}
		frames := decodeFrames(t, "D", res.Responses["D"])
		if len(frames) != 2 || frames[0].Name != "income" || frames[1].Name != "region" {
			t.Fatalf("want one frame per feature (income, region), got %d", len(frames))
		}
		for _, f := range frames {
			value, _ := f.FieldByName("value")
			level, _ := f.FieldByName("level")
			if value == nil || level == nil || value.Labels["feature"] != f.Name || value.Labels["metric"] != "psi" || value.Labels["model"] != "credit" {
				t.Fatalf("frame %q: value and level fields need labels model/feature/metric, got %+v", f.Name, value)
			}
			if value.Config == nil || value.Config.Thresholds == nil || len(value.Config.Thresholds.Steps) != 3 {
				t.Errorf("frame %q: value field needs the warning/critical thresholds in its config, got %+v", f.Name, value.Config)
			}
			if value.Len() != 24 && value.Len() != 25 {
				t.Errorf("frame %q: want the hourly buckets of 24 h (24 or 25 with a cut one), got %d", f.Name, value.Len())
			}
			for i := 0; i < level.Len(); i++ {
				if l := level.At(i).(*float64); l != nil && (*l < 0 || *l > 3) {
					t.Errorf("frame %q row %d: level %v is outside 0..3", f.Name, i, *l)
				}
			}
		}
	})

	t.Run("distribution", func(t *testing.T) {
		res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{
			{RefId: "D", Json: []byte(`{"queryType":"distribution","model":"credit"}`), TimeRange: timeRange},
		}})
		if err != nil {
			t.Fatal(err)
		}
		frames := decodeFrames(t, "D", res.Responses["D"])
		if len(frames) != 2 || frames[0].Name != "income" || frames[1].Name != "region" {
			t.Fatalf("want one frame per feature (income, region), got %d", len(frames))
		}
		for _, f := range frames {
			checkDataplane(t, f, data.FrameTypeNumericLong, from, end)
			bins, _ := f.FieldByName("bin")
			if bins == nil || bins.Type() != data.FieldTypeString {
				t.Fatalf("frame %q: want a string field 'bin'", f.Name)
			}
			current, _ := f.FieldByName("current")
			if current == nil || current.Config == nil || current.Config.Unit != "percentunit" || current.Labels["feature"] != f.Name || current.Labels["model"] != "credit" {
				t.Fatalf("frame %q: field 'current' needs unit percentunit and labels model/feature, got %+v", f.Name, current)
			}
			total := 0.0
			for i := 0; i < current.Len(); i++ {
				total += *current.At(i).(*float64)
			}
			if total < 0.999999 || total > 1.000001 {
				t.Errorf("frame %q: current proportions sum to %v", f.Name, total)
			}
			custom, ok := f.Meta.Custom.(map[string]any)
			if !ok || custom["feature"] != f.Name || custom["psi"] == nil || custom["severity"] == nil {
				t.Errorf("frame %q: meta.custom lacks the readouts: %v", f.Name, f.Meta.Custom)
			}
			if counts := custom["counts"].(map[string]any); counts["current"] != float64(1440) {
				t.Errorf("frame %q: current count %v, want 1440 (one a minute over 24 h)", f.Name, counts["current"])
			}
		}
	})

	t.Run("operational and quality values", func(t *testing.T) {
		res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{
			{RefId: "T", Json: []byte(`{"queryType":"operational","model":"credit","metric":"throughput","bucket":"1h"}`), TimeRange: timeRange},
			{RefId: "L", Json: []byte(`{"queryType":"operational","model":"credit","metric":"latency_p95","bucket":"1h"}`), TimeRange: timeRange},
			{RefId: "Q", Json: []byte(`{"queryType":"quality","model":"credit","metric":"null_rate","bucket":"1h"}`), TimeRange: timeRange},
		}})
		if err != nil {
			t.Fatal(err)
		}
		throughput := decodeFrames(t, "T", res.Responses["T"])[0]
		values, _ := throughput.FieldByName("value")
		for i := 1; i+1 < values.Len(); i++ { // whole hours: 60 predictions in 3600 s
			if v := *values.At(i).(*float64); v < 1.0/60-1e-12 || v > 1.0/60+1e-12 {
				t.Errorf("throughput bucket %d: %v, want 1/60 per second", i, v)
			}
		}
		latency := decodeFrames(t, "L", res.Responses["L"])[0]
		p95, _ := latency.FieldByName("value")
		level, _ := latency.FieldByName("level")
		if p95.Config == nil || p95.Config.Thresholds == nil || len(p95.Config.Thresholds.Steps) != 3 ||
			float64(p95.Config.Thresholds.Steps[1].Value) != 200 || level == nil || p95.Config.Unit != "ms" {
			t.Errorf("latency_p95: want unit ms, thresholds 200/400 in the field config and a level field, got %+v", p95.Config)
		}
		quality := decodeFrames(t, "Q", res.Responses["Q"])
		if len(quality) != 2 {
			t.Fatalf("quality: want one frame per feature, got %d", len(quality))
		}
		for _, f := range quality {
			rate, _ := f.FieldByName("value")
			if rate.Labels["metric"] != "null_rate" || rate.Labels["feature"] != f.Name || *rate.At(1).(*float64) != 0 {
				t.Errorf("quality frame %q: want labels feature/metric and a null rate of 0, got %v %v", f.Name, rate.Labels, rate.At(1))
			}
		}
	})

	t.Run("a bad query fails only its own refId", func(t *testing.T) {
		res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{
			{RefId: "good", Json: []byte(`{"queryType":"versions","model":"credit"}`), TimeRange: timeRange},
			{RefId: "malformed", Json: []byte(`{"queryType": "versions", "model":`), TimeRange: timeRange},
			{RefId: "unknown-type", Json: []byte(`{"queryType":"horoscope"}`), TimeRange: timeRange},
			{RefId: "unknown-model", Json: []byte(`{"queryType":"versions","model":"nope"}`), TimeRange: timeRange},
			{RefId: "no-model", Json: []byte(`{"queryType":"versions"}`), TimeRange: timeRange},
		}})
		if err != nil {
			t.Fatal(err)
		}
		decodeFrames(t, "good", res.Responses["good"])
		for refID, want := range map[string]struct {
			status int32
			text   string
		}{
			"malformed":     {400, "not valid JSON"},
			"unknown-type":  {400, "unknown queryType"},
			"unknown-model": {404, `model "nope"`},
			"no-model":      {400, "needs a model"},
		} {
			r := res.Responses[refID]
			if r == nil || r.Status != want.status || !strings.Contains(r.Error, want.text) || r.ErrorSource != "downstream" {
				t.Errorf("%s: want status %d, downstream error containing %q, got %+v", refID, want.status, want.text, r)
			}
		}
	})

	t.Run("50 concurrent requests", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				refID := fmt.Sprintf("R%d", i)
				res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{
					{RefId: refID, Json: []byte(`{"queryType":"features","model":"credit"}`), TimeRange: timeRange},
				}})
				if err != nil {
					errs <- err
					return
				}
				if r := res.Responses[refID]; r == nil || r.Status != 200 {
					errs <- fmt.Errorf("%s: %+v", refID, r)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("resources", func(t *testing.T) {
		var models struct {
			Models []struct {
				Name          string   `json:"name"`
				Versions      []string `json:"versions"`
				Predictions24 float64  `json:"predictions24h"`
			} `json:"models"`
		}
		res := callResource(t, p, pc, "models")
		if err := json.Unmarshal(res.Body, &models); err != nil || res.Code != 200 || len(models.Models) != 1 || models.Models[0].Name != "credit" {
			t.Fatalf("models resource: %d %s", res.Code, res.Body)
		}
		if got := strings.Join(models.Models[0].Versions, ","); got != "v1,v2" {
			t.Errorf("models resource versions: %s", got)
		}
		if res := callResource(t, p, pc, "models/credit/features"); res.Code != 200 || !strings.Contains(string(res.Body), `"income"`) {
			t.Errorf("features resource: %d %s", res.Code, res.Body)
		}
		if res := callResource(t, p, pc, "models/credit/versions"); res.Code != 200 || string(res.Body) != `{"versions":["v1","v2"]}` {
			t.Errorf("versions resource: %d %s", res.Code, res.Body)
		}
		if res := callResource(t, p, pc, "models/nope/versions"); res.Code != 404 || !strings.Contains(string(res.Body), "credit") {
			t.Errorf("unknown model: want 404 naming the known models, got %d %s", res.Code, res.Body)
		}
		if res := callResource(t, p, pc, "no/such/route"); res.Code != 404 {
			t.Errorf("unknown route: want 404, got %d", res.Code)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		res, err := p.clients.diagnostics.CollectMetrics(ctx(t), &pluginv2.CollectMetricsRequest{PluginContext: pc})
		if err != nil {
			t.Fatal(err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(string(res.Metrics.Prometheus)))
		if err != nil {
			t.Fatalf("metrics do not parse: %v\n%s", err, res.Metrics.Prometheus)
		}
		for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "plugin_queries_total", "plugin_query_duration_seconds", "plugin_query_errors_total"} {
			if families[name] == nil {
				t.Errorf("metric %s is missing", name)
			}
		}
		counted := 0.0
		for _, m := range families["plugin_queries_total"].GetMetric() {
			counted += m.GetCounter().GetValue()
		}
		if counted < 50 {
			t.Errorf("plugin_queries_total counts %v queries, at least 50 were made", counted)
		}
	})
}

func TestShutdownExitsPromptly(t *testing.T) {
	p := startPlugin(t, true)
	started := time.Now()
	// go-plugin's Kill calls GRPCController/Shutdown, then waits 2 s before it SIGKILLs the process.
	p.client.Kill()
	if elapsed := time.Since(started); elapsed > time.Second {
		t.Fatalf("the plugin took %v to exit after Shutdown; Grafana kills it after 2 s", elapsed)
	}
	if !p.client.Exited() {
		t.Fatal("the plugin process is still running after Shutdown")
	}
}
