package conformance

// Estimated performance (`performance` with `estimate: true`) and champion vs challenger (`compare`) through the
// built executable, on the seed's model "duel" (conformance/testdata/seed.ts: versions v1 and v2 scoring the same
// requests, labels except for the last six hours, a baseline of v1 with a score calibration): frames as a dashboard
// gets them, and as an alert rule gets them with Grafana's defaults (intervalMs 1000, maxDataPoints 43200, FromAlert).

import (
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
)

// duelQuery sends one query over [from, end): as a dashboard panel (hourly interval, 500 points) or as an alert rule.
func duelQuery(t *testing.T, p *startedPlugin, pc *pluginv2.PluginContext, body string, from, end time.Time, alert bool) data.Frames {
	t.Helper()
	query := &pluginv2.DataQuery{
		RefId: "A", Json: []byte(body), IntervalMS: 3600_000, MaxDataPoints: 500,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: end.UnixMilli()},
	}
	request := &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{query}}
	if alert {
		query.IntervalMS, query.MaxDataPoints = alertIntervalMS, alertMaxDataPoints
		request.Headers = alertHeaders(false)
	}
	res, err := p.clients.data.QueryData(ctx(t), request)
	if err != nil {
		t.Fatal(err)
	}
	return decodeFrames(t, "A", res.Responses["A"])
}

// floats reads a numeric field (nil for nulls); fails when the frame has no such field.
func floats(t *testing.T, f *data.Frame, name string) []*float64 {
	t.Helper()
	field, _ := f.FieldByName(name)
	if field == nil {
		t.Fatalf("frame %q has no field %q", f.Name, name)
	}
	values := make([]*float64, field.Len())
	for i := range values {
		values[i] = numberAt(field, i)
	}
	return values
}

func TestEstimatedAndComparedPerformance(t *testing.T) {
	p := startPlugin(t, false)
	end := time.Now().Truncate(time.Hour)
	pc := datasource("duel", map[string]any{"dataDirectory": seedDataDirectory(t, end, 24, "duel")}, nil)
	from := end.Add(-24 * time.Hour)

	t.Run("performance with estimate: true: estimate inside its band, realized where labelled", func(t *testing.T) {
		frames := duelQuery(t, p, pc, `{"queryType":"performance","model":"duel","version":"v1","metric":"accuracy","estimate":true,"bucket":"1h"}`, from, end, false)
		if len(frames) != 1 {
			t.Fatalf("want one frame, got %d", len(frames))
		}
		f := frames[0]
		checkDataplane(t, f, data.FrameTypeTimeSeriesMulti, from, end)
		value, lower, upper, realized := floats(t, f, "value"), floats(t, f, "lower"), floats(t, f, "upper"), floats(t, f, "realized")
		if len(value) != 24 {
			t.Fatalf("want 24 hourly buckets, got %d", len(value))
		}
		for i := range value {
			if value[i] == nil || lower[i] == nil || upper[i] == nil || *lower[i] > *value[i] || *value[i] > *upper[i] {
				t.Errorf("bucket %d: want lower <= estimate <= upper, got %v %v %v", i, lower[i], value[i], upper[i])
			}
			labelled := i < 18
			if labelled != (realized[i] != nil) {
				t.Errorf("bucket %d: realized %v, want a value exactly where labels arrived (the first 18 hours)", i, realized[i])
			}
		}
		numbers := reduceLast(t, duelQuery(t, p, pc, `{"queryType":"performance","model":"duel","version":"v1","estimate":true}`, from, end, true))
		checkOneNumberPerLabelSet(t, "performance estimate", numbers, "model", "metric")
		if len(numbers) != 1 || numbers[0].value == nil {
			t.Errorf("alert rule: want one estimated accuracy over the range, got %+v", numbers)
		}
	})

	t.Run("compare: every series per bucket as a dashboard gets it", func(t *testing.T) {
		frames := duelQuery(t, p, pc, `{"queryType":"compare","model":"duel","champion":"v1","challenger":"v2","bucket":"1h"}`, from, end, false)
		series := map[string]*data.Frame{}
		for _, f := range frames {
			checkDataplane(t, f, data.FrameTypeTimeSeriesMulti, from, end)
			value, _ := f.FieldByName("value")
			if value == nil || value.Labels["metric"] == "" {
				t.Fatalf("frame %q: want a value field labelled with its metric", f.Name)
			}
			key := value.Labels["metric"] + "/" + value.Labels["version"]
			if series[key] != nil {
				t.Errorf("two frames are %s", key)
			}
			series[key] = f
		}
		for _, want := range []string{"js/", "psi/", "agreement/", "accuracy/v1", "accuracy/v2", "accuracy_estimated/v1",
			"accuracy_estimated/v2", "latency_p95/v1", "latency_p95/v2", "error_rate/v1", "error_rate/v2"} {
			if series[want] == nil {
				t.Errorf("no %s series among %d frames", want, len(frames))
			}
		}
		if t.Failed() {
			return
		}
		pairs, agreement := floats(t, series["agreement/"], "pairs"), floats(t, series["agreement/"], "value")
		for i := range pairs {
			if pairs[i] == nil || *pairs[i] != 60 {
				t.Errorf("bucket %d: %v pairs, want the 60 requests both versions scored", i, pairs[i])
			}
			if agreement[i] == nil || *agreement[i] <= 0 || *agreement[i] >= 1 {
				t.Errorf("bucket %d: agreement %v, want a rate strictly between 0 and 1 (v2 = sqrt of v1's score)", i, agreement[i])
			}
		}
		for i, js := range floats(t, series["js/"], "value") {
			if js == nil || *js <= 0 || *js > 1 {
				t.Errorf("bucket %d: JS distance %v, want in (0, 1]", i, js)
			}
		}
	})

	t.Run("compare as an alert rule: Grafana's defaults give one bucket, one number per label set", func(t *testing.T) {
		frames := duelQuery(t, p, pc, `{"queryType":"compare","model":"duel","champion":"v1","challenger":"v2"}`, end.Add(-6*time.Hour), end, true)
		for _, f := range frames {
			if rows, _ := f.RowLen(); rows != 1 {
				t.Errorf("frame %q: %d buckets, want one over the rule's range", f.Name, rows)
			}
		}
		numbers := reduceLast(t, frames)
		checkOneNumberPerLabelSet(t, "compare", numbers, "model", "metric")
		if len(numbers) != 11 {
			t.Errorf("want 11 numbers (js, psi, agreement, 4 per version), got %d", len(numbers))
		}
		for _, n := range numbers {
			if n.labels["version"] != "" && n.labels["role"] == "" {
				t.Errorf("%v: a version's number needs its role (champion/challenger)", n.labels)
			}
		}
	})
}
