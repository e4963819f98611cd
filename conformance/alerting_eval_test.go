package conformance

// A rule evaluator of our own, doing what Grafana's alerting does with a provisioned rule (Grafana docs "Queries and
// conditions", "Alert rule evaluation", "State and health of alert rules", "Notification policies"):
//
//   - each datasource query goes to the plugin as Grafana sends it: header FromAlert: true, the relative time range
//     made absolute at the evaluation time, intervalMs and maxDataPoints from the query model (Grafana's defaults
//     1000 and 43200 when absent);
//   - expressions run in the order of the rule's data (alerting_sse_test.go); the condition's numbers are the alert
//     instances: null is NoData, 0 Normal, anything else (NaN too) Alerting; no data at all takes noDataState, a
//     query error execErrState;
//   - an instance goes Normal -> Pending -> Alerting once the condition has held for `for` (straight to Alerting when
//     `for` is 0) and resolves when it no longer holds or its series is gone for two evaluations;
//   - a firing instance's annotations are its rule's templates rendered with $labels, $values and $value; it is
//     routed through the policy tree (matchers, continue, inherited group_by and intervals, mute timings) and sent
//     when it starts firing and again after each repeat interval; the webhook receivers are really posted to.
//
// Queries whose results feed only annotation templates are run when the rule has a firing instance: the state an
// evaluation reaches does not depend on them. Identical requests of one evaluation time are answered once.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/prometheus/common/model"
)

// evaluator runs rules against a started plugin for one datasource.
type evaluator struct {
	t          *testing.T
	plugin     *startedPlugin
	pc         *pluginv2.PluginContext
	cacheMu    sync.Mutex
	cache      map[string]cachedQuery
	queriesRun int
}

type cachedQuery struct {
	result sseResult
	err    error
}

// runDatasourceQuery sends one query of a rule at evaluation time `at`, as Grafana does.
func (e *evaluator) runDatasourceQuery(rule provRule, query provQuery, at time.Time) (sseResult, error) {
	from := at.Add(-time.Duration(query.RelativeTimeRange.From) * time.Second)
	to := at.Add(-time.Duration(query.RelativeTimeRange.To) * time.Second)
	body, _ := json.Marshal(query.Model)
	key := fmt.Sprintf("%s|%d|%d", body, from.UnixMilli(), to.UnixMilli())
	e.cacheMu.Lock()
	if hit, ok := e.cache[key]; ok {
		e.cacheMu.Unlock()
		return hit.result, hit.err
	}
	e.cacheMu.Unlock()
	interval, points := int64(1000), int64(43200)
	if v, ok := query.Model["intervalMs"]; ok {
		interval = int64(toFloat(v))
	}
	if v, ok := query.Model["maxDataPoints"]; ok {
		points = int64(toFloat(v))
	}
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := e.plugin.clients.data.QueryData(c, &pluginv2.QueryDataRequest{
		PluginContext: e.pc,
		Headers:       map[string]string{"FromAlert": "true", "X-Cache-Skip": "true", "X-Rule-Uid": rule.UID},
		Queries: []*pluginv2.DataQuery{{
			RefId: query.RefID, QueryType: query.QueryType, Json: body, IntervalMS: interval, MaxDataPoints: points,
			TimeRange: &pluginv2.TimeRange{FromEpochMS: from.UnixMilli(), ToEpochMS: to.UnixMilli()},
		}},
	})
	var result sseResult
	if err == nil {
		response := res.Responses[query.RefID]
		switch {
		case response == nil:
			err = fmt.Errorf("refId %s missing from the response", query.RefID)
		case response.Error != "":
			err = fmt.Errorf("query %s: %s", query.RefID, response.Error)
		default:
			var frames data.Frames
			if frames, err = data.UnmarshalArrowFrames(response.Frames); err == nil {
				result, err = framesToResult(frames)
			}
		}
	}
	e.cacheMu.Lock()
	e.cache[key] = cachedQuery{result, err}
	e.queriesRun++
	e.cacheMu.Unlock()
	return result, err
}

// conditionInputs are the refIds the condition depends on, transitively.
func conditionInputs(rule provRule) map[string]bool {
	byRef := map[string]provQuery{}
	for _, q := range rule.Data {
		byRef[q.RefID] = q
	}
	needed := map[string]bool{}
	var visit func(ref string)
	visit = func(ref string) {
		if needed[ref] {
			return
		}
		needed[ref] = true
		q := byRef[ref]
		if q.DatasourceUID != "__expr__" {
			return
		}
		expression, _ := q.Model["expression"].(string)
		if q.Model["type"] == "math" {
			node, _ := parseMath(expression)
			var walk func(n *mathNode)
			walk = func(n *mathNode) {
				if n == nil {
					return
				}
				if n.op == "var" {
					visit(n.name)
				}
				walk(n.left)
				walk(n.right)
			}
			walk(node)
		} else {
			visit(expression)
		}
	}
	visit(rule.Condition)
	return needed
}

// instanceResult is one alert instance of an evaluation.
type instanceResult struct {
	labels map[string]string
	state  string // Normal, Alerting, NoData
	values map[string]*float64
}

// ruleEvaluation is the outcome of evaluating a rule once.
type ruleEvaluation struct {
	instances []instanceResult
	noData    bool
	err       error
}

// evaluateRule runs the rule's queries and expressions at `at`; `withTemplates` also runs those that only feed its
// annotation templates.
func (e *evaluator) evaluateRule(rule provRule, at time.Time, withTemplates bool) ruleEvaluation {
	needed := conditionInputs(rule)
	results := map[string]sseResult{}
	for _, query := range rule.Data {
		if !needed[query.RefID] && !withTemplates {
			continue
		}
		var result sseResult
		var err error
		switch {
		case query.DatasourceUID != "__expr__":
			result, err = e.runDatasourceQuery(rule, query, at)
		case query.Model["type"] == "reduce":
			result, err = reduceExpression(results[query.Model["expression"].(string)], query.Model)
		case query.Model["type"] == "threshold":
			result, err = thresholdExpression(results[query.Model["expression"].(string)], query.Model)
		case query.Model["type"] == "math":
			result, err = mathExpression(query.Model, results)
		default:
			err = fmt.Errorf("expression type %v is not evaluated here", query.Model["type"])
		}
		if err != nil {
			return ruleEvaluation{err: fmt.Errorf("%s: %w", query.RefID, err)}
		}
		results[query.RefID] = result
	}
	condition := results[rule.Condition]
	if len(condition.items) == 0 {
		return ruleEvaluation{noData: true}
	}
	var out ruleEvaluation
	for _, item := range condition.items {
		if item.isSeries {
			return ruleEvaluation{err: fmt.Errorf("the condition %s is a time series; only reduced data can be alerted on", rule.Condition)}
		}
		state := "Alerting"
		switch {
		case item.number == nil:
			state = "NoData"
		case *item.number == 0:
			state = "Normal"
		}
		values := map[string]*float64{}
		for ref, result := range results {
			query := findQuery(rule, ref)
			if query.DatasourceUID != "__expr__" {
				continue
			}
			for _, candidate := range result.items {
				if !candidate.isSeries && (subset(candidate.labels, item.labels) || subset(item.labels, candidate.labels)) {
					values[ref] = candidate.number
				}
			}
		}
		out.instances = append(out.instances, instanceResult{labels: item.labels, state: state, values: values})
	}
	return out
}

func findQuery(rule provRule, ref string) provQuery {
	for _, q := range rule.Data {
		if q.RefID == ref {
			return q
		}
	}
	return provQuery{}
}

// templateValue is what $values.<ref> holds.
type templateValue struct {
	Labels map[string]string
	Value  float64
}

func (v templateValue) String() string {
	return fmt.Sprintf("[ var='' labels=%s value=%g ]", labelKey(v.Labels), v.Value)
}

// renderTemplate expands an annotation template as Grafana does: $labels, $values and $value are set first.
func renderTemplate(text string, labels map[string]string, values map[string]*float64) (string, error) {
	prelude := "{{- $labels := .Labels -}}{{- $values := .Values -}}{{- $value := .Value -}}"
	tmpl, err := template.New("annotation").Option("missingkey=zero").Funcs(templateFuncs).Parse(prelude + text)
	if err != nil {
		return "", err
	}
	vals := map[string]templateValue{}
	var parts []string
	for ref, v := range values {
		if v != nil {
			vals[ref] = templateValue{Labels: labels, Value: *v}
			parts = append(parts, fmt.Sprintf("%s=%g", ref, *v))
		}
	}
	sort.Strings(parts)
	var out bytes.Buffer
	err = tmpl.Execute(&out, map[string]any{"Labels": labels, "Values": vals, "Value": strings.Join(parts, ", ")})
	return out.String(), err
}

// --- state --------------------------------------------------------------------------------------------------------

// alertInstance is the state of one alert instance over the evaluations.
type alertInstance struct {
	rule         provRule
	group        provGroup
	labels       map[string]string // rule labels, instance labels, alertname, grafana_folder
	state        string            // Normal, Pending, Alerting
	pendingSince time.Time
	startsAt     time.Time
	missing      int
	annotations  map[string]string
	values       map[string]*float64
	nextNotify   map[string]time.Time // per receiver
}

// firingEpisode is one period an instance was Alerting.
type firingEpisode struct {
	ruleUID     string
	labels      map[string]string
	startsAt    time.Time
	endsAt      time.Time // zero while still firing at the end
	annotations map[string]string
}

// delivery is one notification the policy tree sent.
type delivery struct {
	receiver string
	at       time.Time
	alert    map[string]string
	muted    bool
	status   int // HTTP status of a webhook that was posted, 0 otherwise
	answer   string
}

// ruleRunner holds the state of one rule group and the notification setup.
type ruleRunner struct {
	eval      *evaluator
	setup     alertingSetup
	mu        *sync.Mutex
	states    map[string]*alertInstance
	episodes  *[]firingEpisode
	delivered *[]delivery
	errors    *[]string
}

func instanceKey(uid string, labels map[string]string) string { return uid + labelKey(labels) }

func mergeLabels(sets ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, set := range sets {
		for k, v := range set {
			out[k] = v
		}
	}
	return out
}

// step evaluates every rule of the group at `at` and moves the instances' states.
func (r *ruleRunner) step(group provGroup, at time.Time) {
	for _, rule := range group.Rules {
		result := r.eval.evaluateRule(rule, at, false)
		if result.err == nil && anyAlerting(result) {
			result = r.eval.evaluateRule(rule, at, true)
		}
		if result.err != nil {
			r.mu.Lock()
			*r.errors = append(*r.errors, fmt.Sprintf("%s at %s: %v", rule.UID, at.Format(time.RFC3339), result.err))
			r.mu.Unlock()
			continue
		}
		if result.noData {
			switch rule.NoDataState {
			case "Alerting":
				result.instances = []instanceResult{{labels: map[string]string{}, state: "Alerting", values: map[string]*float64{}}}
			case "OK":
				result.instances = nil
			}
		}
		seen := map[string]bool{}
		forDuration, _ := model.ParseDuration(rule.For)
		for _, instance := range result.instances {
			labels := mergeLabels(rule.Labels, instance.labels, map[string]string{"alertname": rule.Title, "grafana_folder": group.Folder})
			key := instanceKey(rule.UID, instance.labels)
			seen[key] = true
			state := r.states[key]
			if state == nil {
				state = &alertInstance{rule: rule, group: group, labels: labels, state: "Normal", nextNotify: map[string]time.Time{}}
				r.states[key] = state
			}
			state.missing = 0
			if instance.state != "Alerting" {
				r.resolve(state, at)
				continue
			}
			state.values = instance.values
			switch state.state {
			case "Normal":
				state.state, state.pendingSince = "Pending", at
				if forDuration == 0 {
					r.fire(state, at)
				}
			case "Pending":
				if at.Sub(state.pendingSince) >= time.Duration(forDuration) {
					r.fire(state, at)
				}
			}
		}
		for key, state := range r.states {
			if state.rule.UID == rule.UID && !seen[key] && state.state != "Normal" {
				if state.missing++; state.missing >= 2 {
					r.resolve(state, at)
				}
			}
		}
	}
	r.notify(at)
}

func anyAlerting(result ruleEvaluation) bool {
	for _, instance := range result.instances {
		if instance.state == "Alerting" {
			return true
		}
	}
	return result.noData
}

func (r *ruleRunner) fire(state *alertInstance, at time.Time) {
	state.state, state.startsAt = "Alerting", at
	state.annotations = map[string]string{}
	for key, text := range state.rule.Annotations {
		rendered, err := renderTemplate(text, state.labels, state.values)
		if err != nil {
			r.mu.Lock()
			*r.errors = append(*r.errors, fmt.Sprintf("%s: annotation %s does not render: %v", state.rule.UID, key, err))
			r.mu.Unlock()
		}
		state.annotations[key] = rendered
	}
	r.mu.Lock()
	*r.episodes = append(*r.episodes, firingEpisode{ruleUID: state.rule.UID, labels: state.labels, startsAt: at, annotations: state.annotations})
	r.mu.Unlock()
}

func (r *ruleRunner) resolve(state *alertInstance, at time.Time) {
	if state.state == "Alerting" {
		r.mu.Lock()
		for i := range *r.episodes {
			e := &(*r.episodes)[i]
			if e.ruleUID == state.rule.UID && labelKey(e.labels) == labelKey(state.labels) && e.endsAt.IsZero() {
				e.endsAt = at
			}
		}
		r.mu.Unlock()
	}
	state.state = "Normal"
	state.nextNotify = map[string]time.Time{}
}

// --- routing ------------------------------------------------------------------------------------------------------

// routeTarget is where a matching route sends an alert, with the intervals it inherited.
type routeTarget struct {
	receiver       string
	groupBy        []string
	groupWait      time.Duration
	repeatInterval time.Duration
	muted          bool
}

func matcherHolds(m []string, labels map[string]string) bool {
	value := labels[m[0]]
	switch m[1] {
	case "=":
		return value == m[2]
	case "!=":
		return value != m[2]
	}
	matched, _ := regexp.MatchString(fmt.Sprintf("^(?:%s)$", m[2]), value)
	return (m[1] == "=~") == matched
}

// routeAlert walks the policy tree as Alertmanager does: the first matching child (all of them while `continue` is
// set), depth first; a route without a matching child is the target. Intervals and group_by are inherited.
func routeAlert(route provRoute, parent routeTarget, labels map[string]string, muted map[string]bool) []routeTarget {
	here := parent
	if route.Receiver != "" {
		here.receiver = route.Receiver
	}
	if route.GroupBy != nil {
		here.groupBy = route.GroupBy
	}
	if d, err := model.ParseDuration(route.GroupWait); err == nil && route.GroupWait != "" {
		here.groupWait = time.Duration(d)
	}
	if d, err := model.ParseDuration(route.RepeatInterval); err == nil && route.RepeatInterval != "" {
		here.repeatInterval = time.Duration(d)
	}
	for _, name := range route.MuteTimeIntervals {
		here.muted = here.muted || muted[name]
	}
	var targets []routeTarget
	for _, child := range route.Routes {
		holds := true
		for _, m := range child.ObjectMatchers {
			holds = holds && matcherHolds(m, labels)
		}
		if !holds {
			continue
		}
		targets = append(targets, routeAlert(child, here, labels, muted)...)
		if !child.Continue {
			break
		}
	}
	if len(targets) == 0 {
		targets = []routeTarget{here}
	}
	return targets
}

// alwaysMuted are the mute timings that cover every minute of every day.
func alwaysMuted(setup alertingSetup) map[string]bool {
	out := map[string]bool{}
	for _, mute := range setup.muteTimes {
		for _, interval := range mute.TimeIntervals {
			for _, span := range interval.Times {
				if span.StartTime == "00:00" && span.EndTime == "24:00" && len(interval.Weekdays)+len(interval.DaysOfMonth)+len(interval.Months)+len(interval.Years) == 0 {
					out[mute.Name] = true
				}
			}
		}
	}
	return out
}

// notify sends the firing instances due at `at`: when they start firing (after group_wait) and after each repeat
// interval, to the receivers the policy routes them to. Webhook receivers are posted to for real.
func (r *ruleRunner) notify(at time.Time) {
	muted := alwaysMuted(r.setup)
	for _, state := range r.states {
		if state.state != "Alerting" {
			continue
		}
		for _, target := range routeAlert(r.setup.policy, routeTarget{repeatInterval: 4 * time.Hour, groupWait: 30 * time.Second}, state.labels, muted) {
			next, scheduled := state.nextNotify[target.receiver]
			if !scheduled {
				next = state.startsAt.Add(target.groupWait)
			}
			if next.After(at.Add(target.groupWait)) {
				continue
			}
			state.nextNotify[target.receiver] = next.Add(target.repeatInterval)
			sent := delivery{receiver: target.receiver, at: next, alert: state.labels, muted: target.muted}
			if !target.muted {
				sent.status, sent.answer = r.post(target, state, next)
			}
			r.mu.Lock()
			*r.delivered = append(*r.delivered, sent)
			r.mu.Unlock()
		}
	}
}

// post sends the alert to a webhook receiver as Grafana's webhook notifier does; other integrations (chat) are
// recorded only.
func (r *ruleRunner) post(target routeTarget, state *alertInstance, at time.Time) (int, string) {
	var receiver provReceiver
	for _, point := range r.setup.contactPoints {
		if point.Name == target.receiver {
			receiver = point.Receivers[0]
		}
	}
	if receiver.Type != "webhook" {
		return 0, ""
	}
	labels := model.LabelSet{}
	for k, v := range state.labels {
		labels[model.LabelName(k)] = model.LabelValue(v)
	}
	group := map[string]string{}
	for _, name := range target.groupBy {
		group[name] = state.labels[name]
	}
	payload := map[string]any{
		"receiver": target.receiver, "status": "firing", "orgId": 1,
		"alerts": []map[string]any{{
			"status": "firing", "labels": state.labels, "annotations": state.annotations,
			"startsAt": state.startsAt.Format(time.RFC3339Nano), "endsAt": "0001-01-01T00:00:00Z",
			"generatorURL": "http://grafana.test/alerting/grafana/" + state.rule.UID + "/view",
			"fingerprint":  labels.Fingerprint().String(), "silenceURL": "http://grafana.test/alerting/silence/new",
			"dashboardURL": "http://grafana.test/d/" + state.rule.DashboardUID,
			"panelURL":     fmt.Sprintf("http://grafana.test/d/%s?viewPanel=%d", state.rule.DashboardUID, state.rule.PanelID),
			"values":       numbersOf(state.values),
		}},
		"groupLabels": group, "commonLabels": state.labels, "commonAnnotations": state.annotations,
		"externalURL": "http://grafana.test/", "version": "1", "groupKey": labelKey(group), "truncatedAlerts": 0,
		"title": "[FIRING:1]", "state": "alerting", "message": "",
	}
	body, _ := json.Marshal(payload)
	request, _ := http.NewRequest(http.MethodPost, fmt.Sprint(receiver.Settings["url"]), bytes.NewReader(body))
	request.Header.Set("Content-Type", "application/json")
	if scheme, ok := receiver.Settings["authorization_scheme"].(string); ok {
		request.Header.Set("Authorization", scheme+" "+fmt.Sprint(receiver.Settings["authorization_credentials"]))
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return -1, err.Error()
	}
	defer response.Body.Close()
	var answer bytes.Buffer
	_, _ = answer.ReadFrom(response.Body)
	return response.StatusCode, answer.String()
}

func numbersOf(values map[string]*float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range values {
		if isNumber(v) {
			out[k] = *v
		}
	}
	return out
}
