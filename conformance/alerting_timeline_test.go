package conformance

// Every provisioned rule evaluated through the built executable over the demo's two simulated weeks (mlmon simulate,
// docs/SIMULATION.md), hour by hour as Grafana would evaluate them: each scripted incident fires its rule at the
// expected severity within the stated delay, nothing else fires (stable features never), the retraining rule fires
// after three days of prediction drift and `mlmon retrain-hook` runs its command once; pages reach the pager.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/prometheus/common/model"
)

// simulationEnd is the end of the simulated fortnight (mlmon simulate --end); day d is [start+(d-1)·24h, start+d·24h).
var simulationEnd = time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)

func simulationDay(day int, hour int) time.Time {
	return simulationEnd.Add(time.Duration(-14*24+(day-1)*24+hour) * time.Hour)
}

// runMlmon runs the repository's CLI (node bin/mlmon.js) and fails the test with its output when it fails.
func runMlmon(t *testing.T, args ...string) {
	t.Helper()
	root := repoRoot(t)
	cmd := exec.Command("node", append([]string{filepath.Join(root, "bin", "mlmon.js")}, args...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mlmon %s failed: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// simulatedStore writes the demo's fortnight with the real CLI into a temporary directory and prepares its counts as
// the collector's maintenance does.
func simulatedStore(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	runMlmon(t, "simulate", "--data-dir", dir, "--end", simulationEnd.Format(time.RFC3339))
	runMlmon(t, "maintain", "--data-dir", dir)
	return dir
}

// hookProcess is a running `mlmon retrain-hook`.
type hookProcess struct {
	url    string
	stderr *lockedLog
}

type lockedLog struct {
	mu   sync.Mutex
	text strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.String()
}

// startMlmon starts `mlmon <args>` from the repository with `env` added to the environment, its stderr in the log
// returned; at the end of the test it is interrupted, and killed if it has not stopped within `stopWithin`.
func startMlmon(t *testing.T, args []string, env []string, stopWithin time.Duration) *lockedLog {
	t.Helper()
	root := repoRoot(t)
	cmd := exec.Command("node", append([]string{filepath.Join(root, "bin", "mlmon.js")}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	log := &lockedLog{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopAtCleanup(t, cmd, os.Interrupt, stopWithin)
	return log
}

// stopAtCleanup sends `signal` to the started command at the end of the test, and kills it if it has not exited
// within `stopWithin`.
func stopAtCleanup(t *testing.T, cmd *exec.Cmd, signal os.Signal, stopWithin time.Duration) {
	t.Cleanup(func() {
		_ = cmd.Process.Signal(signal)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(stopWithin):
			_ = cmd.Process.Kill()
		}
	})
}

// startRetrainHookProcess starts the real hook on the data directory, running `command` per request.
func startRetrainHookProcess(t *testing.T, dataDir, secret, command string) *hookProcess {
	t.Helper()
	log := startMlmon(t, []string{"retrain-hook", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--command", command},
		[]string{"MLMON_RETRAIN_HOOK_SECRET=" + secret}, 10*time.Second)
	pattern := regexp.MustCompile(`listening on (http://\S+?)/api`)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := pattern.FindStringSubmatch(log.String()); m != nil {
			return &hookProcess{url: m[1], stderr: log}
		}
	}
	t.Fatalf("the retrain hook did not start:\n%s", log.String())
	return nil
}

// evaluationTimes are the times Grafana evaluates a group with `interval` between `from` and `to`: the multiples of
// the interval.
func evaluationTimes(interval time.Duration, from, to time.Time) []time.Time {
	var times []time.Time
	for at := from.Truncate(interval); !at.After(to); at = at.Add(interval) {
		if !at.Before(from) {
			times = append(times, at)
		}
	}
	return times
}

// timelineRun is everything the evaluation of all groups over the fortnight produced.
type timelineRun struct {
	setup     alertingSetup
	episodes  []firingEpisode
	delivered []delivery
	errors    []string
	pages     []map[string]any
	hook      *hookProcess
	plugin    *startedPlugin
	pc        *pluginv2.PluginContext
	runs      func() []string
	queries   int
	took      time.Duration
}

// evaluateFortnight evaluates every rule group over the simulated fortnight (plus three hours after the traffic
// stops), each group on its own goroutine, four at a time.
func evaluateFortnight(t *testing.T) *timelineRun {
	started := time.Now()
	dataDir := simulatedStore(t)
	work := t.TempDir()
	command := filepath.Join(work, "retrain.sh")
	runsFile := filepath.Join(work, "runs.log")
	script := fmt.Sprintf("#!/bin/sh\necho \"$MLMON_MODEL $MLMON_VERSION $MLMON_FEATURES\" >> %s\n", runsFile)
	if err := os.WriteFile(command, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	const secret = "conformance-retrain-secret-91b2"
	hook := startRetrainHookProcess(t, dataDir, secret, command)

	var pagesMu sync.Mutex
	var pages []map[string]any
	pager := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var page map[string]any
		_ = json.Unmarshal(body, &page)
		pagesMu.Lock()
		pages = append(pages, page)
		pagesMu.Unlock()
	}))
	t.Cleanup(pager.Close)
	compose := composeEnvironment(t)
	env := func(name string) string {
		switch name {
		case "MLMON_RETRAIN_HOOK_URL":
			return hook.url + "/api/v1/retrain"
		case "MLMON_RETRAIN_HOOK_SECRET":
			return secret
		case "MLMON_PAGER_WEBHOOK_URL":
			return pager.URL + "/page"
		}
		return compose(name)
	}
	setup := loadAlertingSetup(t, filepath.Join(repoRoot(t), "provisioning", "alerting"), env)

	p := startPlugin(t, false)
	eval := &evaluator{t: t, plugin: p, pc: datasource("mlmon", map[string]any{"dataDirectory": dataDir}, nil), cache: map[string]cachedQuery{}}
	run := &timelineRun{setup: setup, hook: hook, plugin: p, pc: eval.pc}
	var mu sync.Mutex
	from := simulationEnd.Add(-13 * 24 * time.Hour) // a full day of traffic in every window
	to := simulationEnd.Add(3 * time.Hour)          // and three hours after the traffic stops
	slots := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, group := range setup.groups {
		wg.Add(1)
		go func(group provGroup) {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			interval, _ := model.ParseDuration(group.Interval)
			runner := &ruleRunner{eval: eval, setup: setup, mu: &mu, states: map[string]*alertInstance{},
				episodes: &run.episodes, delivered: &run.delivered, errors: &run.errors}
			for _, at := range evaluationTimes(time.Duration(interval), from, to) {
				runner.step(group, at)
			}
		}(group)
	}
	wg.Wait()
	run.pages = pages
	run.runs = func() []string {
		text, _ := os.ReadFile(runsFile)
		var lines []string
		for _, line := range strings.Split(string(text), "\n") {
			if line != "" {
				lines = append(lines, line)
			}
		}
		return lines
	}
	run.queries = eval.queriesRun
	run.took = time.Since(started)
	sort.Slice(run.episodes, func(i, j int) bool { return run.episodes[i].startsAt.Before(run.episodes[j].startsAt) })
	return run
}

func describeEpisode(e firingEpisode) string {
	end := "still firing"
	if !e.endsAt.IsZero() {
		end = "until " + e.endsAt.Format("01-02 15:04")
	}
	return fmt.Sprintf("%s %s [%s] from %s %s", e.ruleUID, e.labels["feature"], e.labels["severity"], e.startsAt.Format("01-02 15:04"), end)
}

// firingRule is a rule instance that may fire in a time window: one a scripted incident must fire (`required`, within
// `delay` of the incident's start), or one it explains (a consequence, such as the warning before the critical).
type firingRule struct {
	incident string
	rule     string // rule uid
	feature  string // "" for a model-level rule
	start    time.Time
	delay    time.Duration // required: first firing within start..start+delay; explained: any firing in that span
	required bool
	// resolvedBy, when set: the firing must have ended by then.
	resolvedBy time.Time
}

const hour = time.Hour
const day = 24 * time.Hour

// scriptedFirings are the incidents of docs/SIMULATION.md with the rule each must fire and the delay allowed: the
// rule's window and `for` (stated in README "Alerting"), measured on this data with some margin.
func scriptedFirings() []firingRule {
	end := simulationEnd
	return []firingRule{
		// credit_risk
		{"null burst (day 5, 10:00-16:00)", "mlmon-nulls-credit_risk", "months_employed", simulationDay(5, 10), 2 * hour, true, simulationDay(5, 18)},
		{"latency spike (day 9, 14:00-16:00)", "mlmon-p95-warn-credit_risk", "", simulationDay(9, 14), 90 * time.Minute, true, simulationDay(9, 18)},
		{"new category crypto (from day 10)", "mlmon-unseen-credit_risk", "loan_purpose", simulationDay(10, 0), 2 * hour, true, time.Time{}},
		{"new category crypto (from day 10)", "mlmon-drift-crit-credit_risk", "loan_purpose", simulationDay(10, 0), day, true, time.Time{}},
		{"new category crypto (from day 10)", "mlmon-drift-warn-credit_risk", "loan_purpose", simulationDay(10, 0), day, false, time.Time{}},
		{"gradual drift (from day 8)", "mlmon-drift-warn-credit_risk", "debt_to_income", simulationDay(8, 0), 3 * day, true, time.Time{}},
		{"gradual drift (from day 8)", "mlmon-drift-crit-credit_risk", "debt_to_income", simulationDay(8, 0), 3*day + 12*hour, true, time.Time{}},
		{"gradual drift (from day 8)", "mlmon-drift-warn-credit_risk", "utilization", simulationDay(8, 0), 3*day + 12*hour, true, time.Time{}},
		{"gradual drift (from day 8)", "mlmon-drift-crit-credit_risk", "utilization", simulationDay(8, 0), 4 * day, true, time.Time{}},
		{"gradual drift: values past the baseline's range", "mlmon-range-credit_risk", "debt_to_income", simulationDay(8, 0), end.Add(3 * hour).Sub(simulationDay(8, 0)), false, time.Time{}},
		{"gradual drift: values past the baseline's range", "mlmon-range-credit_risk", "utilization", simulationDay(8, 0), end.Add(3 * hour).Sub(simulationDay(8, 0)), false, time.Time{}},
		{"credit score shift (from day 11)", "mlmon-drift-crit-credit_risk", "credit_score", simulationDay(11, 0), day, true, time.Time{}},
		{"credit score shift (from day 11)", "mlmon-drift-warn-credit_risk", "credit_score", simulationDay(11, 0), day, false, time.Time{}},
		// Labels arrive 3 days + 6 hours late: the rule scores the day that ended that long ago.
		{"accuracy falls (day 10: 0.70)", "mlmon-perf-warn-credit_risk", "", simulationDay(10, 0), 3*day + 6*hour + day + 6*hour, true, time.Time{}},
		{"accuracy falls (day 11: 0.64)", "mlmon-perf-crit-credit_risk", "", simulationDay(11, 0), 3*day + 6*hour + day + 6*hour, true, time.Time{}},
		// Prediction drift from the gradual drift and the score shift: three daily buckets at warning.
		{"prediction drift for three days", "mlmon-retrain-credit_risk", "prediction", simulationDay(12, 0), 2 * day, true, time.Time{}},
		// delivery_time
		{"snow storm (days 11-12)", "mlmon-drift-crit-delivery_time", "weather", simulationDay(11, 0), day, true, simulationDay(14, 0)},
		{"snow storm (days 11-12)", "mlmon-drift-warn-delivery_time", "weather", simulationDay(11, 0), 3 * day, false, time.Time{}},
		{"snow storm: MAE up", "mlmon-perf-warn-delivery_time", "", simulationDay(11, 0), day, true, time.Time{}},
		{"snow storm: MAE up", "mlmon-perf-crit-delivery_time", "", simulationDay(11, 0), 3 * day, false, time.Time{}},
		{"snow storm: MAE up", "mlmon-perf-warn-delivery_time", "", simulationDay(11, 0), 3 * day, false, time.Time{}},
		// The traffic stops at the end of the fortnight: below the SLA (no data counts as a breach).
		{"traffic stops", "mlmon-sla-credit_risk", "", end, 2 * hour, true, time.Time{}},
		{"traffic stops", "mlmon-sla-delivery_time", "", end, 2 * hour, true, time.Time{}},
	}
}

// stableFeatures never change in the simulation (docs/SIMULATION.md): no rule may fire on them.
var stableFeatures = map[string][]string{
	"credit_risk": {"age", "income", "loan_amount", "loan_term_months", "num_credit_lines", "num_late_payments",
		"employment_type", "home_ownership", "region", "channel"},
	"delivery_time": {"distance_km", "items", "prep_minutes", "courier_type", "zone"},
}

func (f firingRule) matches(e firingEpisode) bool {
	return e.ruleUID == f.rule && e.labels["feature"] == f.feature && !e.startsAt.Before(f.start) && !e.startsAt.After(f.start.Add(f.delay))
}

func TestAlertRulesOverTheSimulatedFortnight(t *testing.T) {
	run := evaluateFortnight(t)
	t.Logf("evaluated %d rule groups over the fortnight in %v (%d backend queries)", len(run.setup.groups), run.took.Round(time.Second), run.queries)
	for _, err := range run.errors {
		t.Errorf("evaluation error: %s", err)
	}
	expected := scriptedFirings()
	t.Run("every scripted incident fires its rule at the expected severity within the stated delay", func(t *testing.T) {
		for _, f := range expected {
			if !f.required {
				continue
			}
			var first *firingEpisode
			for i := range run.episodes {
				if f.matches(run.episodes[i]) {
					first = &run.episodes[i]
					break
				}
			}
			if first == nil {
				t.Errorf("%s: %s (%s) did not fire within %v of %s", f.incident, f.rule, f.feature, f.delay, f.start.Format("01-02 15:04"))
				continue
			}
			wantSeverity := map[bool]string{true: "critical", false: "warning"}[strings.Contains(f.rule, "-crit-") || strings.Contains(f.rule, "-sla-")]
			if first.labels["severity"] != wantSeverity {
				t.Errorf("%s: %s fired with severity %q, want %q", f.incident, f.rule, first.labels["severity"], wantSeverity)
			}
			if !f.resolvedBy.IsZero() && (first.endsAt.IsZero() || first.endsAt.After(f.resolvedBy)) {
				t.Errorf("%s: %s should have resolved by %s, %s", f.incident, f.rule, f.resolvedBy.Format("01-02 15:04"), describeEpisode(*first))
			}
			t.Logf("%-40s %-30s %-15s after %-8v %s", f.incident, f.rule, f.feature, first.startsAt.Sub(f.start), first.annotations["summary"])
		}
	})
	t.Run("nothing fires without a scripted incident; stable features never", func(t *testing.T) {
		for _, e := range run.episodes {
			explained := false
			for _, f := range expected {
				explained = explained || f.matches(e)
			}
			if !explained {
				t.Errorf("fired without a scripted incident: %s", describeEpisode(e))
			}
			for _, feature := range stableFeatures[e.labels["model"]] {
				if e.labels["feature"] == feature {
					t.Errorf("a stable feature fired: %s", describeEpisode(e))
				}
			}
		}
	})
	t.Run("annotations name model, feature, value and noise floor", func(t *testing.T) {
		for _, e := range run.episodes {
			summary := e.annotations["summary"]
			if strings.Contains(summary, "<no value>") || !strings.Contains(summary, e.labels["model"]) {
				t.Errorf("%s: summary %q", e.ruleUID, summary)
			}
			if e.labels["kind"] == "feature_drift" && (!strings.Contains(summary, e.labels["feature"]) ||
				!regexp.MustCompile(`psi \d[\d.e+-]* \(noise floor \d`).MatchString(summary)) {
				t.Errorf("%s: drift summary %q lacks feature, value or noise floor", e.ruleUID, summary)
			}
			if e.annotations["runbook_url"] == "" || e.annotations["description"] == "" {
				t.Errorf("%s: annotations %v", e.ruleUID, e.annotations)
			}
		}
	})
	t.Run("critical pages, warnings go to chat, retraining reaches the hook, which runs its command once", func(t *testing.T) {
		for _, d := range run.delivered {
			severity := d.alert["severity"]
			switch d.receiver {
			case "mlmon-pager":
				if severity != "critical" {
					t.Errorf("paged for a %s alert: %s", severity, d.alert["alertname"])
				}
			case "mlmon-chat":
				if severity != "warning" {
					t.Errorf("chat got a %s alert: %s", severity, d.alert["alertname"])
				}
			case "mlmon-retrain":
				if d.alert["action"] != "retrain" || (d.status != 202 && d.status != 200) {
					t.Errorf("retrain hook: %s answered %d %s", d.alert["alertname"], d.status, d.answer)
				}
			}
		}
		pagedRules := map[string]bool{}
		for _, page := range run.pages {
			for _, a := range page["alerts"].([]any) {
				pagedRules[a.(map[string]any)["labels"].(map[string]any)["alertname"].(string)] = true
			}
		}
		for _, e := range run.episodes {
			if e.labels["severity"] == "critical" && !pagedRules[e.labels["alertname"]] {
				t.Errorf("critical %s never reached the pager", e.labels["alertname"])
			}
		}
		accepted, duplicates := 0, 0
		for _, d := range run.delivered {
			if d.receiver == "mlmon-retrain" {
				accepted += map[bool]int{true: 1}[d.status == 202]
				duplicates += map[bool]int{true: 1}[d.status == 200]
			}
		}
		if accepted != 1 || duplicates < 1 {
			t.Errorf("the hook accepted %d notifications and found %d duplicates; want 1 and at least 1 (repeats)", accepted, duplicates)
		}
		runs := run.runs()
		if len(runs) != 1 || !strings.HasPrefix(runs[0], "credit_risk v3 ") {
			t.Fatalf("the retraining command ran %d times: %v\nhook log:\n%s", len(runs), runs, run.hook.stderr.String())
		}
		for _, feature := range []string{"debt_to_income", "utilization", "credit_score", "loan_purpose"} {
			if !strings.Contains(runs[0], feature) {
				t.Errorf("the retraining request lacks drifting feature %s: %q", feature, runs[0])
			}
		}
		t.Logf("retraining command ran once: %s", runs[0])
	})
	// The same demo store and backend: every panel of every bundled dashboard.
	t.Run("every panel of every dashboard gets data", func(t *testing.T) {
		checkDashboards(t, run.plugin, run.pc)
	})
}
