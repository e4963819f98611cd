/**
 * Live panels: the datasource's Grafana Live channels (src/core/query/live.ts says which queries stream and how a
 * channel is named). One `LiveChannel` per datasource and path, whatever the number of RunStream calls on it (Grafana
 * runs a channel once per Grafana instance; a re-subscription may overlap the run it replaces); it lives while one
 * of them does.
 *
 * Every LIVE_POLL_MS one `ModelWatcher` per datasource and model reads a change marker the store makes without
 * counting (the names of the files of the recent days, or the ingestion ledger's sum: PredictionStore.changeMarker)
 * and tells the model's channels. A channel whose marker changed, or whose newest bucket is a new one, computes again
 * only its newest buckets (those since the bucket before the last open one, plus those drift's persistence looks back
 * on) through the same query path as QueryData, and merges them into the window it keeps (live-frames.ts). The whole
 * window is computed when the channel starts, when its series changed, and every LIVE_WINDOW_REFRESH_MS (for records
 * that arrived late, for older buckets). Computations run one at a time across the process (live panels never take
 * more than one slot of work), each within LIVE_COMPUTE_TIMEOUT_MS, and stop when the channel's last run ends; the
 * watcher stops with its model's last channel. At most
 * MAX_LIVE_CHANNELS channels run at once.
 */
import { liveChannelPath, parseLiveSubscription, type LiveSubscription } from '../../core/query/live';
import { QueryError, type MonitorQuery } from '../../core/query/queryTypes';
import { badRequest } from '../grafana/errors';
import { FrameJsonSender } from '../grafana/frameJson';
import type { Frame } from '../grafana/frames';
import type { Logger } from '../grafana/logger';
import { Limiter, type QueryCall } from '../grafana/queryRunner';
import type { StreamHandlers } from '../grafana/server';
import { StreamStatus, type DataQuery, type PluginContext, type StreamRequest } from '../grafana/types';
import type { InstanceManager } from './instances';
import { combineFrames, frameBucketMs, mergeTail } from './live-frames';

/** How often a channel looks for new data. */
export const LIVE_POLL_MS = 1000;
/** Channels running at once in the process; a subscription to one more is refused until one ends. */
export const MAX_LIVE_CHANNELS = 32;
/**
 * How often a channel computes its whole window again (else only its newest buckets): records that arrived late, for
 * older buckets, show within this time.
 */
export const LIVE_WINDOW_REFRESH_MS = 5 * 60_000;
/** Time limit of one computation of a channel (the whole window or its newest buckets). */
export const LIVE_COMPUTE_TIMEOUT_MS = 30_000;
/** The largest subscription data accepted (a query and its window are far smaller). */
const MAX_SUBSCRIPTION_BYTES = 64 * 1024;
/** A channel path: `<query type>/<16 hex digits>` (liveChannelPath). */
const CHANNEL_PATH = /^[a-z_]{1,32}\/[0-9a-f]{16}$/;

export interface LiveOptions {
  execute: (call: QueryCall) => Promise<Frame[]>;
  instances: InstanceManager;
  logger: Logger;
  now: () => number;
  pollMs?: number;
  maxChannels?: number;
}

/** What the live channels did, for CollectMetrics (Prometheus text). */
export interface LiveStats {
  channels: number;
  polls: number;
  computations: number;
  packets: number;
}

/** Everything a channel needs to compute: what to compute, for which datasource. */
interface ChannelSource {
  subscription: LiveSubscription;
  pluginContext: PluginContext;
}

/** A run of the channel (one RunStream call): its packets, and how it is ended when the channel fails. */
interface Subscriber {
  sender: FrameJsonSender;
  send: (packet: string) => Promise<void>;
  fail: (error: unknown) => void;
}

/** Resolves after `ms`, or at once when the signal aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The datasource uid of a request, or a 400 when it names none. */
function datasourceUid(pluginContext: PluginContext | null): string {
  const settings = pluginContext?.dataSourceInstanceSettings;
  if (!settings) {
    throw badRequest('the request names no datasource; subscribe through a Model Monitor datasource');
  }
  return settings.uid || String(settings.id);
}

/** The subscription a request carries, checked like a query; a 400 naming what is wrong otherwise. */
function requestedSubscription(request: StreamRequest): LiveSubscription {
  if (request.data.length > MAX_SUBSCRIPTION_BYTES) {
    throw badRequest(`the live subscription data is ${request.data.length} bytes; at most ${MAX_SUBSCRIPTION_BYTES}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(request.data.toString('utf8'));
  } catch (error) {
    throw badRequest(`the live subscription data is not JSON (${(error as Error).message})`);
  }
  try {
    return parseLiveSubscription(raw);
  } catch (error) {
    throw error instanceof QueryError ? badRequest(error.message) : error;
  }
}

/** A DataQuery of the subscription's query over `range`, as Grafana would send it. */
function dataQuery(
  query: MonitorQuery,
  range: { from: number; to: number },
  intervalMs: number,
  maxDataPoints: number
): DataQuery {
  return {
    refId: query.refId,
    queryType: query.queryType,
    json: Buffer.from(JSON.stringify(query)),
    timeRange: { fromEpochMS: range.from, toEpochMS: range.to },
    intervalMS: intervalMs,
    maxDataPoints,
  };
}

/** The recent days a change marker covers: today's and yesterday's (new buckets, and the look-back before them). */
const MARKER_SPAN_MS = 86_400_000;

/**
 * Polls one model's change marker every `pollMs` for all the channels on it (one read per tick, however many
 * channels), and tells each of them; stops once the last channel left.
 */
class ModelWatcher {
  readonly channels = new Set<LiveChannel>();
  readonly stop = new AbortController();
  /** The last read (a channel that starts computes with it, so that the next tick finds nothing new). */
  private latest: Promise<string | undefined> | undefined;

  constructor(
    private readonly model: string,
    private readonly hub: LiveHub
  ) {}

  /** The latest marker, read now if none was. */
  marker(pluginContext: PluginContext): Promise<string | undefined> {
    return (this.latest ??= this.read(pluginContext));
  }

  async poll(): Promise<void> {
    const signal = this.stop.signal;
    for (;;) {
      await pause(this.hub.pollMs, signal);
      const [any] = this.channels;
      if (signal.aborted || !any) {
        return;
      }
      this.latest = this.read(any.source.pluginContext);
      const marker = await this.latest;
      this.channels.forEach((channel) => channel.tick(marker));
    }
  }

  /**
   * The marker of the model's recent days; undefined when the store cannot tell or the read failed (then every tick
   * counts as a change, and a failing store shows in the computation's error).
   */
  private async read(pluginContext: PluginContext): Promise<string | undefined> {
    this.hub.stats.polls += 1;
    try {
      const store = await this.hub.instances.get(pluginContext).store();
      const now = this.hub.now();
      return await store.changeMarker?.(this.model, { from: now - MARKER_SPAN_MS, to: now + MARKER_SPAN_MS });
    } catch (error) {
      this.hub.logger.debug('reading the change marker failed', { model: this.model, error: String(error) });
      return undefined;
    }
  }
}

/** One channel: its window's frame, kept up to date while it has subscribers. */
class LiveChannel {
  readonly subscribers = new Set<Subscriber>();
  readonly stop = new AbortController();
  private frame: Frame | undefined;
  private bucketMs = 0;
  private openBucket = 0;
  /** When the whole window was last computed. */
  private wholeAt = 0;
  private marker: string | undefined;
  /** Whether a refresh runs, and the tick that came meanwhile (one more refresh follows, with its marker). */
  private running = false;
  private pending: { marker: string | undefined } | undefined;

  constructor(
    public source: ChannelSource,
    private readonly hub: LiveHub
  ) {}

  /** Adds a run: it gets the current frame at once (schema and data), then every new one. */
  async join(subscriber: Subscriber): Promise<void> {
    this.subscribers.add(subscriber);
    if (this.frame) {
      await this.deliver(subscriber, this.frame);
    }
  }

  /**
   * A poll's result (undefined: unknown, so changed): refreshes, or leaves one refresh to follow the running one, so
   * that ticks never pile up. A failing refresh ends every run with its error.
   */
  tick(marker: string | undefined): void {
    if (this.running) {
      this.pending = { marker };
      return;
    }
    this.running = true;
    void (async () => {
      let next: { marker: string | undefined } | undefined = { marker };
      while (next && !this.stop.signal.aborted) {
        this.pending = undefined;
        try {
          await this.refresh(next.marker, this.stop.signal);
        } catch (error) {
          if (!this.stop.signal.aborted) {
            this.subscribers.forEach((subscriber) => subscriber.fail(error));
          }
          break;
        }
        next = this.pending;
      }
      this.running = false;
    })();
  }

  /** Computes what changed since the last refresh, if anything, and sends it to every run. */
  private async refresh(marker: string | undefined, signal: AbortSignal): Promise<void> {
    const now = this.hub.now();
    if (this.frame && marker !== undefined && marker === this.marker && this.bucketOf(now) === this.openBucket) {
      return;
    }
    const frame = await this.hub.computing.run(() => this.compute(now, signal));
    this.marker = marker;
    this.frame = frame;
    this.openBucket = this.bucketOf(now);
    await Promise.all([...this.subscribers].map((subscriber) => this.deliver(subscriber, frame)));
  }

  /** The start of the bucket holding `time` (epoch-aligned, as dashboards' buckets are: plan.ts). */
  private bucketOf(time: number): number {
    return this.bucketMs > 0 ? Math.floor(time / this.bucketMs) * this.bucketMs : 0;
  }

  /**
   * The window's frame at `now`: its newest buckets computed again and merged, or the whole window. The newest
   * buckets are those from the one before the bucket that was open at the last computation (so that records flushed
   * just after a bucket closed still count in it), computed with the buckets drift's persistence looks back on.
   */
  private async compute(now: number, stopped: AbortSignal): Promise<Frame> {
    stopped.throwIfAborted();
    const { subscription } = this.source;
    const { rangeMs, intervalMs, maxDataPoints } = subscription.window;
    const windowFrom = now - rangeMs;
    if (this.frame && this.bucketMs > 0 && now - this.wholeAt < LIVE_WINDOW_REFRESH_MS) {
      const replaceFrom = this.openBucket - this.bucketMs;
      const lookBack = (liveQueryPersistence(subscription.query) - 1) * this.bucketMs;
      // The bucket size stays the window's: the tail's range alone would make Grafana's interval pick another.
      const pinned: MonitorQuery = { ...subscription.query, bucket: `${this.bucketMs / 1000}s` };
      const tailRange = { from: replaceFrom - lookBack, to: now };
      const tail = await this.run(dataQuery(pinned, tailRange, this.bucketMs, 0), stopped);
      const merged = mergeTail(this.frame, tail, replaceFrom, windowFrom, this.bucketMs);
      if (merged) {
        this.hub.stats.computations += 1;
        return merged;
      }
    }
    const windowRange = { from: windowFrom, to: now };
    const whole = await this.run(dataQuery(subscription.query, windowRange, intervalMs, maxDataPoints), stopped);
    this.bucketMs = frameBucketMs(whole) ?? 0;
    this.wholeAt = now;
    this.hub.stats.computations += 1;
    return whole;
  }

  /** Runs the query through the datasource's query path and joins its frames into one. */
  private async run(query: DataQuery, stopped: AbortSignal): Promise<Frame> {
    const signal = AbortSignal.any([stopped, AbortSignal.timeout(LIVE_COMPUTE_TIMEOUT_MS)]);
    const frames = await this.hub.execute({ query, pluginContext: this.source.pluginContext, headers: {}, signal });
    return combineFrames(frames);
  }

  private async deliver(subscriber: Subscriber, frame: Frame): Promise<void> {
    try {
      await subscriber.send(subscriber.sender.packet(frame));
      this.hub.stats.packets += 1;
    } catch (error) {
      subscriber.fail(error);
    }
  }
}

/** Buckets a drift level needs in a row (1 for the queries without persistence). */
function liveQueryPersistence(query: MonitorQuery): number {
  return 'persistence' in query ? (query.persistence ?? 1) : 1;
}

/** The datasource's channels, their shared change markers and the one-at-a-time computation slot. */
export class LiveHub implements StreamHandlers {
  readonly stats: LiveStats = { channels: 0, polls: 0, computations: 0, packets: 0 };
  readonly computing = new Limiter(1);
  readonly execute: LiveOptions['execute'];
  readonly instances: InstanceManager;
  readonly logger: Logger;
  readonly now: () => number;
  readonly pollMs: number;
  private readonly channels = new Map<string, LiveChannel>();
  /** One watcher per datasource and model with channels. */
  private readonly watchers = new Map<string, ModelWatcher>();
  private readonly maxChannels: number;

  constructor(options: LiveOptions) {
    this.execute = options.execute;
    this.instances = options.instances;
    this.logger = options.logger;
    this.now = options.now;
    this.pollMs = options.pollMs ?? LIVE_POLL_MS;
    this.maxChannels = options.maxChannels ?? MAX_LIVE_CHANNELS;
  }

  /**
   * Checks a subscription: NOT_FOUND for a path that is no channel of this datasource, PERMISSION_DENIED when the
   * data does not make the path (one channel, one query), a 400 error naming the problem for data that is no live
   * query, and an error when MAX_LIVE_CHANNELS channels already run.
   */
  async subscribe(request: StreamRequest) {
    const source = this.checked(request);
    if (typeof source === 'number') {
      return { status: source };
    }
    this.checkCapacity(request);
    return { status: StreamStatus.OK };
  }

  /** Streams the channel's frame to this run until `signal` aborts (the last subscriber left, or shutdown). */
  async run(request: StreamRequest, send: (packet: string) => Promise<void>, signal: AbortSignal): Promise<void> {
    const source = this.checked(request);
    if (typeof source === 'number') {
      throw badRequest(`'${request.path}' is not a live channel of this datasource for the data sent with it`);
    }
    this.checkCapacity(request);
    const key = this.key(request);
    const channel = this.channels.get(key) ?? this.open(key, source);
    channel.source = source; // a later run's request carries the datasource's latest settings
    let failure: unknown;
    const failed = new AbortController();
    const subscriber: Subscriber = {
      sender: new FrameJsonSender(source.subscription.query.refId),
      send,
      fail: (error) => {
        failure ??= error;
        failed.abort();
      },
    };
    try {
      await channel.join(subscriber);
      await new Promise<void>((resolve) => {
        const done = AbortSignal.any([signal, failed.signal]);
        if (done.aborted) {
          resolve();
        }
        done.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      channel.subscribers.delete(subscriber);
      if (channel.subscribers.size === 0) {
        this.close(key, channel);
      }
    }
    if (failure !== undefined && !signal.aborted) {
      throw failure;
    }
  }

  /** Prometheus text of the live channels' counters. */
  renderMetrics(): string {
    const lines = [
      ['mlmon_live_channels', 'gauge', 'Live channels running.', this.stats.channels],
      ['mlmon_live_polls_total', 'counter', 'Change-marker reads of the store by live channels.', this.stats.polls],
      ['mlmon_live_computations_total', 'counter', 'Live channel frames computed.', this.stats.computations],
      ['mlmon_live_packets_total', 'counter', 'Stream packets sent.', this.stats.packets],
    ] as const;
    return lines
      .map(([name, type, help, value]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`)
      .join('');
  }

  /** Starts a channel: its first computation at once, then on its model watcher's ticks. */
  private open(key: string, source: ChannelSource): LiveChannel {
    const channel = new LiveChannel(source, this);
    this.channels.set(key, channel);
    this.stats.channels = this.channels.size;
    const watcherKey = this.watcherKey(source);
    let watcher = this.watchers.get(watcherKey);
    if (!watcher) {
      watcher = new ModelWatcher(source.subscription.query.model, this);
      this.watchers.set(watcherKey, watcher);
      void watcher.poll();
    }
    watcher.channels.add(channel);
    this.logger.debug('live channel started', { path: key });
    void watcher.marker(source.pluginContext).then((marker) => channel.tick(marker));
    return channel;
  }

  /** Stops a channel whose last run ended, and its model's watcher when no other channel is on the model. */
  private close(key: string, channel: LiveChannel): void {
    channel.stop.abort();
    this.channels.delete(key);
    this.stats.channels = this.channels.size;
    const watcherKey = this.watcherKey(channel.source);
    const watcher = this.watchers.get(watcherKey);
    watcher?.channels.delete(channel);
    if (watcher?.channels.size === 0) {
      watcher.stop.abort();
      this.watchers.delete(watcherKey);
    }
    this.logger.debug('live channel stopped', { path: key });
  }

  private watcherKey(source: ChannelSource): string {
    return `${datasourceUid(source.pluginContext)}\u0000${source.subscription.query.model}`;
  }

  private key(request: StreamRequest): string {
    return `${datasourceUid(request.pluginContext)}/${request.path}`;
  }

  private checkCapacity(request: StreamRequest): void {
    if (!this.channels.has(this.key(request)) && this.channels.size >= this.maxChannels) {
      throw badRequest(
        `${this.maxChannels} live channels are running, the most this backend serves; ` +
          'close other live panels or turn "Live" off in this query'
      );
    }
  }

  /** The channel source of a request, or the status refusing it (module comment of `subscribe`). */
  private checked(request: StreamRequest): ChannelSource | StreamStatus {
    if (!CHANNEL_PATH.test(request.path)) {
      return StreamStatus.NOT_FOUND;
    }
    datasourceUid(request.pluginContext);
    const subscription = requestedSubscription(request);
    if (liveChannelPath(subscription) !== request.path) {
      return StreamStatus.PERMISSION_DENIED;
    }
    return { subscription, pluginContext: request.pluginContext! };
  }
}
