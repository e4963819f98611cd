/**
 * Prometheus metrics in the text exposition format (version 0.0.4), for Diagnostics/CollectMetrics:
 * process metrics and, per query type, a query counter, an error counter and a latency histogram.
 */

/** Upper bounds (seconds) of the latency histogram buckets. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

/** Escapes a label value: backslash, double quote and newline (exposition format spec). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

export class QueryMetrics {
  private readonly queries = new Map<string, number>();
  private readonly errors = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();

  /** Records one finished query: its type, how long it took, and the error source if it failed. */
  observe(queryType: string, seconds: number, errorSource?: string): void {
    this.queries.set(queryType, (this.queries.get(queryType) ?? 0) + 1);
    if (errorSource) {
      const key = JSON.stringify([queryType, errorSource]);
      this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
    }
    const histogram = this.latency.get(queryType) ?? { counts: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
    LATENCY_BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) {
        histogram.counts[i] += 1;
      }
    });
    histogram.sum += seconds;
    histogram.count += 1;
    this.latency.set(queryType, histogram);
  }

  /** The metrics in Prometheus text format. */
  render(): string {
    const lines: string[] = [];
    lines.push('# HELP plugin_queries_total Queries answered, by query type.', '# TYPE plugin_queries_total counter');
    for (const [type, n] of this.queries) {
      lines.push(`plugin_queries_total${labelText({ query_type: type })} ${n}`);
    }
    lines.push('# HELP plugin_query_errors_total Queries that failed, by query type and error source.');
    lines.push('# TYPE plugin_query_errors_total counter');
    for (const [key, n] of this.errors) {
      const [type, source] = JSON.parse(key) as [string, string];
      lines.push(`plugin_query_errors_total${labelText({ query_type: type, error_source: source })} ${n}`);
    }
    lines.push('# HELP plugin_query_duration_seconds Query latency, by query type.');
    lines.push('# TYPE plugin_query_duration_seconds histogram');
    for (const [type, h] of this.latency) {
      LATENCY_BUCKETS.forEach((bound, i) =>
        lines.push(
          `plugin_query_duration_seconds_bucket${labelText({ query_type: type, le: String(bound) })} ${h.counts[i]}`
        )
      );
      lines.push(`plugin_query_duration_seconds_bucket${labelText({ query_type: type, le: '+Inf' })} ${h.count}`);
      lines.push(`plugin_query_duration_seconds_sum${labelText({ query_type: type })} ${h.sum}`);
      lines.push(`plugin_query_duration_seconds_count${labelText({ query_type: type })} ${h.count}`);
    }
    return `${processMetrics().join('\n')}\n${lines.join('\n')}\n`;
  }
}

/** Standard process_* metrics (Prometheus client conventions) from Node's own counters. */
function processMetrics(): string[] {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const startSeconds = Math.floor(Date.now() / 1000 - process.uptime());
  return [
    '# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.',
    '# TYPE process_cpu_seconds_total counter',
    `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
    '# HELP process_resident_memory_bytes Resident memory size in bytes.',
    '# TYPE process_resident_memory_bytes gauge',
    `process_resident_memory_bytes ${memory.rss}`,
    '# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.',
    '# TYPE process_start_time_seconds gauge',
    `process_start_time_seconds ${startSeconds}`,
    '# HELP nodejs_heap_used_bytes V8 heap in use, in bytes.',
    '# TYPE nodejs_heap_used_bytes gauge',
    `nodejs_heap_used_bytes ${memory.heapUsed}`,
  ];
}
