/**
 * The fast path of prediction lines against the slow path it stands for: for random and hostile NDJSON, every
 * item gets the same outcome (accepted, or refused with the same code and reason) as JSON.parse + checkPrediction,
 * and the accepted rows are the same columns as toPredictionColumns of the slow path's records.
 */
import * as fc from 'fast-check';
import { PredictionColumnsBuilder, toPredictionColumns } from '../store/prediction-columns';
import type { PredictionRecord } from '../store/types';
import { decodeBatch } from './body';
import { decodePredictions, type DecodedPredictions } from './prediction-lines';
import { checkPrediction } from './validate';

const SAMPLING_RATE = 0.5;

/** The slow path: each item's outcome, and the columns of the accepted records. */
function slowPath(body: Buffer) {
  const records: PredictionRecord[] = [];
  const outcomes = decodeBatch(body, 'ndjson', 10_000).map((item) => {
    if ('invalidLine' in item) {
      return { code: item.code, reason: item.reason };
    }
    const checked = checkPrediction(item.value, SAMPLING_RATE);
    if (!checked.ok) {
      return checked.rejection;
    }
    records.push(checked.record);
    return 'accepted';
  });
  return { outcomes, columns: toPredictionColumns(records) };
}

/** The fast path, with its slow items checked as the collector checks them; `fast`: the rows it took itself. */
function fastPath(body: Buffer) {
  const decoded: DecodedPredictions = decodePredictions(body, 'ndjson', 10_000, SAMPLING_RATE);
  const accepted: number[] = [];
  let fast = 0;
  const outcomes = decoded.items.map((item) => {
    if ('row' in item) {
      accepted.push(item.row);
      fast += 1;
      return 'accepted';
    }
    if ('invalidLine' in item) {
      return { code: item.code, reason: item.reason };
    }
    const checked = checkPrediction(item.value, SAMPLING_RATE);
    if (!checked.ok) {
      return checked.rejection;
    }
    accepted.push(decoded.rows.addRecord(checked.record));
    return 'accepted';
  });
  return { outcomes, columns: decoded.rows.take(accepted), fast };
}

function expectSameAsSlowPath(lines: string[]): number {
  const body = Buffer.from(lines.join('\n'));
  const fast = fastPath(body);
  const slow = slowPath(body);
  expect(fast.outcomes).toEqual(slow.outcomes);
  expect(fast.columns).toEqual(slow.columns);
  return fast.fast;
}

const NAMES = [
  'age',
  'Age',
  'income',
  'num_1',
  'num_10',
  'cat_0',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '1st',
  'has space',
  'é',
  'a'.repeat(62),
  'b'.repeat(63),
  'c'.repeat(64),
  '',
];

/** Text of a number in the forms JSON allows and some it does not. */
const numberText = fc.oneof(
  fc.double().map((x) => JSON.stringify(x)),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => x.toExponential()),
  fc.tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.nat(20)).map(([x, d]) => x.toFixed(d)),
  fc.integer().map(String),
  fc.bigInt({ min: -BigInt('1' + '0'.repeat(30)), max: BigInt('1' + '0'.repeat(30)) }).map(String),
  fc.constantFrom('-0', '0.0', '-0.0', '1E5', '1e+5', '2.5e-3', '1e400', '-1e400', '01', '1.', '.5', '-', '+1', '0x10'),
  fc.constantFrom('123456789012345', '1234567890123456', '0.1234567890123456789', '9007199254740993', '4.35'),
  fc.constantFrom('1772366400000', '1772366400000.4', '1772366400000.5', '177236640000e1', '1e11', '99999999999')
);

/** Text of a string: plain, Unicode, with escapes and control characters, long, or not closed. */
const stringText = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.string({ unit: 'grapheme', maxLength: 8 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('"a\\"b"', '"tab\\tx"', '"\\u0041"', '"raw\ttab"', '"\u0001"', '"x', '""', '"v1"', '"v 1"'),
  fc.constantFrom('"' + 'x'.repeat(4096) + '"', '"' + 'x'.repeat(4097) + '"', '"' + 'i'.repeat(257) + '"'),
  fc.constantFrom('"2026-03-01T12:00:00Z"', '"2026-02-30T00:00:00Z"', '"2026-03-01"', '"2026-03-01T12:00:00"')
);

const scalarText = fc.oneof(
  { weight: 4, arbitrary: numberText },
  { weight: 3, arbitrary: stringText },
  { weight: 1, arbitrary: fc.constantFrom('true', 'false', 'null', 'nul', 'True', '[]', '[1]', '{}', '{"a":1}') }
);

const space = fc.constantFrom('', '', '', ' ', '\t', '\r', '  ', '\u00a0', '\ufeff');

/** A `features` object's text: names from NAMES (repeats allowed), scalar values, sometimes nested ones. */
const featuresText = fc
  .array(fc.tuple(fc.constantFrom(...NAMES), scalarText, space), { maxLength: 8 })
  .map(
    (members) => `{${members.map(([name, value, ws]) => `${ws}${JSON.stringify(name)}${ws}:${ws}${value}`).join(',')}}`
  );

const FIELD_NAMES = [
  'id',
  'ts',
  'version',
  'features',
  'prediction',
  'score',
  'latency_ms',
  'error',
  'extra',
  'i\\u0064',
];

/** A line built member by member: usually the fields of a prediction, with wrong values, repeats and extras. */
const memberLine = fc
  .tuple(
    fc.string({ maxLength: 6 }),
    numberText,
    fc.constantFrom('"v1"', '"2024.06.1"', '"v 1"', '""', '1'),
    featuresText,
    fc.oneof(numberText, stringText, fc.constantFrom('null', 'true')),
    fc.option(fc.oneof(numberText, fc.constantFrom('null', '"0.5"')), { nil: undefined }),
    fc.option(fc.oneof(numberText, fc.constantFrom('null')), { nil: undefined }),
    fc.option(fc.oneof(stringText, fc.constantFrom('null', '3')), { nil: undefined }),
    fc.array(fc.tuple(fc.constantFrom(...FIELD_NAMES), scalarText), { maxLength: 2 }),
    fc.option(fc.nat(9), { nil: undefined }),
    space,
    fc.boolean()
  )
  .map(([id, ts, version, features, prediction, score, latency, error, extra, drop, ws, shuffle]) => {
    const members: Array<[string, string]> = [
      ['id', JSON.stringify(id)],
      ['ts', ts],
      ['version', version],
      ['features', features],
      ['prediction', prediction],
    ];
    if (score !== undefined) {
      members.push(['score', score]);
    }
    if (latency !== undefined) {
      members.push(['latency_ms', latency]);
    }
    if (error !== undefined) {
      members.push(['error', error]);
    }
    members.push(...extra);
    if (drop !== undefined && drop < members.length) {
      members.splice(drop, 1);
    }
    if (shuffle) {
      members.reverse();
    }
    return `${ws}{${members.map(([k, v]) => `${ws}"${k}"${ws}:${ws}${v}`).join(',')}}${ws}`;
  });

/** Valid records as clients send them (JSON.stringify), with features of several kinds. */
const validLine = fc
  .record({
    id: fc.string({ minLength: 1, maxLength: 20 }),
    ts: fc.oneof(fc.integer({ min: 1e11, max: 1e13 }), fc.constant('2026-03-01T12:00:00.250+02:00')),
    version: fc.constantFrom('v1', 'v2', '2024.06.1'),
    features: fc.dictionary(
      fc.constantFrom('a', 'b', 'num_0', 'num_1', 'cat_0', '_x'),
      fc.oneof(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.string({ maxLength: 5 }),
        fc.boolean(),
        fc.constant(null)
      )
    ),
    prediction: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string(), fc.constant(null)),
    score: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
    latency_ms: fc.option(fc.double({ min: 0, max: 1000, noNaN: true })),
    error: fc.option(fc.string({ maxLength: 5000 })),
  })
  .map((record) => JSON.stringify(record));

const junkLine = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.json(),
  fc.constantFrom('{', '}', '{"id":', '[[[[[[[[[[1]]]]]]]]]]')
);

test('random, hostile and valid lines: the same outcomes and columns as JSON.parse + checkPrediction', () => {
  let fastRows = 0;
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          { weight: 4, arbitrary: memberLine },
          { weight: 3, arbitrary: validLine },
          { weight: 1, arbitrary: junkLine }
        ),
        {
          maxLength: 12,
        }
      ),
      (lines) => {
        fastRows += expectSameAsSlowPath(lines);
      }
    ),
    { numRuns: 3000, seed: 20261207 }
  );
  expect(fastRows).toBeGreaterThan(3000); // the fast path took a good share of them: the property is not vacuous
});

test('the load generator form goes the fast way: every row, including numbers at the edges of the exact range', () => {
  const lines = Array.from(
    { length: 50 },
    (_, i) =>
      `{"id":"bench-0-1-${i}","ts":1772366400000,"version":"v1","features":{"num_0":${(i * 7919) % 1_000_000}.${i},` +
      `"num_1":0.000001,"num_2":-0,"num_3":123456789012345,"num_4":999999.999,"cat_0":"alpha"},"prediction":${i % 2},` +
      `"score":0.1234,"latency_ms":17}`
  );
  expect(expectSameAsSlowPath(lines)).toBe(50);
});

test('names the slow path treats specially are left to it: __proto__, repeats, case collisions, 62/63/64 chars', () => {
  const line = (features: string) =>
    `{"id":"r","ts":1772366400000,"version":"v1","features":${features},"prediction":1}`;
  expect(expectSameAsSlowPath([line('{"__proto__":1}')])).toBe(0);
  expect(expectSameAsSlowPath([line('{"a":1,"a":2}')])).toBe(0);
  expect(expectSameAsSlowPath([line('{"a":1,"b":2}'), line('{"b":1,"b":2}')])).toBe(1);
  expect(expectSameAsSlowPath([line(`{"${'a'.repeat(63)}":1}`)])).toBe(0);
  // Case collisions are the schema's business (FeatureAdmission, after parsing): both paths accept the record.
  expect(expectSameAsSlowPath([line('{"age":1,"Age":2}')])).toBe(1);
  expect(expectSameAsSlowPath([line(`{"${'a'.repeat(62)}":1,"constructor":"x"}`)])).toBe(1);
});

test('take() keeps only the features and shapes of the rows taken, in their order', () => {
  const builder = new PredictionColumnsBuilder(3);
  const record = (id: string, features: PredictionRecord['features']): PredictionRecord => ({
    id,
    ts: 1,
    version: 'v1',
    features,
    prediction: 1,
    score: null,
    latencyMs: null,
    error: null,
    samplingRate: 1,
  });
  builder.addRecord(record('a', { x: 1, dropped: 'only here' }));
  builder.addRecord(record('b', { y: 'text' }));
  builder.addRecord(record('c', { x: 2 }));
  const taken = builder.take([2, 1]);
  expect(taken).toEqual(toPredictionColumns([record('c', { x: 2 }), record('b', { y: 'text' })]));
  expect(taken.features.map((f) => f.name)).toEqual(['x', 'y']);
});
