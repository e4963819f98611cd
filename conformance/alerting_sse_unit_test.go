package conformance

import (
	"math"
	"testing"
)

func numberItem(labels map[string]string, v float64) sseItem {
	return sseItem{labels: labels, number: f64(v)}
}

func TestExpressionEngine(t *testing.T) {
	nan := math.NaN()
	t.Run("reduce last by mode", func(t *testing.T) {
		series := []*float64{f64(1), nil, f64(3), nil}
		if v, _ := reduceSeries(series, "last", "", 0); !math.IsNaN(*v) {
			t.Errorf("strict last over a null: %v, want NaN", *v)
		}
		if v, _ := reduceSeries(series, "last", "dropNN", 0); *v != 3 {
			t.Errorf("dropNN last: %v, want 3", *v)
		}
		if v, _ := reduceSeries(series, "last", "replaceNN", -1); *v != -1 {
			t.Errorf("replaceNN last: %v, want -1", *v)
		}
		if v, _ := reduceSeries([]*float64{nil}, "last", "dropNN", 0); !math.IsNaN(*v) {
			t.Errorf("last of nothing: %v, want NaN", *v)
		}
		if v, _ := reduceSeries([]*float64{f64(2), f64(5)}, "max", "", 0); *v != 5 {
			t.Errorf("max: %v", *v)
		}
	})
	t.Run("threshold ranges are open, NaN holds nothing, null stays null", func(t *testing.T) {
		in := sseResult{items: []sseItem{
			numberItem(map[string]string{"f": "a"}, 2),
			numberItem(map[string]string{"f": "b"}, 2.5),
			numberItem(map[string]string{"f": "c"}, nan),
			{labels: map[string]string{"f": "d"}},
		}}
		model := map[string]any{"conditions": []any{map[string]any{"evaluator": map[string]any{"type": "within_range", "params": []any{1.5, 2.5}}}}}
		out, err := thresholdExpression(in, model)
		if err != nil {
			t.Fatal(err)
		}
		want := []any{1.0, 0.0, 0.0, nil}
		for i, item := range out.items {
			if (item.number == nil) != (want[i] == nil) || (item.number != nil && *item.number != want[i]) {
				t.Errorf("item %d: %v, want %v", i, item.number, want[i])
			}
		}
	})
	t.Run("math joins equal or subset labels, and two single items whatever their labels", func(t *testing.T) {
		level := sseResult{items: []sseItem{numberItem(map[string]string{"model": "m", "metric": "accuracy"}, 2)}}
		coverage := sseResult{items: []sseItem{numberItem(map[string]string{"model": "m", "metric": "label_coverage"}, 0.9)}}
		out, err := mathExpression(map[string]any{"expression": "$level > 1.5 && $level < 2.5 && $coverage >= 0.5"},
			map[string]sseResult{"level": level, "coverage": coverage})
		if err != nil || len(out.items) != 1 || *out.items[0].number != 1 || out.items[0].labels["metric"] != "accuracy" {
			t.Fatalf("single items: %+v %v", out, err)
		}
		many := sseResult{items: []sseItem{numberItem(map[string]string{"f": "a"}, 1), numberItem(map[string]string{"f": "b"}, 3)}}
		scale := sseResult{items: []sseItem{numberItem(map[string]string{}, 10)}}
		out, err = mathExpression(map[string]any{"expression": "$x * $s + 1"}, map[string]sseResult{"x": many, "s": scale})
		if err != nil || len(out.items) != 2 || *out.items[1].number != 31 || out.items[1].labels["f"] != "b" {
			t.Fatalf("subset labels: %+v %v", out, err)
		}
		if _, err := mathExpression(map[string]any{"expression": "$x >"}, map[string]sseResult{"x": many}); err == nil {
			t.Error("a broken expression must fail")
		}
	})
	t.Run("a result whose items share their labels is refused, as Grafana does", func(t *testing.T) {
		if err := uniqueLabels([]sseItem{numberItem(map[string]string{"a": "1"}, 1), numberItem(map[string]string{"a": "1"}, 2)}); err == nil {
			t.Error("duplicate labels must fail")
		}
	})
}
