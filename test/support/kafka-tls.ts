/**
 * Throw-away certificates for a Kafka broker's TLS listeners in the tests (test/support/kafka.ts `tls`), made with
 * the machine's `openssl`: a certificate authority, the broker's certificate for 127.0.0.1 and localhost, and a
 * client certificate for mutual TLS — PEM files, keys unencrypted PKCS#8, valid for two days.
 *
 *   const ca = await makeCertificateAuthority(dir, 'test-ca');
 *   const broker = await issueCertificate(ca, dir, 'broker', { serverNames: ['127.0.0.1', 'localhost'] });
 *   const client = await issueCertificate(ca, dir, 'client');
 */
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** A certificate and its private key, as files and as PEM text. */
export interface Certificate {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

const DAYS = '2';

/** Runs openssl; throws its output when it fails. */
async function openssl(args: string[]): Promise<void> {
  await promisify(execFile)('openssl', args, { timeout: 60_000 }).catch((error: Error & { stderr?: string }) => {
    throw new Error(`openssl ${args[0]} failed: ${error.message} ${error.stderr ?? ''}`);
  });
}

/** Reads the PEM texts of a certificate written as `<dir>/<name>.pem` and `<dir>/<name>.key`. */
async function loaded(dir: string, name: string): Promise<Certificate> {
  const [certFile, keyFile] = [join(dir, `${name}.pem`), join(dir, `${name}.key`)];
  return {
    certFile,
    keyFile,
    certPem: await readFile(certFile, 'utf8'),
    keyPem: await readFile(keyFile, 'utf8'),
  };
}

/** A self-signed certificate authority `<dir>/<name>.pem` (its key `<dir>/<name>.key`). */
export async function makeCertificateAuthority(dir: string, name: string): Promise<Certificate> {
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    DAYS,
    '-subj',
    `/CN=${name}`,
    '-keyout',
    join(dir, `${name}.key`),
    '-out',
    join(dir, `${name}.pem`),
  ]);
  return loaded(dir, name);
}

/**
 * A certificate `<dir>/<name>.pem` signed by `ca`, for a server answering to `serverNames` (IP addresses or DNS names,
 * in its subjectAltName) or, without them, for a client (its common name is `name`).
 */
export async function issueCertificate(
  ca: Certificate,
  dir: string,
  name: string,
  options: { serverNames?: string[] } = {}
): Promise<Certificate> {
  const request = join(dir, `${name}.csr`);
  const extensions = join(dir, `${name}.ext`);
  const names = (options.serverNames ?? []).map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`));
  await writeFile(
    extensions,
    names.length ? `subjectAltName=${names.join(',')}\nextendedKeyUsage=serverAuth\n` : 'extendedKeyUsage=clientAuth\n'
  );
  await openssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    join(dir, `${name}.key`),
    '-out',
    request,
  ]);
  await openssl([
    'x509',
    '-req',
    '-in',
    request,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-CAcreateserial',
    '-days',
    DAYS,
    '-extfile',
    extensions,
    '-out',
    join(dir, `${name}.pem`),
  ]);
  await rm(request);
  await rm(extensions);
  return loaded(dir, name);
}
