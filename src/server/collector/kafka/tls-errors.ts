/**
 * What to do about a failed TLS connection to the brokers. The Kafka client wraps the socket's error (its `code` is
 * OpenSSL's verification result or alert, as Node reports it) in errors of its own ("Cannot connect to any broker."
 * → "Connection to host:port failed." → cause), whose messages alone do not tell a wrong certificate authority from
 * a broker that is down.
 */

/** Node's codes for a broker certificate this client does not trust (tls.TLSSocket#authorizationError). */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** OpenSSL alerts a broker sends when it refuses this client's certificate, or its absence (mutual TLS). */
const CLIENT_REFUSED =
  /ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|HANDSHAKE_FAILURE|CERTIFICATE_UNKNOWN|ACCESS_DENIED)$/;

/** Every error in a tree of causes and aggregated errors, depth first, each once. */
function errorsIn(error: unknown, seen = new Set<unknown>()): Array<Error & { code?: unknown }> {
  if (!(error instanceof Error) || seen.has(error)) {
    return [];
  }
  seen.add(error);
  const nested = [(error as Error & { cause?: unknown }).cause, ...((error as Partial<AggregateError>).errors ?? [])];
  return [error, ...nested.flatMap((inner) => errorsIn(inner, seen))];
}

/**
 * The reason and the next step for a TLS failure in `error`'s causes, or undefined when it holds none. Quotes only
 * codes and Node's messages about certificates, never a configured value. (A client key that cannot be read is refused
 * before connecting: kafka-flags.ts.)
 */
export function tlsFailureHint(error: unknown): string | undefined {
  for (const inner of errorsIn(error)) {
    const code = typeof inner.code === 'string' ? inner.code : '';
    if (UNTRUSTED.has(code)) {
      return (
        `the brokers' TLS certificate is not signed by an authority this collector trusts (${inner.message}): give ` +
        "--kafka-tls-ca-file the PEM certificate of the authority that signed the brokers' certificates"
      );
    }
    if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
      return `the brokers' TLS certificate is not valid now (${inner.message}): renew it on the brokers`;
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return (
        `the brokers' TLS certificate does not name the host dialled (${inner.message}): give --kafka-brokers a ` +
        'name or address the certificate lists'
      );
    }
    if (CLIENT_REFUSED.test(code)) {
      return (
        `the brokers refused this collector's TLS client certificate (${code}): give --kafka-tls-cert-file and ` +
        '--kafka-tls-key-file a certificate the brokers trust (their listener requires one)'
      );
    }
  }
  return undefined;
}

/**
 * Keeps the latest error of the client's broker connections. A broker that refuses the client's certificate (or
 * its absence) under TLS 1.3 says so in an alert after the handshake: the connection reports it as an error event,
 * while the request under way only fails with "Connection closed".
 */
export function watchConnectionErrors(client: NodeJS.EventEmitter): () => unknown {
  let latest: unknown;
  client.on('client:broker:connect', ({ connection }: { connection: NodeJS.EventEmitter }) =>
    connection.on('error', (error: unknown) => (latest = error))
  );
  return () => latest;
}
