import { escapeLabelValue, LATENCY_BUCKETS, QueryMetrics } from './metrics';

describe('QueryMetrics', () => {
  it('renders counters and a cumulative latency histogram in Prometheus text format', () => {
    const metrics = new QueryMetrics();
    metrics.observe('drift', 0.004);
    metrics.observe('drift', 0.3, 'downstream');
    metrics.observe('models', 45);
    const text = metrics.render();
    expect(text).toContain('plugin_queries_total{query_type="drift"} 2');
    expect(text).toContain('plugin_query_errors_total{query_type="drift",error_source="downstream"} 1');
    expect(text).toContain('plugin_query_duration_seconds_bucket{query_type="drift",le="0.005"} 1');
    expect(text).toContain('plugin_query_duration_seconds_bucket{query_type="drift",le="0.25"} 1');
    expect(text).toContain('plugin_query_duration_seconds_bucket{query_type="drift",le="0.5"} 2');
    expect(text).toContain('plugin_query_duration_seconds_bucket{query_type="models",le="30"} 0');
    expect(text).toContain('plugin_query_duration_seconds_bucket{query_type="models",le="+Inf"} 1');
    expect(text).toContain('plugin_query_duration_seconds_sum{query_type="drift"} 0.304');
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect(text.endsWith('\n')).toBe(true);
    expect(LATENCY_BUCKETS).toEqual([...LATENCY_BUCKETS].sort((a, b) => a - b));
  });

  it('escapes label values', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });
});
