package conformance

// Every panel of every bundled dashboard (src/dashboards/*.json) runs its queries through the built executable on the
// demo's data, for each demo model, with the dashboard's variables set as Grafana sets them, and gets data.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
)

type dashboardFile struct {
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Sort       int             `json:"sort"`
			IncludeAll bool            `json:"includeAll"`
			AllValue   *string         `json:"allValue"`
			Current    struct {
				Value any `json:"value"`
			} `json:"current"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name   string         `json:"name"`
			Target map[string]any `json:"target"`
		} `json:"list"`
	} `json:"annotations"`
	Panels []struct {
		ID      int              `json:"id"`
		Type    string           `json:"type"`
		Title   string           `json:"title"`
		Targets []map[string]any `json:"targets"`
	} `json:"panels"`
}

// dashboardVariables are the values Grafana gives the variables when a dashboard opens for `model`: a textbox's
// default, a custom variable's current value, "All" (its allValue, empty: every feature or version), and for a
// single-value query variable without a current value the first option of its query (firstOption).
func dashboardVariables(d dashboardFile, model string, firstOption func(query map[string]any, sort int) string) map[string]string {
	values := map[string]string{"datasource": "mlmon", "model": model}
	for _, v := range d.Templating.List {
		switch {
		case v.Name == "datasource" || v.Name == "model":
		case v.AllValue != nil:
			values[v.Name] = *v.AllValue
		case v.Type == "query" && !v.IncludeAll && v.Current.Value == nil:
			var query map[string]any
			_ = json.Unmarshal(v.Query, &query)
			values[v.Name] = firstOption(interpolateTarget(query, values), v.Sort)
		default:
			values[v.Name] = fmt.Sprint(v.Current.Value)
			if v.Current.Value == nil {
				values[v.Name] = ""
			}
		}
	}
	return values
}

var variablePattern = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)

// interpolateTarget replaces the variables in a query as Grafana does, then applies the datasource's own
// interpolation rules (src/datasource/interpolate.ts): an empty feature list means all features, a segment condition
// left empty is dropped, an empty string option is absent.
func interpolateTarget(target map[string]any, values map[string]string) map[string]any {
	text, _ := json.Marshal(target)
	replaced := variablePattern.ReplaceAllStringFunc(string(text), func(m string) string {
		name := strings.Trim(m, "${}")
		if value, ok := values[name]; ok {
			encoded, _ := json.Marshal(value)
			return strings.Trim(string(encoded), `"`)
		}
		return m
	})
	var query map[string]any
	_ = json.Unmarshal([]byte(replaced), &query)
	if features, ok := query["features"].([]any); ok {
		var kept []any
		for _, f := range features {
			if f != "" {
				kept = append(kept, f)
			}
		}
		query["features"] = kept
	}
	if segment, ok := query["segment"].([]any); ok {
		var kept []any
		for _, c := range segment {
			condition := c.(map[string]any)
			if condition["column"] != "" && condition["value"] != "" {
				kept = append(kept, condition)
			}
		}
		if len(kept) == 0 {
			delete(query, "segment")
		} else {
			query["segment"] = kept
		}
	}
	for _, key := range []string{"version", "baseline", "bucket"} {
		if query[key] == "" {
			delete(query, key)
		}
	}
	delete(query, "datasource")
	return query
}

// hasData is true when a frame holds a number that is not null, or an annotations frame has events.
func hasData(frames data.Frames) bool {
	for _, f := range frames {
		for _, field := range f.Fields {
			for i := 0; i < field.Len(); i++ {
				if v, ok := numericValue(field.At(i)); ok && v != nil {
					return true
				}
				if f.Meta != nil && f.Meta.DataTopic == data.DataTopicAnnotations {
					return true
				}
			}
		}
	}
	return false
}

func dashboardQuery(t *testing.T, p *startedPlugin, pc *pluginv2.PluginContext, query map[string]any) (data.Frames, error) {
	t.Helper()
	body, _ := json.Marshal(query)
	to := simulationEnd
	from := to.Add(-7 * 24 * time.Hour) // the dashboards' default range: the last 7 days of the demo
	res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{{
		RefId: "A", Json: body, IntervalMS: 600_000, MaxDataPoints: 1000,
		TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()},
	}}})
	if err != nil {
		return nil, err
	}
	r := res.Responses["A"]
	if r == nil || r.Error != "" {
		return nil, fmt.Errorf("%s", r.GetError())
	}
	return data.UnmarshalArrowFrames(r.Frames)
}

// firstOptionOf is the option Grafana selects in a query variable that has no current value: the first value of its
// query's first column after the variable's sort (1 alphabetical ascending, 2 alphabetical descending, else the
// query's order); "" when the query has no rows.
func firstOptionOf(t *testing.T, p *startedPlugin, pc *pluginv2.PluginContext) func(map[string]any, int) string {
	return func(query map[string]any, order int) string {
		frames, err := dashboardQuery(t, p, pc, query)
		if err != nil || len(frames) == 0 || len(frames[0].Fields) == 0 {
			t.Errorf("variable query %v: %v", query, err)
			return ""
		}
		var options []string
		for i := 0; i < frames[0].Fields[0].Len(); i++ {
			options = append(options, fmt.Sprint(frames[0].Fields[0].At(i)))
		}
		switch order {
		case 1:
			sort.Strings(options)
		case 2:
			sort.Sort(sort.Reverse(sort.StringSlice(options)))
		}
		if len(options) == 0 {
			return ""
		}
		return options[0]
	}
}

// regressionModels are the demo models whose output is a number: estimated performance (CBPE) does not apply to them.
var regressionModels = map[string]bool{"delivery_time": true}

// checkDashboards runs every panel, annotation and query variable of the bundled dashboards for both demo models.
func checkDashboards(t *testing.T, p *startedPlugin, pc *pluginv2.PluginContext) {
	files, _ := filepath.Glob(filepath.Join(repoRoot(t), "src", "dashboards", "*.json"))
	if len(files) < 4 {
		t.Fatalf("want the four bundled dashboards, found %v", files)
	}
	panels := 0
	for _, file := range files {
		text, _ := os.ReadFile(file)
		var d dashboardFile
		if err := json.Unmarshal(text, &d); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, model := range []string{"credit_risk", "delivery_time"} {
			values := dashboardVariables(d, model, firstOptionOf(t, p, pc))
			for _, panel := range d.Panels {
				if len(panel.Targets) == 0 {
					continue // no queries (the alert list reads Grafana's own alert state)
				}
				got := false
				for _, target := range panel.Targets {
					frames, err := dashboardQuery(t, p, pc, interpolateTarget(target, values))
					if target["queryType"] == "compare" && values["champion"] == values["challenger"] {
						// a model with one version: Grafana selects it for both, and the panel says to pick two
						if err == nil || !strings.Contains(err.Error(), "pick two different versions") {
							t.Errorf("%s panel %d %q (%s): one version %q: want the error asking for two versions, got %v", d.UID, panel.ID, panel.Title, model, values["champion"], err)
						}
						got = true
						continue
					}
					if target["estimate"] == true && regressionModels[model] {
						// what the panel shows for a regressor: the error saying the estimate applies to binary classifiers
						if err == nil || !strings.Contains(err.Error(), "applies to binary classifiers") {
							t.Errorf("%s panel %d %q (%s): want the error saying the estimate applies to binary classifiers, got %v", d.UID, panel.ID, panel.Title, model, err)
						}
						got = true
						continue
					}
					if err != nil {
						t.Errorf("%s panel %d %q (%s), target %v: %v", d.UID, panel.ID, panel.Title, model, target["queryType"], err)
						continue
					}
					got = got || hasData(frames)
				}
				if !got {
					t.Errorf("%s panel %d %q (%s): no data", d.UID, panel.ID, panel.Title, model)
				}
				panels++
			}
			for _, annotation := range d.Annotations.List {
				if annotation.Target == nil {
					continue
				}
				if _, err := dashboardQuery(t, p, pc, interpolateTarget(annotation.Target, values)); err != nil {
					t.Errorf("%s annotation %q (%s): %v", d.UID, annotation.Name, model, err)
				}
			}
			for _, variable := range d.Templating.List {
				if variable.Type != "query" {
					continue
				}
				var query map[string]any
				_ = json.Unmarshal(variable.Query, &query)
				frames, err := dashboardQuery(t, p, pc, interpolateTarget(query, values))
				if err != nil || len(frames) == 0 || frames[0].Rows() == 0 {
					t.Errorf("%s variable %s (%s): %v, %d frames", d.UID, variable.Name, model, err, len(frames))
				}
			}
		}
	}
	t.Logf("%d panel runs got data", panels)
}
