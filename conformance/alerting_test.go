package conformance

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
)

// Grafana's alerting defaults for a rule's query (pkg/services/ngalert/models/alert_query.go): the rule's relative
// range made absolute, intervalMs 1000 and maxDataPoints 43200, and the FromAlert header on the request.
const (
	alertIntervalMS    = 1000
	alertMaxDataPoints = 43200
	// fromAlertHeader is the SDK's backend.FromAlertHeaderName (grafana-plugin-sdk-go v0.298.0,
	// backend/alert_forwarder_middleware.go), the header alert evaluations carry; spelt out here so that the suite
	// does not pull in the SDK's backend package and its dependencies.
	fromAlertHeader = "FromAlert"
)

// alertHeaders are the headers Grafana's alert evaluation puts on a QueryData request; the key arrives in Go's
// canonical form when it crossed HTTP, so one of the cases sends it that way.
func alertHeaders(canonical bool) map[string]string {
	key := fromAlertHeader
	if canonical {
		key = http.CanonicalHeaderKey(key) // "Fromalert"
	}
	return map[string]string{key: "true", "X-Rule-Uid": "conformance", "X-Cache-Skip": "true"}
}

// alertQuery is a rule's query over the `window` before demoEnd, with Grafana's alert defaults.
func alertQuery(refID, body string, window time.Duration) *pluginv2.DataQuery {
	return &pluginv2.DataQuery{
		RefId:         refID,
		Json:          []byte(body),
		IntervalMS:    alertIntervalMS,
		MaxDataPoints: alertMaxDataPoints,
		TimeRange:     &pluginv2.TimeRange{FromEpochMS: demoEnd.Add(-window).UnixMilli(), ToEpochMS: demoEnd.UnixMilli()},
	}
}

// reducedNumber is one number a rule's Reduce (last) makes of a response, with the labels that identify it.
type reducedNumber struct {
	labels data.Labels
	value  *float64
}

// numberAt reads a numeric field's value as *float64 (nil for null).
func numberAt(field *data.Field, row int) *float64 {
	value, ok := field.ConcreteAt(row)
	if !ok {
		return nil
	}
	f, err := field.FloatAt(row)
	if err != nil || value == nil {
		return nil
	}
	return &f
}

// reduceLast applies Grafana's server-side Reduce (last) to the frames of one refId by the data-plane contract
// (grafana/dataplane docs/contract): multi frames count their first number field (later ones are remainder data);
// long and wide frames count every number field, identified by the field name and the row's string dimensions
// (long) or the field's labels (wide). Frames without a type are read like numeric-long tables. Annotation frames
// hold no numbers for alerting.
func reduceLast(t *testing.T, frames data.Frames) []reducedNumber {
	t.Helper()
	var numbers []reducedNumber
	for _, f := range frames {
		if f.Meta != nil && f.Meta.DataTopic == data.DataTopicAnnotations {
			continue
		}
		typ, _ := f.TypeInfo("")
		var numeric, strs []*data.Field
		for _, field := range f.Fields {
			switch {
			case field.Type().Numeric():
				numeric = append(numeric, field)
			case field.Type() == data.FieldTypeString || field.Type() == data.FieldTypeNullableString:
				strs = append(strs, field)
			}
		}
		rows, _ := f.RowLen()
		switch typ {
		case data.FrameTypeTimeSeriesMulti, data.FrameTypeNumericMulti:
			if len(numeric) == 0 {
				continue
			}
			var last *float64
			if rows > 0 {
				last = numberAt(numeric[0], rows-1)
			}
			numbers = append(numbers, reducedNumber{labels: numeric[0].Labels.Copy(), value: last})
		case data.FrameTypeNumericWide:
			for _, field := range numeric {
				var last *float64
				if rows > 0 {
					last = numberAt(field, rows-1)
				}
				numbers = append(numbers, reducedNumber{labels: field.Labels.Copy(), value: last})
			}
		default: // timeseries-long, numeric-long, untyped tables: one number per number field and dimensions
			last := map[string]reducedNumber{}
			var order []string
			for _, field := range numeric {
				for row := 0; row < rows; row++ {
					labels := data.Labels{}
					for _, s := range strs {
						if v, ok := s.ConcreteAt(row); ok {
							labels[s.Name] = fmt.Sprint(v)
						}
					}
					key := field.Name + labels.String()
					if _, seen := last[key]; !seen {
						order = append(order, key)
					}
					last[key] = reducedNumber{labels: labels, value: numberAt(field, row)}
				}
			}
			for _, key := range order {
				numbers = append(numbers, last[key])
			}
		}
	}
	return numbers
}

// checkOneNumberPerLabelSet is Grafana's condition check (pkg/services/ngalert/eval: "frame cannot uniquely be
// identified by its labels") plus the labels a rule author routes and templates on.
func checkOneNumberPerLabelSet(t *testing.T, what string, numbers []reducedNumber, required ...string) {
	t.Helper()
	if len(numbers) == 0 {
		t.Errorf("%s: no number to alert on", what)
	}
	seen := map[string]bool{}
	for _, n := range numbers {
		key := n.labels.String()
		if seen[key] {
			t.Errorf("%s: two numbers carry the labels {%s}; Grafana refuses the evaluation (duplicate results)", what, key)
		}
		seen[key] = true
		for _, label := range required {
			if n.labels[label] == "" {
				t.Errorf("%s: number with labels {%s} lacks the label %q", what, key, label)
			}
		}
	}
}

// alertLabels are the labels each number-returning query type gives every alert instance.
var alertLabels = map[string][]string{
	"drift":            {"model", "feature", "metric"},
	"prediction_drift": {"model", "feature", "metric"},
	"severity":         {"model", "feature", "metric"},
	"quality":          {"model", "feature", "metric"},
	"performance":      {"model", "metric"},
	"operational":      {"model", "metric"},
	"ranking":          {"model", "feature", "metric"},
	"distribution":     {"model", "feature", "metric", "bin"},
	"models":           {"model", "metric"},
	"versions":         {"model", "version", "metric"},
}

func TestAlertQueries(t *testing.T) {
	p := startPlugin(t, false)
	for _, store := range demoStores(t) {
		t.Run(store.name, func(t *testing.T) {
			pc := store.context("alerts")

			t.Run("Grafana's defaults and no bucket give one bucket over the rule's range, quickly", func(t *testing.T) {
				for _, window := range []time.Duration{3 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
					for _, metric := range []string{"psi", "ks"} {
						body := fmt.Sprintf(`{"queryType":"drift","model":%q,"metric":%q}`, demoModel, metric)
						started := time.Now()
						res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{
							PluginContext: pc, Headers: alertHeaders(window == 12*time.Hour),
							Queries: []*pluginv2.DataQuery{alertQuery("A", body, window)},
						})
						elapsed := time.Since(started)
						if err != nil {
							t.Fatalf("%v %s: %v", window, metric, err)
						}
						if elapsed > 5*time.Second {
							t.Errorf("%v %s: answered in %v; an alert evaluation has 30 s for every rule", window, metric, elapsed)
						}
						frames := decodeFrames(t, "A", res.Responses["A"])
						if len(frames) < 5 {
							t.Fatalf("%v %s: want one frame per feature, got %d", window, metric, len(frames))
						}
						for _, f := range frames {
							rows, _ := f.RowLen()
							if rows != 1 {
								t.Fatalf("%v %s: frame %q has %d buckets, want 1 over the rule's range", window, metric, f.Name, rows)
							}
							if at := f.Fields[0].At(0).(time.Time); !at.Equal(demoEnd.Add(-window)) {
								t.Errorf("%v %s: frame %q: the bucket starts at %v, want the range's start %v", window, metric, f.Name, at, demoEnd.Add(-window))
							}
							if value := numberAt(f.Fields[1], 0); value == nil {
								t.Errorf("%v %s: frame %q has no value over %v of traffic", window, metric, f.Name, window)
							}
						}
						t.Logf("%s, %v, %s: %v", store.name, window, metric, elapsed)
					}
				}
			})

			t.Run("every number-returning query type: one number per label set after Reduce (last)", func(t *testing.T) {
				for queryType, required := range alertLabels {
					body := fmt.Sprintf(`{"queryType":%q,"model":%q}`, queryType, demoModel)
					res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{
						PluginContext: pc, Headers: alertHeaders(false),
						Queries: []*pluginv2.DataQuery{alertQuery("A", body, 24*time.Hour)},
					})
					if err != nil {
						t.Fatalf("%s: %v", queryType, err)
					}
					numbers := reduceLast(t, decodeFrames(t, "A", res.Responses["A"]))
					checkOneNumberPerLabelSet(t, queryType, numbers, required...)
					if queryType != "models" && queryType != "versions" {
						for _, n := range numbers {
							if n.labels["model"] != demoModel {
								t.Errorf("%s: model label %q, want %q", queryType, n.labels["model"], demoModel)
							}
						}
					}
				}
			})

			t.Run("version and segment become labels when the query asks for them", func(t *testing.T) {
				body := fmt.Sprintf(`{"queryType":"drift","model":%q,"version":"v3","segment":[{"column":"region","operator":"=","value":"north"}]}`, demoModel)
				res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{
					PluginContext: pc, Headers: alertHeaders(false),
					Queries: []*pluginv2.DataQuery{alertQuery("A", body, 24*time.Hour)},
				})
				if err != nil {
					t.Fatal(err)
				}
				numbers := reduceLast(t, decodeFrames(t, "A", res.Responses["A"]))
				checkOneNumberPerLabelSet(t, "drift with version and segment", numbers, "model", "feature", "metric", "version", "segment")
				for _, n := range numbers {
					if n.labels["version"] != "v3" || n.labels["segment"] != "region = north" {
						t.Errorf("labels %v: want version v3 and segment \"region = north\"", n.labels)
					}
				}
			})

			t.Run("dashboards keep their buckets", func(t *testing.T) {
				body := fmt.Sprintf(`{"queryType":"drift","model":%q}`, demoModel)
				query := alertQuery("A", body, 24*time.Hour)
				query.IntervalMS, query.MaxDataPoints = 3600_000, 500
				res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{query}})
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range decodeFrames(t, "A", res.Responses["A"]) {
					if rows, _ := f.RowLen(); rows != 24 {
						t.Errorf("frame %q: %d buckets, want the 24 hourly buckets of a dashboard", f.Name, rows)
					}
				}
			})
		})
	}
}
