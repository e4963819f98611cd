import type { FieldLike } from '../../core/query/frames';
import { alertFieldFirst, LEVEL_THRESHOLDS } from './series';

const field = (name: string, type: FieldLike['type'] = 'number'): FieldLike => ({
  name,
  type,
  values: [1],
  config: {},
});
const names = (fields: FieldLike[]) => fields.map((f) => f.name);

describe('alertFieldFirst', () => {
  const drift = [field('time', 'time'), field('value'), field('noise_floor'), field('level'), field('count')];

  it('moves the chosen number right after the time field, keeping the others in order', () => {
    expect(names(alertFieldFirst(drift, 'level'))).toEqual(['time', 'level', 'value', 'noise_floor', 'count']);
    expect(names(alertFieldFirst(drift, 'noise_floor'))).toEqual(['time', 'noise_floor', 'value', 'level', 'count']);
  });

  it('gives a level moved first the level thresholds, and leaves the default order alone', () => {
    expect(alertFieldFirst(drift, 'level')[1].config.thresholds).toEqual(LEVEL_THRESHOLDS);
    expect(alertFieldFirst(drift, 'value')).toBe(drift);
    expect(alertFieldFirst(drift, undefined)).toBe(drift);
  });

  it('leaves a frame without the chosen field as it is (an unrated series has no level)', () => {
    const unrated = [field('time', 'time'), field('value'), field('count')];
    expect(alertFieldFirst(unrated, 'level')).toBe(unrated);
  });
});
