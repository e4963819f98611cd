/**
 * The hashicorp/go-plugin handshake as Grafana drives it (go-plugin `server.go` `Serve`, Grafana SDK
 * `backend/grpcplugin/handshake.go`): a magic cookie in the environment, protocol version 2, and one line
 * `CORE|APP|NETWORK|ADDRESS|PROTOCOL` on stdout once the server listens.
 */
import { largest } from '../../core/stats/extremes';

export const MAGIC_COOKIE_KEY = 'grafana_plugin_type';
export const MAGIC_COOKIE_VALUE = 'datasource';
/** go-plugin's own protocol version; the client refuses anything else. */
export const CORE_PROTOCOL_VERSION = 1;
/** Grafana's plugin protocol version (pluginv2). */
export const APP_PROTOCOL_VERSION = 2;

export type Environment = Record<string, string | undefined>;

/** The reason not to start, or undefined when the magic cookie is right. */
export function checkMagicCookie(env: Environment): string | undefined {
  if (env[MAGIC_COOKIE_KEY] === MAGIC_COOKIE_VALUE) {
    return undefined;
  }
  return (
    'This binary is a plugin. These are not meant to be executed directly. ' +
    'Grafana starts it as a backend plugin and sets grafana_plugin_type=datasource; ' +
    'set that variable to start it by hand.'
  );
}

/**
 * The app protocol version to announce: the highest version we serve that the client lists in
 * PLUGIN_PROTOCOL_VERSIONS; when the list lacks it we still announce ours and let the client report
 * the mismatch (go-plugin `protocolVersion`).
 */
export function negotiateVersion(env: Environment, served: number[] = [APP_PROTOCOL_VERSION]): number {
  const offered = (env.PLUGIN_PROTOCOL_VERSIONS ?? '')
    .split(',')
    .map((v) => Number.parseInt(v.trim(), 10))
    .filter((v) => Number.isInteger(v));
  const common = served.filter((v) => offered.includes(v));
  return largest(common.length > 0 ? common : served);
}

/** The handshake line for a TCP listener, newline-terminated. */
export function handshakeLine(host: string, port: number, appVersion: number = APP_PROTOCOL_VERSION): string {
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`cannot announce port ${port}: the gRPC server is not listening`);
  }
  return `${CORE_PROTOCOL_VERSION}|${appVersion}|tcp|${host}:${port}|grpc\n`;
}
