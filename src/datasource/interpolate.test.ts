import { interpolateQuery } from './interpolate';
import type { DriftQuery } from '../core/query';

const variables: Record<string, string[]> = {
  model: ['churn'],
  features: ['age', 'plan'],
  version: ['v2'],
  country: ['FR'],
  segment_column: ['country'],
  empty: [''],
};

/** Grafana's replace for the cases used here: `$name` → the value, or the values joined by commas in csv format. */
const replace = (text: string, format?: string) =>
  text.replace(/\$(\w+)/g, (whole, name: string) => {
    const values = variables[name];
    return values ? (format === 'csv' ? values.join(',') : values[0]) : whole;
  });

describe('interpolateQuery', () => {
  it('replaces variables in the scope, expands multi-value features and keeps typed values', () => {
    const query: DriftQuery = {
      refId: 'A',
      queryType: 'drift',
      model: '$model',
      version: '$version',
      bucket: '1h',
      features: ['$features', 'income', 'age'],
      segment: [
        { column: 'country', operator: '=', value: '$country' },
        { column: 'score', operator: '>', value: 0.5 },
      ],
      metric: 'psi',
    };
    expect(interpolateQuery(query, replace)).toEqual({
      ...query,
      model: 'churn',
      version: 'v2',
      features: ['age', 'plan', 'income'],
      segment: [
        { column: 'country', operator: '=', value: 'FR' },
        { column: 'score', operator: '>', value: 0.5 },
      ],
    });
  });

  it('takes the segment column from a variable, and drops a condition left empty (a dashboard without a segment)', () => {
    const query: DriftQuery = {
      refId: 'A',
      queryType: 'drift',
      model: 'churn',
      segment: [{ column: '$segment_column', operator: '=', value: '$country' }],
    };
    expect(interpolateQuery(query, replace).segment).toEqual([{ column: 'country', operator: '=', value: 'FR' }]);
    const unset = { ...query, segment: [{ column: '$empty', operator: '=' as const, value: '$empty' }] };
    expect(interpolateQuery(unset, replace)).not.toHaveProperty('segment');
    const noValue = { ...query, segment: [{ column: '$segment_column', operator: '=' as const, value: '$empty' }] };
    expect(interpolateQuery(noValue, replace)).not.toHaveProperty('segment');
  });

  it('leaves a query without variables unchanged and does not mutate the input', () => {
    const query: DriftQuery = { refId: 'A', queryType: 'drift', model: 'fraud', features: ['amount'] };
    const copy = JSON.parse(JSON.stringify(query));
    expect(interpolateQuery(query, replace)).toEqual(copy);
    expect(query).toEqual(copy);
  });
});
