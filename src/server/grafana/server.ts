/**
 * The go-plugin gRPC server Grafana talks to: pluginv2 Data, Diagnostics, Resource and Stream (Grafana Live), the
 * gRPC health service, and go-plugin's controller/stdio/broker. Knows nothing about what the queries and channels
 * mean; the datasource plugs in through `PluginHandlers`.
 */
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { writeSync } from 'node:fs';
import { mapError } from './errors';
import { checkMagicCookie, handshakeLine, negotiateVersion, type Environment } from './handshake';
import { createLogger, redirectConsole, type Logger } from './logger';
import { QueryMetrics } from './metrics';
import { loadProtocolRoot, serviceDefinition } from './proto';
import { createQueryRunner, type QueryExecutor } from './queryRunner';
import { dispatchResource, type ResourceRoute } from './resources';
import { redactSecrets } from './secrets';
import {
  HealthStatus,
  type CallResourceRequest,
  type CallResourceResponse,
  type CheckHealthRequest,
  type CheckHealthResult,
  type DataQuery,
  type QueryDataRequest,
  type QueryDataResponse,
  type StreamAnswer,
  type StreamRequest,
  StreamStatus,
} from './types';

/**
 * Grafana Live channels of the datasource (`ds/<uid>/<path>`). Grafana asks `subscribe` for every subscriber, and
 * calls `run` once per channel when its first subscriber joins; `run`'s signal aborts when the last one has left (or
 * the plugin stops). Publishing to a channel is always refused: this plugin's channels carry what it computes.
 */
export interface StreamHandlers {
  subscribe(request: StreamRequest): Promise<StreamAnswer>;
  /**
   * Sends packets (JSON text: a frame in SDK frame-JSON form) until `signal` aborts; `send` resolves once the
   * transport took the packet (waiting while the client reads slowly) and rejects once the stream is gone.
   */
  run(request: StreamRequest, send: (packet: string) => Promise<void>, signal: AbortSignal): Promise<void>;
}

export interface PluginHandlers {
  execute: QueryExecutor;
  /** The metrics label of a query: its type when known, a fixed word otherwise. */
  metricLabel: (query: DataQuery) => string;
  /** Whether a query reads and counts data (queryRunner.ts: heavy queries leave a slot free for light ones). */
  isHeavy?: (query: DataQuery, headers: Record<string, string>) => boolean;
  checkHealth: (request: CheckHealthRequest) => Promise<CheckHealthResult>;
  resources: ResourceRoute[];
  /** Grafana Live channels; without them every subscription is answered NOT_FOUND. */
  streams?: StreamHandlers;
  /** The datasource's own metrics (Prometheus text), appended to the server's in CollectMetrics. */
  collectMetrics?: () => string;
  /** Releases resources (open stores) before the process exits. */
  dispose?: () => Promise<void>;
}

export interface ServeOptions {
  logger: Logger;
  /** Queries running at once across the process. */
  concurrency?: number;
  /** Time limit per query in milliseconds. */
  queryTimeoutMs?: number;
  /** Called once the controller asked us to shut down and the server stopped. */
  onShutdown?: () => void;
}

export interface RunningServer {
  port: number;
  stop(): Promise<void>;
}

/** Largest request accepted (the Go SDK's value); Grafana accepts responses of any size. */
export const MAX_RECEIVE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;
/** Longest wait for the stores to close at shutdown (the process exits after it either way). */
const DISPOSE_TIMEOUT_MS = 800;
const HEALTHY_SERVICES = new Set(['', 'plugin']);

interface OpenStream {
  on(event: string, listener: () => void): void;
  end(): void;
}

/** An AbortSignal that fires when the client cancels the call or its deadline passes. */
function callSignal(call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>): AbortSignal {
  const controller = new AbortController();
  call.on('cancelled', () => controller.abort());
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  if (Number.isFinite(deadlineMs)) {
    return AbortSignal.any([controller.signal, AbortSignal.timeout(Math.max(0, deadlineMs - Date.now()))]);
  }
  return controller.signal;
}

/** Writes one packet, waiting for the transport to drain when its buffer is full; rejects once the call is gone. */
function writePacket(call: ServerWritableStream<StreamRequest, unknown>, signal: AbortSignal, packet: string) {
  signal.throwIfAborted();
  if (call.write({ data: Buffer.from(packet) })) {
    return Promise.resolve();
  }
  return new Promise<void>((resolve, reject) => {
    const gone = () => reject(signal.reason ?? new Error('the stream was closed'));
    call.once('drain', () => {
      signal.removeEventListener('abort', gone);
      resolve();
    });
    signal.addEventListener('abort', gone, { once: true });
  });
}

/**
 * pluginv2.Stream: subscriptions and runs go to the handlers (a failing subscription check is answered with its
 * error, never more); a run ends with OK when its channel is left and with the error's message when it fails.
 */
function streamService(streams: StreamHandlers | undefined, shutdown: AbortSignal, logger: Logger) {
  return {
    SubscribeStream: (call: ServerUnaryCall<StreamRequest, unknown>, callback: sendUnaryData<unknown>) => {
      if (!streams) {
        callback(null, { status: StreamStatus.NOT_FOUND });
        return;
      }
      streams.subscribe(call.request).then(
        (answer) => callback(null, { status: answer.status, data: answer.data ?? Buffer.alloc(0) }),
        (error) => callback({ code: GrpcStatus.INVALID_ARGUMENT, details: mapError(error).message })
      );
    },
    RunStream: (call: ServerWritableStream<StreamRequest, unknown>) => {
      if (!streams) {
        call.emit('error', { code: GrpcStatus.UNIMPLEMENTED, details: 'this plugin has no streams' });
        return;
      }
      const signal = AbortSignal.any([callSignal(call), shutdown]);
      streams
        .run(call.request, (packet) => writePacket(call, signal, packet), signal)
        .then(
          () => call.end(),
          (error) => {
            if (signal.aborted) {
              call.end();
              return;
            }
            const details = mapError(error).message;
            logger.warn('stream failed', { path: call.request.path, error: details });
            call.emit('error', { code: GrpcStatus.INTERNAL, details });
          }
        );
    },
    PublishStream: (_call: ServerUnaryCall<StreamRequest, unknown>, callback: sendUnaryData<unknown>) => {
      callback(null, { status: StreamStatus.PERMISSION_DENIED, data: Buffer.alloc(0) });
    },
  };
}

/** Starts the gRPC server on 127.0.0.1 (random port) with every service registered. */
export async function startServer(handlers: PluginHandlers, options: ServeOptions): Promise<RunningServer> {
  const { logger } = options;
  const root = loadProtocolRoot();
  const metrics = new QueryMetrics();
  const shutdown = new AbortController();
  const queryData = createQueryRunner({
    execute: handlers.execute,
    metricLabel: handlers.metricLabel,
    isHeavy: handlers.isHeavy,
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    timeoutMs: options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
    metrics,
    logger,
    shutdown: shutdown.signal,
  });
  // Streams that stay open for the life of the connection (stdio, broker, health watch); ended at shutdown
  // so that the server stops at once instead of waiting for them.
  const openStreams = new Set<OpenStream>();
  const holdOpen = (call: OpenStream) => {
    openStreams.add(call);
    call.on('cancelled', () => {
      openStreams.delete(call);
      call.end();
    });
  };
  const server = new Server({
    'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
    'grpc.max_send_message_length': -1,
  });

  server.addService(serviceDefinition(root, 'pluginv2.Data'), {
    QueryData: (
      call: ServerUnaryCall<QueryDataRequest, QueryDataResponse>,
      callback: sendUnaryData<QueryDataResponse>
    ) => {
      queryData(call.request, callSignal(call)).then(
        (response) => callback(null, response),
        (error) => callback({ code: GrpcStatus.INTERNAL, details: mapError(error).message })
      );
    },
  });

  server.addService(serviceDefinition(root, 'pluginv2.Diagnostics'), {
    CheckHealth: (call: ServerUnaryCall<CheckHealthRequest, unknown>, callback: sendUnaryData<unknown>) => {
      handlers
        .checkHealth(call.request)
        .catch((error): CheckHealthResult => ({ status: HealthStatus.ERROR, message: mapError(error).message }))
        .then((result) =>
          callback(null, {
            status: result.status,
            message: redactSecrets(result.message),
            jsonDetails: Buffer.from(result.details ? redactSecrets(JSON.stringify(result.details)) : ''),
          })
        );
    },
    CollectMetrics: (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const text = metrics.render() + (handlers.collectMetrics?.() ?? '');
      callback(null, { metrics: { prometheus: Buffer.from(text) } });
    },
  });

  server.addService(serviceDefinition(root, 'pluginv2.Resource'), {
    CallResource: (call: ServerWritableStream<CallResourceRequest, CallResourceResponse>) => {
      dispatchResource(handlers.resources, call.request).then((response) => {
        call.write(response);
        call.end();
      });
    },
  });

  server.addService(
    serviceDefinition(root, 'pluginv2.Stream'),
    streamService(handlers.streams, shutdown.signal, logger)
  );

  server.addService(serviceDefinition(root, 'grpc.health.v1.Health'), {
    Check: (call: ServerUnaryCall<{ service: string }, unknown>, callback: sendUnaryData<unknown>) => {
      if (!HEALTHY_SERVICES.has(call.request.service)) {
        callback({ code: GrpcStatus.NOT_FOUND, details: `unknown service '${call.request.service}'` });
        return;
      }
      callback(null, { status: 1 /* SERVING */ });
    },
    Watch: (call: ServerWritableStream<{ service: string }, unknown>) => {
      holdOpen(call);
      call.write({ status: HEALTHY_SERVICES.has(call.request.service) ? 1 : 3 /* SERVICE_UNKNOWN */ });
    },
  });

  // Stopping: running queries are stopped first (they answer at once and their work stops), the server closes (forced
  // after 500 ms), and the stores are closed within DISPOSE_TIMEOUT_MS — so that the whole takes well under the 2 s
  // Grafana waits before it kills the process, whatever was running.
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      shutdown.abort(new Error('the plugin is shutting down'));
      openStreams.forEach((stream) => stream.end());
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 500);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      const disposed = handlers.dispose?.().catch((error) => logger.warn('cleanup at shutdown failed', { error }));
      const late = new Promise<void>((resolve) => setTimeout(resolve, DISPOSE_TIMEOUT_MS).unref());
      await Promise.race([disposed, late]);
    })());

  server.addService(serviceDefinition(root, 'plugin.GRPCController'), {
    Shutdown: (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      logger.debug('shutdown requested by the host');
      callback(null, {});
      setImmediate(() => stop().then(() => options.onShutdown?.()));
    },
  });
  // go-plugin opens these two streams right after connecting; keeping them open (and silent) is enough.
  server.addService(serviceDefinition(root, 'plugin.GRPCStdio'), {
    StreamStdio: (call: ServerWritableStream<unknown, unknown>) => holdOpen(call),
  });
  server.addService(serviceDefinition(root, 'plugin.GRPCBroker'), {
    StartStream: (call: OpenStream) => {
      holdOpen(call);
      call.on('end', () => call.end());
    },
  });

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, boundPort) =>
      error ? reject(new Error(`cannot listen on 127.0.0.1: ${error.message}`)) : resolve(boundPort)
    )
  );
  return { port, stop };
}

/**
 * The process entry for Grafana: checks the magic cookie (exit 1 otherwise), keeps stdout for the
 * handshake alone, ignores SIGINT like go-plugin, serves, prints the handshake, exits on Shutdown.
 */
export async function runPlugin(
  makeHandlers: (logger: Logger) => PluginHandlers,
  env: Environment = process.env
): Promise<void> {
  const logger = createLogger();
  redirectConsole(logger);
  const refusal = checkMagicCookie(env);
  if (refusal) {
    process.stderr.write(`${refusal}\n`);
    process.exit(1);
  }
  if (env.PLUGIN_CLIENT_CERT) {
    logger.warn('PLUGIN_CLIENT_CERT is set but this plugin serves plaintext gRPC on loopback only (no AutoMTLS)');
  }
  process.on('SIGINT', () => logger.debug('ignoring SIGINT; Grafana stops plugins through the controller'));
  const version = negotiateVersion(env);
  const server = await startServer(makeHandlers(logger), { logger, onShutdown: () => process.exit(0) });
  writeSync(1, handshakeLine('127.0.0.1', server.port, version));
  logger.debug('plugin started', { port: server.port, pid: process.pid });
}
