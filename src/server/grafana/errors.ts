/**
 * Errors that carry what Grafana needs in a DataResponse or resource response: an HTTP-like status and
 * the error source (`downstream` when the cause is outside the plugin — the user's query, the store —,
 * `plugin` for our own faults; SDK `backend/status.go`, `backend/errorsource.go`).
 * `mapError` is the way out of the process for every error text, so it is where secrets are redacted.
 */
import { redactSecrets } from './secrets';
import type { ErrorSource } from './types';

export class PluginError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly source: ErrorSource
  ) {
    super(message);
    this.name = 'PluginError';
  }
}

/** The request itself is wrong (malformed JSON, unknown query type, missing field). */
export function badRequest(message: string): PluginError {
  return new PluginError(message, 400, 'downstream');
}

/** Something the request names does not exist. */
export function notFound(message: string): PluginError {
  return new PluginError(message, 404, 'downstream');
}

/** The store or another service the plugin depends on failed. */
export function downstreamFailure(message: string, status = 502): PluginError {
  return new PluginError(message, status, 'downstream');
}

/** A query ran out of time. */
export function timeoutError(message: string): PluginError {
  return new PluginError(message, 504, 'downstream');
}

export interface MappedError {
  status: number;
  source: ErrorSource;
  message: string;
}

/**
 * Maps anything thrown to status, source and message, secrets redacted; unknown errors are the plugin's own (500).
 */
export function mapError(error: unknown): MappedError {
  if (error instanceof PluginError) {
    return { status: error.status, source: error.source, message: redactSecrets(error.message) };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, source: 'plugin', message: redactSecrets(`internal error: ${message}`) };
}
