/**
 * The collector's Prometheus metrics, rendered in the text exposition format
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). Label values are escaped as that format says.
 */

type Labels = Record<string, string>;

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function renderLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = renderLabels(labels);
    const entry = this.values.get(key);
    if (entry) {
      entry.value += by;
    } else {
      this.values.set(key, { labels, value: by });
    }
  }

  get(labels: Labels = {}): number {
    return this.values.get(renderLabels(labels))?.value ?? 0;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [key, { value }] of this.values) {
      lines.push(`${this.name}${key} ${value}`);
    }
    return lines;
  }
}

/** A cumulative histogram with fixed upper bounds, in seconds. */
class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: number[]
  ) {
    this.counts = bounds.map(() => 0);
  }

  observe(seconds: number): void {
    this.sum += seconds;
    this.count += 1;
    for (let i = 0; i < this.bounds.length; i++) {
      if (seconds <= this.bounds[i]) {
        this.counts[i] += 1;
      }
    }
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.bounds.forEach((bound, i) => lines.push(`${this.name}_bucket{le="${bound}"} ${this.counts[i]}`));
    lines.push(
      `${this.name}_bucket{le="+Inf"} ${this.count}`,
      `${this.name}_sum ${this.sum}`,
      `${this.name}_count ${this.count}`
    );
    return lines;
  }
}

const LATENCY_BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class CollectorMetrics {
  readonly records = new Counter(
    'mlmon_collector_records_total',
    'Records received, by model, kind and outcome (accepted, rejected, duplicate, sampled_out).'
  );
  readonly rejected = new Counter(
    'mlmon_collector_records_rejected_total',
    'Records rejected, by model, kind and reason code.'
  );
  readonly batches = new Counter(
    'mlmon_collector_batches_total',
    'Batches (HTTP requests) by endpoint and status code.'
  );
  readonly flushedRecords = new Counter(
    'mlmon_collector_flushed_records_total',
    'Records moved from the write-ahead log into the store, by model and kind.'
  );
  readonly flushedSegments = new Counter(
    'mlmon_collector_flushed_segments_total',
    'Write-ahead log segments written to the store, by where their records came from (memory: delivered by the ' +
      'collector; disk: read back, e.g. after a restart or past the memory budget).'
  );
  readonly storeErrors = new Counter(
    'mlmon_collector_store_errors_total',
    'Failed writes to the store, by model and kind (the WAL segment is kept and retried).'
  );
  readonly ackLatency = new Histogram(
    'mlmon_collector_ack_duration_seconds',
    'Time from the end of a request body to its durable acknowledgement.',
    LATENCY_BOUNDS
  );
  readonly flushLatency = new Histogram(
    'mlmon_collector_flush_duration_seconds',
    'Time to move one round of WAL segments into the store.',
    LATENCY_BOUNDS
  );

  constructor(private readonly state: () => CollectorGauges) {}

  render(): string {
    const gauge = (name: string, help: string, value: number) => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} gauge`,
      `${name} ${value}`,
    ];
    const state = this.state();
    return [
      ...this.records.render(),
      ...this.rejected.render(),
      ...this.batches.render(),
      ...this.flushedRecords.render(),
      ...this.flushedSegments.render(),
      ...this.storeErrors.render(),
      ...gauge(
        'mlmon_collector_wal_bytes',
        'Bytes in the write-ahead log not yet moved into the store.',
        state.walBytes
      ),
      ...gauge(
        'mlmon_collector_wal_segments',
        'Write-ahead log segments not yet moved into the store.',
        state.walSegments
      ),
      ...gauge(
        'mlmon_collector_backlog_records',
        'Records acknowledged but not yet in the store (those of segments left by an earlier run count once read).',
        state.backlogRecords
      ),
      ...gauge(
        'mlmon_collector_backlog_oldest_age_seconds',
        'Age of the oldest record not yet in the store (0 when the backlog is empty).',
        state.backlogOldestAgeSeconds
      ),
      ...gauge(
        'mlmon_collector_disk_free_bytes',
        'Free bytes on the file system of the write-ahead log.',
        state.diskFreeBytes
      ),
      ...gauge(
        'mlmon_collector_flush_consecutive_failures',
        'Flush rounds in a row that left records unwritten because the store failed.',
        state.flushConsecutiveFailures
      ),
      ...gauge(
        'mlmon_collector_health',
        'Health: 0 ok, 1 degraded, 2 failing, 3 stopping (see /healthz).',
        state.health
      ),
      `# HELP mlmon_collector_wal_fsyncs_total fdatasync calls of the write-ahead log (group commit: fewer than batches).`,
      `# TYPE mlmon_collector_wal_fsyncs_total counter`,
      `mlmon_collector_wal_fsyncs_total ${state.walSyncs}`,
      ...this.ackLatency.render(),
      ...this.flushLatency.render(),
      '',
    ].join('\n');
  }
}

/** The collector's state behind the gauges, read at each scrape. */
export interface CollectorGauges {
  walBytes: number;
  walSegments: number;
  walSyncs: number;
  backlogRecords: number;
  backlogOldestAgeSeconds: number;
  diskFreeBytes: number;
  flushConsecutiveFailures: number;
  health: number;
}
