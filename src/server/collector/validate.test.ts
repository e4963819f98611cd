import { checkLabel, checkModelName, checkPrediction, parseTimestamp } from './validate';
import { bodyFormat, decodeBatch, BodyError } from './body';

const valid = {
  id: 'r1',
  ts: '2026-03-01T12:00:00Z',
  version: 'v1',
  features: { a: 1.5, b: 'x', c: true, d: null },
  prediction: 1,
};

test('timestamps: ISO 8601 with a zone, a date, or epoch milliseconds', () => {
  expect(parseTimestamp('2026-03-01T12:00:00Z')).toBe(Date.UTC(2026, 2, 1, 12));
  expect(parseTimestamp('2026-03-01T12:00:00.250+02:00')).toBe(Date.UTC(2026, 2, 1, 10, 0, 0, 250));
  expect(parseTimestamp('2026-03-01')).toBe(Date.UTC(2026, 2, 1));
  expect(parseTimestamp(1772366400000)).toBe(1772366400000);
  expect(parseTimestamp('2026-03-01T12:00:00')).toMatch(/time zone/);
  expect(parseTimestamp(1772366400)).toMatch(/multiplied by 1000/);
  expect(parseTimestamp('2026-02-30T00:00:00Z')).toMatch(/not a real date/);
  expect(parseTimestamp('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
  expect(parseTimestamp('yesterday')).toMatch(/ISO 8601/);
  expect(parseTimestamp(true)).toMatch(/not boolean/);
});

test('a valid prediction is normalised: snake_case latency, defaults, the sampling rate', () => {
  const checked = checkPrediction({ ...valid, latency_ms: 12, score: 0.9, extra: 'ignored' }, 0.5);
  expect(checked).toEqual({
    ok: true,
    record: {
      id: 'r1',
      ts: Date.UTC(2026, 2, 1, 12),
      version: 'v1',
      features: valid.features,
      prediction: 1,
      score: 0.9,
      latencyMs: 12,
      error: null,
      samplingRate: 0.5,
    },
  });
});

test.each([
  [{ ...valid, id: undefined }, 'missing_field', /"id" is missing/],
  [{ ...valid, id: 7 }, 'wrong_type', /"id" must be a string, not number/],
  [{ ...valid, id: '' }, 'invalid_value', /1 to 256/],
  [{ ...valid, ts: undefined }, 'missing_field', /"ts" is missing/],
  [{ ...valid, ts: [] }, 'wrong_type', /not array/],
  [{ ...valid, version: 'v 1' }, 'invalid_value', /Invalid model version/],
  [{ ...valid, features: [1] }, 'wrong_type', /"features" must be an object/],
  [{ ...valid, features: { 'x; DROP TABLE y': 1 } }, 'invalid_feature_name', /Invalid feature name/],
  [{ ...valid, features: { a: { nested: 1 } } }, 'wrong_type', /feature "a"/],
  [{ ...valid, features: { a: 'x'.repeat(5000) } }, 'invalid_value', /longer than 4096/],
  [{ ...valid, prediction: undefined }, 'missing_field', /"prediction" is missing/],
  [{ ...valid, prediction: [1] }, 'wrong_type', /"prediction"/],
  [{ ...valid, score: '0.5' }, 'wrong_type', /"score" must be a number or null/],
  [{ ...valid, latency_ms: -1 }, 'invalid_value', /negative/],
  [{ ...valid, error: 500 }, 'wrong_type', /"error"/],
  [null, 'not_an_object', /not null/],
])('prediction %# is refused with a reason', (record, code, reason) => {
  const checked = checkPrediction(record, 1);
  expect(checked.ok).toBe(false);
  if (!checked.ok) {
    expect(checked.rejection.code).toBe(code);
    expect(checked.rejection.reason).toMatch(reason);
  }
});

test('a feature object that looks like a rejection is still a feature object', () => {
  expect(checkPrediction({ ...valid, features: { code: 'x', reason: 'y' } }, 1).ok).toBe(true);
});

test('labels: number, boolean or string; time defaults to now', () => {
  expect(checkLabel({ id: 'a', label: true }, 5)).toEqual({ ok: true, record: { id: 'a', label: 1, ts: 5 } });
  expect(checkLabel({ id: 'a', label: 'fraud', ts: '2026-03-01T00:00:00Z' }, 5)).toEqual({
    ok: true,
    record: { id: 'a', label: 'fraud', ts: Date.UTC(2026, 2, 1) },
  });
  expect(checkLabel({ id: 'a', label: null }, 5)).toMatchObject({ ok: false, rejection: { code: 'wrong_type' } });
  expect(checkLabel({ id: 'a', label: 1, ts: 'soon' }, 5)).toMatchObject({
    ok: false,
    rejection: { code: 'invalid_value' },
  });
  expect(checkLabel({ label: 1 }, 5)).toMatchObject({ ok: false, rejection: { code: 'missing_field' } });
});

test('model names go through the store identifier validator', () => {
  expect(checkModelName('credit_risk')).toBeUndefined();
  expect(checkModelName('x; DROP TABLE y')).toMatch(/Invalid model name/);
  expect(checkModelName('../etc')).toMatch(/Invalid model name/);
});

test('bodies: content types, NDJSON lines, UTF-8 and batch length', () => {
  expect(bodyFormat('application/json; charset=utf-8')).toBe('json');
  expect(bodyFormat('Application/X-NDJSON')).toBe('ndjson');
  expect(() => bodyFormat('text/csv')).toThrow(/not supported/);
  expect(() => bodyFormat(undefined)).toThrow(/\(none\)/);
  expect(decodeBatch(Buffer.from('{"a":1}\n\nnot json\r\n{"b":2}\n'), 'ndjson', 10)).toEqual([
    { value: { a: 1 } },
    { invalidLine: 'not json', code: 'invalid_json', reason: expect.stringMatching(/not valid JSON/) },
    { value: { b: 2 } },
  ]);
  expect(() => decodeBatch(Buffer.from([0x5b, 0xc3, 0x28, 0x5d]), 'json', 10)).toThrow(/UTF-8/);
  const tooLong = (() => {
    try {
      decodeBatch(Buffer.from('[1,2,3]'), 'json', 2);
    } catch (err) {
      return err as BodyError;
    }
    return undefined;
  })();
  expect(tooLong).toMatchObject({ status: 413, code: 'batch_too_long' });
});
