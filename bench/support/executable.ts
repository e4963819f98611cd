/**
 * The built backend executable (dist/datasource/gpx_modelmonitor_linux_amd64) started as Grafana starts it — magic
 * cookie, go-plugin handshake line on stdout — with pluginv2.Data and pluginv2.Stream clients on its address, and its
 * memory read from /proc. Shared by the benchmarks that drive the executable over gRPC.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { credentials, makeGenericClientConstructor, Metadata, type Client } from '@grpc/grpc-js';
import { loadProtocolRoot, serviceDefinition } from '../../src/server/grafana/proto';

export const EXECUTABLE = join(__dirname, '../../dist/datasource/gpx_modelmonitor_linux_amd64');

export interface DataResponse {
  frames: Buffer[];
  error: string;
  status: number;
}

export interface RunningExecutable {
  child: ChildProcess;
  /** Sends one QueryData request; rejects on a gRPC error (e.g. its deadline). */
  queryData(request: object, deadlineMs?: number): Promise<{ responses: Record<string, DataResponse> }>;
  /** Opens a RunStream call (Grafana Live); `onPacket` gets each packet's JSON text. Returns its cancel. */
  runStream(request: object, onPacket: (json: string) => void, onEnd: (error?: Error) => void): () => void;
  stop(): void;
}

type GrpcClient = Client & Record<string, (...args: unknown[]) => unknown>;

/** The plugin context Grafana sends for a datasource `uid` reading the embedded store in `dataDirectory`. */
export function embeddedPluginContext(uid: string, dataDirectory: string) {
  return {
    orgId: 1,
    pluginId: 'mlmon-modelmonitor-datasource',
    dataSourceInstanceSettings: {
      id: 1,
      uid,
      name: uid,
      jsonData: Buffer.from(JSON.stringify({ dataDirectory })),
      lastUpdatedMS: 1,
    },
  };
}

/** A memory figure of a process in MB from /proc/<pid>/status: VmRSS (now) or VmHWM (peak). */
export function memoryMB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) {
    throw new Error(`no ${field} in /proc/${pid}/status`);
  }
  return Number(match[1]) / 1024;
}

/**
 * Starts the executable and resolves once its handshake line names the address to dial. Its log (stderr) goes to
 * this process's stderr, or nowhere with `quiet`.
 */
export async function startExecutable(executable = EXECUTABLE, quiet = false): Promise<RunningExecutable> {
  const child = spawn(executable, [], {
    env: { ...process.env, grafana_plugin_type: 'datasource', PLUGIN_PROTOCOL_VERSIONS: '2' },
    stdio: ['ignore', 'pipe', quiet ? 'ignore' : 'inherit'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${executable} exited with ${code} before its handshake`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      const [, , network, where] = line.split('|');
      return network === 'tcp'
        ? resolve(where)
        : reject(new Error(`unexpected handshake line ${JSON.stringify(line)}`));
    });
  });
  const root = loadProtocolRoot();
  const connect = (service: string) =>
    new (makeGenericClientConstructor(serviceDefinition(root, service), service))(
      address,
      credentials.createInsecure()
    ) as GrpcClient;
  const client = connect('pluginv2.Data');
  const streams = connect('pluginv2.Stream');
  return {
    child,
    queryData: (request, deadlineMs = 120_000) =>
      new Promise((resolve, reject) =>
        client.QueryData(
          request,
          new Metadata(),
          { deadline: Date.now() + deadlineMs },
          (error: Error | null, response: never) => (error ? reject(error) : resolve(response))
        )
      ),
    runStream: (request, onPacket, onEnd) => {
      const call = streams.RunStream(request) as NodeJS.EventEmitter & { cancel(): void };
      call.on('data', (packet: { data: Buffer }) => onPacket(packet.data.toString('utf8')));
      call.on('error', (error: Error) => onEnd(error));
      call.on('end', () => onEnd());
      return () => call.cancel();
    },
    stop: () => {
      client.close();
      streams.close();
      child.kill('SIGTERM');
    },
  };
}
