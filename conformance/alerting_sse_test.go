package conformance

// Grafana's server-side expressions as an alert rule applies them, written here from Grafana's documentation
// ("Write expression queries", "Queries and conditions", the data-plane contract): datasource frames read by the
// data-plane rules into labelled series or numbers, then reduce, threshold and math, with math's union of items by
// labels. Nothing of github.com/grafana/grafana is used.

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// sseItem is one labelled series or number of a query or expression result.
type sseItem struct {
	labels   map[string]string
	isSeries bool
	series   []*float64
	number   *float64
}

// sseResult is what a query or expression gives the next one: items, or no data at all.
type sseResult struct {
	items []sseItem
}

func f64(v float64) *float64 { return &v }

// numericValue reads a frame value as a nullable float64.
func numericValue(value any) (*float64, bool) {
	switch v := value.(type) {
	case *float64:
		return v, true
	case float64:
		return f64(v), true
	case *float32:
		if v == nil {
			return nil, true
		}
		return f64(float64(*v)), true
	case float32:
		return f64(float64(v)), true
	case *int64:
		if v == nil {
			return nil, true
		}
		return f64(float64(*v)), true
	case int64:
		return f64(float64(v)), true
	case *bool:
		if v == nil {
			return nil, true
		}
		return f64(map[bool]float64{true: 1, false: 0}[*v]), true
	case bool:
		return f64(map[bool]float64{true: 1, false: 0}[v]), true
	}
	return nil, false
}

func copyLabels(labels data.Labels) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		out[k] = v
	}
	return out
}

// framesToResult reads datasource frames by the data-plane contract: a timeseries-multi frame is one series (its
// first number field, labelled; the other fields are remainder), numeric-multi/-wide frames hold numbers (one per
// number field, at most one row), numeric-long one number per row labelled by its string columns. A response with
// no frame, or only frames without fields, is no data. Annotation frames are not data.
func framesToResult(frames data.Frames) (sseResult, error) {
	var result sseResult
	for _, frame := range frames {
		if frame.Meta != nil && frame.Meta.DataTopic == data.DataTopicAnnotations {
			continue
		}
		if len(frame.Fields) == 0 {
			continue
		}
		typ, _ := frame.TypeInfo("")
		switch typ {
		case data.FrameTypeTimeSeriesMulti:
			var value *data.Field
			times := 0
			for _, field := range frame.Fields {
				if field.Type() == data.FieldTypeTime {
					times++
				} else if value == nil && (field.Type().Numeric() || field.Type() == data.FieldTypeNullableBool || field.Type() == data.FieldTypeBool) {
					value = field
				}
			}
			if times != 1 || value == nil {
				return result, fmt.Errorf("timeseries-multi frame %q needs one time field and a number field", frame.Name)
			}
			item := sseItem{labels: copyLabels(value.Labels), isSeries: true}
			for i := 0; i < value.Len(); i++ {
				v, _ := numericValue(value.At(i))
				item.series = append(item.series, v)
			}
			result.items = append(result.items, item)
		case data.FrameTypeNumericMulti, data.FrameTypeNumericWide:
			for _, field := range frame.Fields {
				if !field.Type().Numeric() {
					continue
				}
				if field.Len() > 1 {
					return result, fmt.Errorf("%s frame %q has %d rows; Grafana reads at most one", typ, frame.Name, field.Len())
				}
				item := sseItem{labels: copyLabels(field.Labels)}
				if field.Len() == 1 {
					item.number, _ = numericValue(field.At(0))
				}
				result.items = append(result.items, item)
			}
		case data.FrameTypeNumericLong:
			var value *data.Field
			var dims []*data.Field
			for _, field := range frame.Fields {
				if field.Type() == data.FieldTypeString || field.Type() == data.FieldTypeNullableString {
					dims = append(dims, field)
				} else if value == nil && field.Type().Numeric() {
					value = field
				}
			}
			if value == nil {
				return result, fmt.Errorf("numeric-long frame %q has no number field", frame.Name)
			}
			for row := 0; row < value.Len(); row++ {
				labels := map[string]string{}
				for _, dim := range dims {
					if s, ok := dim.ConcreteAt(row); ok {
						labels[dim.Name] = fmt.Sprint(s)
					}
				}
				number, _ := numericValue(value.At(row))
				result.items = append(result.items, sseItem{labels: labels, number: number})
			}
		default:
			return result, fmt.Errorf("frame %q has type %q, which the data-plane reader of alerting does not read", frame.Name, typ)
		}
	}
	if err := uniqueLabels(result.items); err != nil {
		return result, err
	}
	return result, nil
}

// labelKey is a canonical text of a label set.
func labelKey(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// uniqueLabels is Grafana's refusal of a result whose items share their labels ("frame cannot uniquely be
// identified by its labels").
func uniqueLabels(items []sseItem) error {
	seen := map[string]bool{}
	for _, item := range items {
		key := labelKey(item.labels)
		if seen[key] {
			return fmt.Errorf("duplicate results with labels %s", key)
		}
		seen[key] = true
	}
	return nil
}

func isNumber(v *float64) bool { return v != nil && !math.IsNaN(*v) && !math.IsInf(*v, 0) }

// reduceSeries is the Reduce expression for one series: mode "" (strict: any non-number gives NaN), dropNN (drop
// non-numbers first) or replaceNN (replace them by `replacement`); `last` of no values is NaN.
func reduceSeries(values []*float64, reducer, mode string, replacement float64) (*float64, error) {
	var kept []float64
	for _, v := range values {
		switch {
		case isNumber(v):
			kept = append(kept, *v)
		case mode == "dropNN":
		case mode == "replaceNN":
			kept = append(kept, replacement)
		default:
			if reducer != "count" {
				return f64(math.NaN()), nil
			}
			kept = append(kept, math.NaN())
		}
	}
	if reducer == "count" {
		return f64(float64(len(kept))), nil
	}
	if len(kept) == 0 {
		if reducer == "sum" {
			return f64(0), nil
		}
		return f64(math.NaN()), nil
	}
	switch reducer {
	case "last":
		return f64(kept[len(kept)-1]), nil
	case "sum", "mean":
		total := 0.0
		for _, v := range kept {
			total += v
		}
		if reducer == "mean" {
			total /= float64(len(kept))
		}
		return f64(total), nil
	case "min", "max":
		best := kept[0]
		for _, v := range kept[1:] {
			if (reducer == "min") == (v < best) {
				best = v
			}
		}
		return f64(best), nil
	}
	return nil, fmt.Errorf("reducer %q is not implemented by this evaluator", reducer)
}

// reduceExpression applies Reduce to every series of `input`; numbers pass through.
func reduceExpression(input sseResult, model map[string]any) (sseResult, error) {
	reducer, _ := model["reducer"].(string)
	settings, _ := model["settings"].(map[string]any)
	mode, _ := settings["mode"].(string)
	replacement, _ := settings["replaceWithValue"].(float64)
	var out sseResult
	for _, item := range input.items {
		if !item.isSeries {
			out.items = append(out.items, item)
			continue
		}
		v, err := reduceSeries(item.series, reducer, mode, replacement)
		if err != nil {
			return out, err
		}
		out.items = append(out.items, sseItem{labels: item.labels, number: v})
	}
	return out, nil
}

// thresholdExpression is Threshold on numbers: 1 when the evaluator holds, 0 when not (NaN holds no comparison),
// null stays null. Ranges are open: within_range is a < x < b.
func thresholdExpression(input sseResult, model map[string]any) (sseResult, error) {
	conditions, _ := model["conditions"].([]any)
	if len(conditions) != 1 {
		return sseResult{}, fmt.Errorf("threshold with %d conditions", len(conditions))
	}
	evaluator, _ := conditions[0].(map[string]any)["evaluator"].(map[string]any)
	kind, _ := evaluator["type"].(string)
	var params []float64
	for _, p := range evaluator["params"].([]any) {
		params = append(params, toFloat(p))
	}
	test := map[string]func(x float64) bool{
		"gt":            func(x float64) bool { return x > params[0] },
		"lt":            func(x float64) bool { return x < params[0] },
		"within_range":  func(x float64) bool { return x > params[0] && x < params[1] },
		"outside_range": func(x float64) bool { return x < params[0] || x > params[1] },
	}[kind]
	if test == nil {
		return sseResult{}, fmt.Errorf("threshold evaluator %q", kind)
	}
	var out sseResult
	for _, item := range input.items {
		if item.isSeries {
			return out, fmt.Errorf("threshold needs numbers: reduce the series %s first", labelKey(item.labels))
		}
		result := sseItem{labels: item.labels}
		if item.number != nil {
			result.number = f64(map[bool]float64{true: 1, false: 0}[test(*item.number)])
		}
		out.items = append(out.items, result)
	}
	return out, nil
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	case int64:
		return float64(n)
	}
	return math.NaN()
}

// --- math ---------------------------------------------------------------------------------------------------------

// mathNode is a parsed math expression.
type mathNode struct {
	op          string // "num", "var", unary "!" / "neg", or a binary operator
	value       float64
	name        string
	left, right *mathNode
}

type mathParser struct {
	tokens []string
	pos    int
}

func tokenizeMath(text string) ([]string, error) {
	var tokens []string
	for i := 0; i < len(text); {
		c := rune(text[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '$':
			j := i + 1
			for j < len(text) && (unicode.IsLetter(rune(text[j])) || unicode.IsDigit(rune(text[j])) || text[j] == '_') {
				j++
			}
			tokens = append(tokens, text[i:j])
			i = j
		case unicode.IsDigit(c) || c == '.':
			j := i
			for j < len(text) && (unicode.IsDigit(rune(text[j])) || text[j] == '.' || text[j] == 'e' || text[j] == 'E') {
				j++
			}
			tokens = append(tokens, text[i:j])
			i = j
		default:
			two := ""
			if i+1 < len(text) {
				two = text[i : i+2]
			}
			switch two {
			case "&&", "||", "==", "!=", ">=", "<=":
				tokens = append(tokens, two)
				i += 2
				continue
			}
			if !strings.ContainsRune("+-*/<>!()", c) {
				return nil, fmt.Errorf("math: unexpected %q", c)
			}
			tokens = append(tokens, string(c))
			i++
		}
	}
	return tokens, nil
}

func (p *mathParser) peek() string {
	if p.pos < len(p.tokens) {
		return p.tokens[p.pos]
	}
	return ""
}

// binary parses a left-associative level of operators, each level binding tighter than the previous.
func (p *mathParser) binary(levels [][]string) (*mathNode, error) {
	if len(levels) == 0 {
		return p.unary()
	}
	left, err := p.binary(levels[1:])
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek()
		found := false
		for _, candidate := range levels[0] {
			found = found || op == candidate
		}
		if !found {
			return left, nil
		}
		p.pos++
		right, err := p.binary(levels[1:])
		if err != nil {
			return nil, err
		}
		left = &mathNode{op: op, left: left, right: right}
	}
}

func (p *mathParser) unary() (*mathNode, error) {
	switch token := p.peek(); {
	case token == "!" || token == "-":
		p.pos++
		operand, err := p.unary()
		return &mathNode{op: map[string]string{"!": "!", "-": "neg"}[token], left: operand}, err
	case token == "(":
		p.pos++
		node, err := p.binary(mathLevels)
		if p.peek() != ")" {
			return nil, fmt.Errorf("math: missing )")
		}
		p.pos++
		return node, err
	case strings.HasPrefix(token, "$"):
		p.pos++
		return &mathNode{op: "var", name: token[1:]}, nil
	default:
		value, err := strconv.ParseFloat(token, 64)
		if err != nil {
			return nil, fmt.Errorf("math: unexpected %q", token)
		}
		p.pos++
		return &mathNode{op: "num", value: value}, nil
	}
}

var mathLevels = [][]string{{"||"}, {"&&"}, {"==", "!="}, {">", "<", ">=", "<="}, {"+", "-"}, {"*", "/"}}

func parseMath(text string) (*mathNode, error) {
	tokens, err := tokenizeMath(text)
	if err != nil {
		return nil, err
	}
	p := &mathParser{tokens: tokens}
	node, err := p.binary(mathLevels)
	if err == nil && p.pos != len(tokens) {
		err = fmt.Errorf("math: unexpected %q", p.peek())
	}
	return node, err
}

// mathValue is a math operand: a constant, or the numbers of a query or expression.
type mathValue struct {
	scalar *float64
	items  []sseItem
}

func boolean(b bool) float64 { return map[bool]float64{true: 1, false: 0}[b] }

func applyBinary(op string, a, b float64) float64 {
	switch op {
	case "+":
		return a + b
	case "-":
		return a - b
	case "*":
		return a * b
	case "/":
		return a / b
	case ">":
		return boolean(a > b)
	case "<":
		return boolean(a < b)
	case ">=":
		return boolean(a >= b)
	case "<=":
		return boolean(a <= b)
	case "==":
		return boolean(a == b)
	case "!=":
		return boolean(a != b)
	case "&&":
		return boolean(a != 0 && b != 0)
	case "||":
		return boolean(a != 0 || b != 0)
	}
	return math.NaN()
}

func subset(small, large map[string]string) bool {
	for k, v := range small {
		if large[k] != v {
			return false
		}
	}
	return true
}

// pair is two numbers math combines, under the labels of the result.
type pair struct {
	labels map[string]string
	left   *float64
	right  *float64
}

// unionPairs pairs the items of two variables as Grafana's math does: equal labels, or one set a subset of the
// other (the result takes the larger); when nothing pairs and each side has one item, those two, with the labels of
// the side with more labels (the left one on a tie).
func unionPairs(a, b []sseItem) []pair {
	var pairs []pair
	for _, x := range a {
		for _, y := range b {
			switch {
			case subset(x.labels, y.labels):
				pairs = append(pairs, pair{y.labels, x.number, y.number})
			case subset(y.labels, x.labels):
				pairs = append(pairs, pair{x.labels, x.number, y.number})
			}
		}
	}
	if len(pairs) == 0 && len(a) == 1 && len(b) == 1 {
		labels := a[0].labels
		if len(b[0].labels) > len(a[0].labels) {
			labels = b[0].labels
		}
		pairs = append(pairs, pair{labels, a[0].number, b[0].number})
	}
	return pairs
}

func evalMath(node *mathNode, vars map[string]sseResult) (mathValue, error) {
	switch node.op {
	case "num":
		return mathValue{scalar: f64(node.value)}, nil
	case "var":
		result, ok := vars[node.name]
		if !ok {
			return mathValue{}, fmt.Errorf("math: $%s is not defined", node.name)
		}
		for _, item := range result.items {
			if item.isSeries {
				return mathValue{}, fmt.Errorf("math: $%s is a series; this evaluator only does math on numbers", node.name)
			}
		}
		return mathValue{items: result.items}, nil
	case "!", "neg":
		operand, err := evalMath(node.left, vars)
		unary := func(v *float64) *float64 {
			if v == nil {
				return nil
			}
			if node.op == "!" {
				return f64(boolean(*v == 0))
			}
			return f64(-*v)
		}
		if operand.scalar != nil {
			return mathValue{scalar: unary(operand.scalar)}, err
		}
		out := mathValue{}
		for _, item := range operand.items {
			out.items = append(out.items, sseItem{labels: item.labels, number: unary(item.number)})
		}
		return out, err
	}
	left, err := evalMath(node.left, vars)
	if err != nil {
		return left, err
	}
	right, err := evalMath(node.right, vars)
	if err != nil {
		return right, err
	}
	apply := func(a, b *float64) *float64 {
		if a == nil || b == nil {
			return nil
		}
		return f64(applyBinary(node.op, *a, *b))
	}
	switch {
	case left.scalar != nil && right.scalar != nil:
		return mathValue{scalar: apply(left.scalar, right.scalar)}, nil
	case left.scalar != nil || right.scalar != nil:
		out := mathValue{}
		items := left.items
		if left.scalar != nil {
			items = right.items
		}
		for _, item := range items {
			a, b := left.scalar, right.scalar
			if a == nil {
				a = item.number
			} else {
				b = item.number
			}
			out.items = append(out.items, sseItem{labels: item.labels, number: apply(a, b)})
		}
		return out, nil
	}
	out := mathValue{}
	for _, p := range unionPairs(left.items, right.items) {
		out.items = append(out.items, sseItem{labels: p.labels, number: apply(p.left, p.right)})
	}
	return out, nil
}

// mathExpression evaluates a math expression over the results computed so far.
func mathExpression(model map[string]any, vars map[string]sseResult) (sseResult, error) {
	text, _ := model["expression"].(string)
	node, err := parseMath(text)
	if err != nil {
		return sseResult{}, err
	}
	value, err := evalMath(node, vars)
	if err != nil {
		return sseResult{}, err
	}
	if value.scalar != nil {
		return sseResult{items: []sseItem{{labels: map[string]string{}, number: value.scalar}}}, nil
	}
	return sseResult{items: value.items}, uniqueLabels(value.items)
}
