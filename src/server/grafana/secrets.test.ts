import { mapError } from './errors';
import { formatLogLine } from './logger';
import { REDACTED, redactSecrets, registerSecret } from './secrets';

const USER = 'monitor';
const PASSWORD = 'Pa55:w/rd@%+é x';

/** Every form of the password a driver, server or proxy message was seen to carry. */
const FORMS = {
  literal: PASSWORD,
  encodeURIComponent: encodeURIComponent(PASSWORD),
  'lower-case hex': encodeURIComponent(PASSWORD).replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()),
  'query string (+ for space)': new URLSearchParams({ p: PASSWORD }).toString().slice(2),
  'URL userinfo': new URL(`http://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:8123/`).password,
  'Basic credentials': Buffer.from(`${USER}:${PASSWORD}`).toString('base64'),
  'Basic credentials, URL-safe': Buffer.from(`${USER}:${PASSWORD}`).toString('base64url'),
};

beforeAll(() => registerSecret(PASSWORD, USER));

describe('the exits of the process redact every form of a registered password', () => {
  it.each(Object.entries(FORMS))('%s, in errors and in log lines', (_form, text) => {
    const message = `Code: 516. DB::Exception: request with ${text} refused`;
    expect(mapError(new Error(message)).message).not.toContain(text);
    expect(mapError(new Error(message)).message).toContain(REDACTED);
    const line = formatLogLine('error', message, { error: new Error(message), detail: { nested: message } });
    expect(line).not.toContain(text);
    expect(JSON.parse(line)['@message']).toContain(REDACTED);
  });

  it('removes credentials by their place even when nobody registered them', () => {
    const text =
      'cannot reach http://someone:hunter2%21@db:8123/?user=someone&password=hunter2 ' +
      '(Authorization: Basic c29tZW9uZTpodW50ZXIy, Bearer abc.def-ghi)';
    const redacted = redactSecrets(text);
    expect(redacted).not.toMatch(/hunter2|c29tZW9uZTpodW50ZXIy|abc\.def-ghi/);
    expect(redacted).toContain(`http://someone:${REDACTED}@db:8123/`);
  });

  it('leaves texts without secrets alone', () => {
    const text = 'ClickHouse at http://127.0.0.1:8123 (database mlmon, user monitor) has no model "credit"';
    expect(redactSecrets(text)).toBe(text);
  });
});
