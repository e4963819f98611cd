/**
 * The secrets of the process (datasource passwords) and their removal from every text that leaves it. Errors
 * (errors.ts `mapError`), health messages (server.ts) and log lines (logger.ts) pass through `redactSecrets`, the one
 * place that knows the forms a password takes in a driver's or server's message:
 *
 * - as is, or percent-encoded in any mix (`%3A` or `:`, upper- or lower-case hex, `+` for a space), as URLs and
 *   query strings carry it;
 * - inside HTTP Basic credentials: base64 of `user:password`, standard or URL-safe alphabet, with or without padding;
 * - and, whether registered or not, a URL's userinfo password (`scheme://user:password@host`), a `password=` query
 *   parameter and the token of an `Authorization: Basic|Bearer` value.
 */

export const REDACTED = '[redacted]';

/** Patterns of the registered secrets, by the text they were made from (a secret registered twice is kept once). */
const registered = new Map<string, RegExp>();

/** Characters that have a meaning in a regular expression. */
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The pattern of one character: itself or its UTF-8 bytes percent-encoded (hex in either case); `+` for a space. */
function characterPattern(char: string): string {
  const encoded = [...Buffer.from(char, 'utf8')]
    .map(
      (byte) =>
        `%${byte
          .toString(16)
          .padStart(2, '0')
          .replace(/[a-f]/g, (h) => `[${h}${h.toUpperCase()}]`)}`
    )
    .join('');
  return `(?:${escapeRegExp(char)}|${encoded}${char === ' ' ? '|\\+' : ''})`;
}

/** Base64 of a text without padding, in the standard and the URL-safe alphabet. */
function base64Forms(text: string): string[] {
  const standard = Buffer.from(text, 'utf8').toString('base64').replace(/=+$/, '');
  return [standard, standard.replace(/\+/g, '-').replace(/\//g, '_')];
}

/**
 * Registers a password (and the user it goes with, for Basic credentials) so that `redactSecrets` removes it from
 * then on. Empty passwords are ignored.
 */
export function registerSecret(password: string, user = ''): void {
  if (password === '' || registered.has(`${user}\u0000${password}`)) {
    return;
  }
  const alternatives = [
    [...password].map(characterPattern).join(''),
    ...base64Forms(`${user}:${password}`).map((form) => `${escapeRegExp(form)}={0,2}`),
  ];
  registered.set(`${user}\u0000${password}`, new RegExp(alternatives.join('|'), 'g'));
}

/** Secrets that are recognised by their place, registered or not. */
const BY_PLACE: Array<[RegExp, string]> = [
  // scheme://user:password@host → scheme://user:[redacted]@host
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):[^\s/@]*@/gi, `$1:${REDACTED}@`],
  // ?password=… or &password=…
  [/([?&]password=)[^&#\s]*/gi, `$1${REDACTED}`],
  // Authorization: Basic xxx / Bearer xxx
  [/\b(Basic|Bearer)\s+[A-Za-z0-9+/_.~=-]{6,}/g, `$1 ${REDACTED}`],
];

/** The text with every registered secret, in every form above, and every credential by place replaced. */
export function redactSecrets(text: string): string {
  let result = text;
  for (const [pattern, replacement] of BY_PLACE) {
    result = result.replace(pattern, replacement);
  }
  for (const pattern of registered.values()) {
    result = result.replace(pattern, REDACTED);
  }
  return result;
}
