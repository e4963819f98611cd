import { tableFromIPC, Type } from 'apache-arrow';
import { encodeFrame, millisToNanos, validateFrame, type Frame } from './frames';

const sample: Frame = {
  name: 'drift income',
  meta: { type: 'timeseries-multi', typeVersion: [0, 1], custom: { metric: 'psi' }, executedQueryString: 'SELECT 1' },
  fields: [
    { name: 'time', type: 'time', values: [1_700_000_000_000, 1_700_000_060_000.5] },
    {
      name: 'value',
      type: 'number',
      nullable: true,
      values: [0.25, null],
      labels: { model: 'credit', feature: 'income' },
      config: {
        unit: 'none',
        thresholds: {
          mode: 'absolute',
          steps: [
            { value: null, color: 'green' },
            { value: 0.2, color: 'red' },
          ],
        },
      },
    },
    { name: 'count', type: 'int64', values: [BigInt('9007199254740993'), 3] },
    { name: 'note', type: 'string', nullable: true, values: ['é', null] },
    { name: 'ok', type: 'boolean', values: [true, false] },
  ],
};

describe('encodeFrame', () => {
  const bytes = encodeFrame(sample, 'A');
  const table = tableFromIPC(bytes);

  it('writes the Arrow IPC file format (magic at both ends), which is what the Go SDK reads', () => {
    const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
    expect(text(bytes.slice(0, 6))).toBe('ARROW1');
    expect(text(bytes.slice(-6))).toBe('ARROW1');
  });

  it('puts name, refId and meta JSON on the schema', () => {
    expect(table.schema.metadata.get('name')).toBe('drift income');
    expect(table.schema.metadata.get('refId')).toBe('A');
    expect(JSON.parse(table.schema.metadata.get('meta')!)).toEqual(sample.meta);
  });

  it('uses explicit types: non-null ns timestamps, Float64, Int64, plain Utf8 (not dictionary), Bool', () => {
    const fields = table.schema.fields;
    expect(fields.map((f) => f.typeId)).toEqual([Type.Timestamp, Type.Float, Type.Int, Type.Utf8, Type.Bool]);
    expect(fields.map((f) => String(f.type))).toEqual(['Timestamp<NANOSECOND>', 'Float64', 'Int64', 'Utf8', 'Bool']);
    expect(fields.map((f) => f.nullable)).toEqual([false, true, false, true, false]);
    expect(fields.map((f) => f.metadata.get('tstype'))).toEqual(['time', 'number', 'number', 'string', 'boolean']);
  });

  it('stores times as exact epoch nanoseconds', () => {
    const time = table.getChild('time')!.data[0].values as BigInt64Array;
    expect(Array.from(time)).toEqual([BigInt('1700000000000000000'), BigInt('1700000060000500000')]);
  });

  it('round-trips values, nulls, labels and config', () => {
    expect(table.getChild('value')!.toArray()[0]).toBe(0.25);
    expect(table.getChild('value')!.get(1)).toBeNull();
    expect(table.getChild('count')!.get(0)).toBe(BigInt('9007199254740993'));
    expect(table.getChild('note')!.get(0)).toBe('é');
    expect(table.getChild('note')!.get(1)).toBeNull();
    expect([table.getChild('ok')!.get(0), table.getChild('ok')!.get(1)]).toEqual([true, false]);
    const value = table.schema.fields[1];
    expect(JSON.parse(value.metadata.get('labels')!)).toEqual({ model: 'credit', feature: 'income' });
    expect(JSON.parse(value.metadata.get('config')!).thresholds.steps[1]).toEqual({ value: 0.2, color: 'red' });
  });

  it('encodes a frame without fields (the data-plane "no data" answer)', () => {
    const empty = tableFromIPC(
      encodeFrame({ name: 'none', meta: { type: 'numeric-long', typeVersion: [0, 1] }, fields: [] }, 'B')
    );
    expect(empty.numCols).toBe(0);
    expect(empty.schema.metadata.get('refId')).toBe('B');
  });
});

describe('validateFrame', () => {
  const base = (fields: Frame['fields'], meta?: Frame['meta']): Frame => ({ name: 'f', meta, fields });

  it.each([
    [
      'columns of different lengths',
      base([
        { name: 'a', type: 'number', values: [1] },
        { name: 'b', type: 'number', values: [1, 2] },
      ]),
      /1 rows/,
    ],
    [
      'a null in a field not declared nullable',
      base([{ name: 'a', type: 'number', values: [null] }]),
      /not declared nullable/,
    ],
    ['a null time', base([{ name: 't', type: 'time', values: [NaN] }]), /not a valid time/],
    [
      'a string in a number field',
      base([{ name: 'a', type: 'number', values: ['1' as unknown as number] }]),
      /not a valid number/,
    ],
    [
      'an unsafe integer given as a number',
      base([{ name: 'a', type: 'int64', values: [2 ** 60] }]),
      /not a valid int64/,
    ],
    [
      'a non-string label',
      base([{ name: 'a', type: 'number', values: [1], labels: { n: 1 as unknown as string } }]),
      /must be a string/,
    ],
    [
      'a duplicated series',
      base([
        { name: 'a', type: 'number', values: [1] },
        { name: 'a', type: 'number', values: [2] },
      ]),
      /twice/,
    ],
    [
      'a wrong typeVersion',
      base([], { type: 'numeric-long', typeVersion: [0, -1] as [number, number] }),
      /typeVersion/,
    ],
    [
      'descending times in a time series',
      base([{ name: 't', type: 'time', values: [2, 1] }], { type: 'timeseries-multi' }),
      /ascend/,
    ],
    [
      'duplicate times in a multi series',
      base([{ name: 't', type: 'time', values: [1, 1] }], { type: 'timeseries-multi' }),
      /without duplicates/,
    ],
    [
      'a time series without time',
      base([{ name: 'v', type: 'number', values: [1] }], { type: 'timeseries-multi' }),
      /needs a time field/,
    ],
  ])('rejects %s', (_what, frame, message) => {
    expect(() => validateFrame(frame)).toThrow(message);
    expect(() => encodeFrame(frame, 'A')).toThrow(message);
  });

  it('accepts duplicate times in the long format', () => {
    expect(() =>
      validateFrame(base([{ name: 't', type: 'time', values: [1, 1] }], { type: 'timeseries-long' }))
    ).not.toThrow();
  });
});

describe('millisToNanos', () => {
  it('is exact beyond 2^53 nanoseconds, also for sub-millisecond parts', () => {
    expect(millisToNanos(1_764_000_000_123)).toBe(BigInt('1764000000123000000'));
    expect(millisToNanos(0.000001)).toBe(BigInt(1));
    expect(millisToNanos(-1)).toBe(BigInt(-1_000_000));
  });
});
