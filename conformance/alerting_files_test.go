package conformance

// The alerting provisioning files as Grafana reads them: Go's yaml.v3 (the library Grafana's provisioning uses)
// decodes them into the documented file-provisioning format (Grafana docs "Use configuration files to provision
// alerting resources", apiVersion 1) with unknown keys refused, environment variables substituted where Grafana
// substitutes them, and the documented constraints checked.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// provFile is one file of provisioning/alerting/: any of the documented resource lists.
type provFile struct {
	APIVersion          int            `yaml:"apiVersion"`
	Groups              []provGroup    `yaml:"groups"`
	DeleteRules         []provDelete   `yaml:"deleteRules"`
	ContactPoints       []provContact  `yaml:"contactPoints"`
	DeleteContactPoints []provDelete   `yaml:"deleteContactPoints"`
	Policies            []provRoute    `yaml:"policies"`
	ResetPolicies       []int          `yaml:"resetPolicies"`
	Templates           []provTemplate `yaml:"templates"`
	DeleteTemplates     []provDelete   `yaml:"deleteTemplates"`
	MuteTimes           []provMuteTime `yaml:"muteTimes"`
	DeleteMuteTimes     []provDelete   `yaml:"deleteMuteTimes"`
}

type provDelete struct {
	OrgID int    `yaml:"orgId"`
	UID   string `yaml:"uid"`
	Name  string `yaml:"name"`
}

type provGroup struct {
	OrgID    int        `yaml:"orgId"`
	Name     string     `yaml:"name"`
	Folder   string     `yaml:"folder"`
	Interval string     `yaml:"interval"`
	Rules    []provRule `yaml:"rules"`
}

type provRule struct {
	UID           string            `yaml:"uid"`
	Title         string            `yaml:"title"`
	Condition     string            `yaml:"condition"`
	Data          []provQuery       `yaml:"data"`
	DashboardUID  string            `yaml:"dashboardUid"`
	PanelID       int64             `yaml:"panelId"`
	NoDataState   string            `yaml:"noDataState"`
	ExecErrState  string            `yaml:"execErrState"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keepFiringFor"`
	Annotations   map[string]string `yaml:"annotations"`
	Labels        map[string]string `yaml:"labels"`
	IsPaused      bool              `yaml:"isPaused"`
}

type provQuery struct {
	RefID             string         `yaml:"refId"`
	QueryType         string         `yaml:"queryType"`
	RelativeTimeRange *provRange     `yaml:"relativeTimeRange"`
	DatasourceUID     string         `yaml:"datasourceUid"`
	Model             map[string]any `yaml:"model"`
}

type provRange struct {
	From int64 `yaml:"from"`
	To   int64 `yaml:"to"`
}

type provContact struct {
	OrgID     int            `yaml:"orgId"`
	Name      string         `yaml:"name"`
	Receivers []provReceiver `yaml:"receivers"`
}

type provReceiver struct {
	UID                   string         `yaml:"uid"`
	Type                  string         `yaml:"type"`
	Settings              map[string]any `yaml:"settings"`
	DisableResolveMessage bool           `yaml:"disableResolveMessage"`
}

// provRoute is a notification policy (the root carries orgId).
type provRoute struct {
	OrgID               int         `yaml:"orgId"`
	Receiver            string      `yaml:"receiver"`
	GroupBy             []string    `yaml:"group_by"`
	Matchers            []string    `yaml:"matchers"`
	ObjectMatchers      [][]string  `yaml:"object_matchers"`
	MuteTimeIntervals   []string    `yaml:"mute_time_intervals"`
	ActiveTimeIntervals []string    `yaml:"active_time_intervals"`
	Continue            bool        `yaml:"continue"`
	GroupWait           string      `yaml:"group_wait"`
	GroupInterval       string      `yaml:"group_interval"`
	RepeatInterval      string      `yaml:"repeat_interval"`
	Routes              []provRoute `yaml:"routes"`
}

type provTemplate struct {
	OrgID    int    `yaml:"orgId"`
	Name     string `yaml:"name"`
	Template string `yaml:"template"`
}

type provMuteTime struct {
	OrgID         int    `yaml:"orgId"`
	Name          string `yaml:"name"`
	TimeIntervals []struct {
		Times []struct {
			StartTime string `yaml:"start_time"`
			EndTime   string `yaml:"end_time"`
		} `yaml:"times"`
		Weekdays    []string `yaml:"weekdays"`
		DaysOfMonth []string `yaml:"days_of_month"`
		Months      []string `yaml:"months"`
		Years       []string `yaml:"years"`
		Location    string   `yaml:"location"`
	} `yaml:"time_intervals"`
}

// alertingSetup is every provisioned alerting resource, as Grafana would hold them after reading the files.
type alertingSetup struct {
	groups        []provGroup
	contactPoints []provContact
	policy        provRoute
	templates     []provTemplate
	muteTimes     []provMuteTime
}

// grafanaExpand substitutes $NAME and ${NAME} from `env` as Grafana's provisioning does, `$$` being a literal `$`.
func grafanaExpand(text string, env func(string) string) string {
	const dollar = "\x00dollar\x00"
	return strings.ReplaceAll(os.Expand(strings.ReplaceAll(text, "$$", dollar), env), dollar, "$")
}

// bracedExpand substitutes only ${NAME}: what Grafana does in rule annotations, whose templates use $labels.
func bracedExpand(text string, env func(string) string) string {
	return regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(text, func(m string) string { return env(m[2 : len(m)-1]) })
}

func expandAny(value any, env func(string) string) any {
	switch v := value.(type) {
	case string:
		return grafanaExpand(v, env)
	case map[string]any:
		out := map[string]any{}
		for key, item := range v {
			out[key] = expandAny(item, env)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = expandAny(item, env)
		}
		return out
	}
	return value
}

// loadAlertingSetup reads every file of dir strictly and substitutes the environment where Grafana does: rule labels,
// contact point settings, policies; annotations only ${NAME}; query models not at all.
func loadAlertingSetup(t *testing.T, dir string, env func(string) string) alertingSetup {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no provisioning files in %s: %v", dir, err)
	}
	var setup alertingSetup
	policies := 0
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		decoder := yaml.NewDecoder(bytes.NewReader(text))
		decoder.KnownFields(true)
		var parsed provFile
		if err := decoder.Decode(&parsed); err != nil {
			t.Fatalf("%s does not follow Grafana's alerting provisioning format: %v", filepath.Base(file), err)
		}
		if parsed.APIVersion != 1 {
			t.Errorf("%s: apiVersion %d, Grafana reads 1", filepath.Base(file), parsed.APIVersion)
		}
		for _, group := range parsed.Groups {
			for i := range group.Rules {
				rule := &group.Rules[i]
				for key, value := range rule.Labels {
					rule.Labels[key] = grafanaExpand(value, env)
				}
				for key, value := range rule.Annotations {
					rule.Annotations[key] = bracedExpand(value, env)
				}
			}
			setup.groups = append(setup.groups, group)
		}
		for _, point := range parsed.ContactPoints {
			for i := range point.Receivers {
				point.Receivers[i].Settings = expandAny(point.Receivers[i].Settings, env).(map[string]any)
			}
			setup.contactPoints = append(setup.contactPoints, point)
		}
		for _, policy := range parsed.Policies {
			encoded, _ := json.Marshal(policy)
			var raw any
			_ = json.Unmarshal(encoded, &raw)
			encoded, _ = json.Marshal(expandAny(raw, env))
			_ = json.Unmarshal(encoded, &setup.policy)
			policies++
		}
		setup.templates = append(setup.templates, parsed.Templates...)
		setup.muteTimes = append(setup.muteTimes, parsed.MuteTimes...)
	}
	if policies != 1 {
		t.Fatalf("want exactly one notification policy tree across the files (one per org), got %d", policies)
	}
	return setup
}

var (
	uidPattern          = regexp.MustCompile(`^[a-zA-Z0-9\-_]{1,40}$`)
	noDataStates        = map[string]bool{"NoData": true, "Alerting": true, "OK": true, "KeepLast": true}
	execErrStates       = map[string]bool{"Error": true, "Alerting": true, "OK": true, "KeepLast": true}
	expressionTypes     = map[string]bool{"math": true, "reduce": true, "resample": true, "classic_conditions": true, "threshold": true}
	reducers            = map[string]bool{"sum": true, "mean": true, "min": true, "max": true, "count": true, "last": true, "median": true}
	reduceModes         = map[string]bool{"": true, "dropNN": true, "replaceNN": true}
	thresholdEvaluators = map[string]bool{"gt": true, "lt": true, "within_range": true, "outside_range": true}
	matcherOps          = map[string]bool{"=": true, "!=": true, "=~": true, "!~": true}
)

// checkRule applies the documented constraints of one rule; `datasources` are the provisioned datasource uids.
func checkRule(t *testing.T, group provGroup, rule provRule, datasources map[string]bool, panels map[string]map[int64]bool) {
	t.Helper()
	where := fmt.Sprintf("rule %q", rule.UID)
	if !uidPattern.MatchString(rule.UID) {
		t.Errorf("%s: uid must be 1-40 letters, digits, - and _", where)
	}
	if rule.Title == "" || len(rule.Title) > 190 {
		t.Errorf("%s: title %q must have 1-190 characters", where, rule.Title)
	}
	if _, err := model.ParseDuration(rule.For); err != nil {
		t.Errorf("%s: for %q: %v", where, rule.For, err)
	}
	if !noDataStates[rule.NoDataState] || !execErrStates[rule.ExecErrState] {
		t.Errorf("%s: noDataState %q / execErrState %q are not Grafana's", where, rule.NoDataState, rule.ExecErrState)
	}
	if panel := panels[rule.DashboardUID]; panel == nil || !panel[rule.PanelID] {
		t.Errorf("%s: dashboard %q panel %d is not a bundled dashboard's panel", where, rule.DashboardUID, rule.PanelID)
	}
	refIDs := map[string]bool{}
	for _, query := range rule.Data {
		if refIDs[query.RefID] || query.RefID == "" {
			t.Errorf("%s: refId %q is empty or repeated", where, query.RefID)
		}
		if query.DatasourceUID == "__expr__" {
			checkExpression(t, where, query, refIDs)
		} else {
			if !datasources[query.DatasourceUID] {
				t.Errorf("%s: query %s uses datasource %q, which is not provisioned", where, query.RefID, query.DatasourceUID)
			}
			if query.RelativeTimeRange == nil || query.RelativeTimeRange.From <= query.RelativeTimeRange.To {
				t.Errorf("%s: query %s needs a relative time range with from > to", where, query.RefID)
			}
		}
		refIDs[query.RefID] = true
	}
	if !refIDs[rule.Condition] {
		t.Errorf("%s: condition %q is not one of its queries", where, rule.Condition)
	}
	for _, key := range []string{"summary", "description", "runbook_url"} {
		if rule.Annotations[key] == "" {
			t.Errorf("%s: annotation %s is missing", where, key)
		}
	}
	if s := rule.Labels["severity"]; s != "info" && s != "warning" && s != "critical" {
		t.Errorf("%s: severity label %q", where, s)
	}
	_ = group
}

func checkExpression(t *testing.T, where string, query provQuery, before map[string]bool) {
	t.Helper()
	kind, _ := query.Model["type"].(string)
	if !expressionTypes[kind] {
		t.Errorf("%s: expression %s has type %q", where, query.RefID, kind)
		return
	}
	expression, _ := query.Model["expression"].(string)
	inputs := []string{expression}
	if kind == "math" {
		inputs = nil
		for _, m := range regexp.MustCompile(`\$(\w+)`).FindAllStringSubmatch(expression, -1) {
			inputs = append(inputs, m[1])
		}
	}
	for _, input := range inputs {
		if !before[input] {
			t.Errorf("%s: expression %s reads %q, which no earlier query defines", where, query.RefID, input)
		}
	}
	switch kind {
	case "reduce":
		reducer, _ := query.Model["reducer"].(string)
		settings, _ := query.Model["settings"].(map[string]any)
		mode, _ := settings["mode"].(string)
		if !reducers[reducer] || !reduceModes[mode] {
			t.Errorf("%s: reduce %s has reducer %q mode %q", where, query.RefID, reducer, mode)
		}
	case "threshold":
		conditions, _ := query.Model["conditions"].([]any)
		if len(conditions) == 0 {
			t.Errorf("%s: threshold %s has no conditions", where, query.RefID)
		}
		for _, c := range conditions {
			evaluator, _ := c.(map[string]any)["evaluator"].(map[string]any)
			kind, _ := evaluator["type"].(string)
			params, _ := evaluator["params"].([]any)
			want := map[bool]int{true: 2, false: 1}[strings.HasSuffix(kind, "_range")]
			if !thresholdEvaluators[kind] || len(params) != want {
				t.Errorf("%s: threshold %s evaluator %v", where, query.RefID, evaluator)
			}
		}
	}
}

// checkRoutes checks a policy tree: receivers and mute timings exist, matchers and durations are valid.
func checkRoutes(t *testing.T, route provRoute, receivers, muteTimes map[string]bool) {
	t.Helper()
	if route.Receiver != "" && !receivers[route.Receiver] {
		t.Errorf("route to %q: no such contact point", route.Receiver)
	}
	for _, matcher := range route.ObjectMatchers {
		if len(matcher) != 3 || !matcherOps[matcher[1]] {
			t.Errorf("matcher %v is not [label, op, value] with op = != =~ !~", matcher)
		}
	}
	for _, name := range route.MuteTimeIntervals {
		if !muteTimes[name] {
			t.Errorf("mute timing %q is not provisioned", name)
		}
	}
	for _, d := range []string{route.GroupWait, route.GroupInterval, route.RepeatInterval} {
		if d != "" {
			if _, err := model.ParseDuration(d); err != nil {
				t.Errorf("route duration %q: %v", d, err)
			}
		}
	}
	for _, child := range route.Routes {
		checkRoutes(t, child, receivers, muteTimes)
	}
}

// templateFuncs are the functions of Grafana's notification and annotation templates that ours use.
var templateFuncs = template.FuncMap{
	"toUpper":            strings.ToUpper,
	"toLower":            strings.ToLower,
	"humanizePercentage": func(v float64) string { return fmt.Sprintf("%.4g%%", v*100) },
	"humanize":           func(v float64) string { return fmt.Sprintf("%.4g", v) },
}

// bundledPanels maps each bundled dashboard's uid to its panel ids.
func bundledPanels(t *testing.T) map[string]map[int64]bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(repoRoot(t), "src", "dashboards", "*.json"))
	out := map[string]map[int64]bool{}
	for _, file := range files {
		var dashboard struct {
			UID    string `json:"uid"`
			Panels []struct {
				ID int64 `json:"id"`
			} `json:"panels"`
		}
		text, _ := os.ReadFile(file)
		if err := json.Unmarshal(text, &dashboard); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out[dashboard.UID] = map[int64]bool{}
		for _, p := range dashboard.Panels {
			out[dashboard.UID][p.ID] = true
		}
	}
	return out
}

// composeEnvironment is what docker-compose.yaml gives Grafana when nothing is set: the defaults of its ${NAME:-default}.
func composeEnvironment(t *testing.T) func(string) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[string]string{}
	for _, m := range regexp.MustCompile(`(\w+): \$\{(\w+):-([^}]*)\}`).FindAllStringSubmatch(string(text), -1) {
		defaults[m[1]] = m[3]
	}
	return func(name string) string { return defaults[name] }
}

func TestProvisionedAlertingFilesFollowGrafanasFormat(t *testing.T) {
	root := repoRoot(t)
	env := composeEnvironment(t)
	setup := loadAlertingSetup(t, filepath.Join(root, "provisioning", "alerting"), env)
	datasources := map[string]bool{}
	var dsFile struct {
		Datasources []struct {
			UID string `yaml:"uid"`
		} `yaml:"datasources"`
	}
	text, _ := os.ReadFile(filepath.Join(root, "provisioning", "datasources", "mlmon.yaml"))
	if err := yaml.Unmarshal(text, &dsFile); err != nil {
		t.Fatal(err)
	}
	for _, ds := range dsFile.Datasources {
		datasources[ds.UID] = true
	}
	panels := bundledPanels(t)
	uids, titles := map[string]bool{}, map[string]bool{}
	rules := 0
	for _, group := range setup.groups {
		interval, err := model.ParseDuration(group.Interval)
		if err != nil || interval.String() == "0s" || int64(interval)%int64(10e9) != 0 {
			t.Errorf("group %q: interval %q must be a multiple of Grafana's 10 s base interval", group.Name, group.Interval)
		}
		if group.Folder == "" || group.Name == "" {
			t.Errorf("group %q needs a name and a folder", group.Name)
		}
		for _, rule := range group.Rules {
			checkRule(t, group, rule, datasources, panels)
			if uids[rule.UID] || titles[group.Folder+"/"+rule.Title] {
				t.Errorf("rule %q: uid or title repeated", rule.UID)
			}
			uids[rule.UID], titles[group.Folder+"/"+rule.Title] = true, true
			rules++
		}
	}
	if rules < 20 {
		t.Errorf("want the rules of both demo models, found %d", rules)
	}
	receivers, muteTimes := map[string]bool{}, map[string]bool{}
	for _, point := range setup.contactPoints {
		receivers[point.Name] = true
		for _, receiver := range point.Receivers {
			url, _ := receiver.Settings["url"].(string)
			if !uidPattern.MatchString(receiver.UID) || url == "" || !strings.HasPrefix(url, "http") {
				t.Errorf("contact point %s: receiver uid %q / url %q (the compose defaults must give a URL)", point.Name, receiver.UID, url)
			}
		}
	}
	for _, mute := range setup.muteTimes {
		muteTimes[mute.Name] = true
	}
	checkRoutes(t, setup.policy, receivers, muteTimes)
	for _, tmpl := range setup.templates {
		if _, err := template.New(tmpl.Name).Funcs(templateFuncs).Parse(tmpl.Template); err != nil {
			t.Errorf("template %q does not parse: %v", tmpl.Name, err)
		}
	}
}
