/**
 * Frame JSON as the Go SDK writes it for Grafana Live (data/frame_json.go): schema once, then data alone; NaN and
 * ±Inf as entities, sub-millisecond times in nanos.
 */
import { FrameJsonSender } from './frameJson';
import type { Frame } from './frames';

const frame = (values: Array<number | null>, label = 'p95'): Frame => ({
  name: 'latency',
  meta: { type: 'timeseries-multi', typeVersion: [0, 1] },
  fields: [
    { name: 'time', type: 'time', values: values.map((_, i) => 1_700_000_000_000 + i * 1000) },
    { name: 'value', type: 'number', nullable: true, labels: { metric: label }, config: { unit: 'ms' }, values },
    { name: 'note', type: 'string', values: values.map(() => 'ok') },
  ],
});

describe('FrameJsonSender', () => {
  it('sends the schema with the first frame and when it changes, data alone otherwise', () => {
    const sender = new FrameJsonSender('A');
    const first = JSON.parse(sender.packet(frame([1, 2])));
    expect(first.schema).toEqual({
      name: 'latency',
      refId: 'A',
      meta: { type: 'timeseries-multi', typeVersion: [0, 1] },
      fields: [
        { name: 'time', type: 'time', typeInfo: { frame: 'time.Time' } },
        {
          name: 'value',
          type: 'number',
          typeInfo: { frame: 'float64', nullable: true },
          labels: { metric: 'p95' },
          config: { unit: 'ms' },
        },
        { name: 'note', type: 'string', typeInfo: { frame: 'string' } },
      ],
    });
    expect(first.data).toEqual({
      values: [
        [1_700_000_000_000, 1_700_000_001_000],
        [1, 2],
        ['ok', 'ok'],
      ],
    });
    const second = JSON.parse(sender.packet(frame([1, 2, 3])));
    expect(second.schema).toBeUndefined();
    expect(second.data.values[1]).toEqual([1, 2, 3]);
    const relabelled = JSON.parse(sender.packet(frame([4], 'p99')));
    expect(relabelled.schema.fields[1].labels).toEqual({ metric: 'p99' });
  });

  it('writes NaN and ±Inf as null with their rows in entities, and sub-millisecond times in nanos', () => {
    const special = frame([NaN, Infinity, -Infinity, null, 5]);
    (special.fields[0].values as number[])[1] += 0.25;
    const packet = JSON.parse(new FrameJsonSender('A').packet(special));
    expect(packet.data.values[1]).toEqual([null, null, null, null, 5]);
    expect(packet.data.entities).toEqual([null, { NaN: [0], Inf: [1], NegInf: [2] }, null]);
    expect(packet.data.nanos).toEqual([[0, 250_000, 0, 0, 0], null, null]);
    expect(packet.data.values[0][1]).toBe(1_700_000_001_000);
  });

  it('refuses a frame the Arrow path would refuse (checked the same way)', () => {
    const broken = frame([1, 2]);
    broken.fields[1].values.pop();
    expect(() => new FrameJsonSender('A').packet(broken)).toThrow(/has 1 values but the frame has 2 rows/);
  });
});
