import { InputError } from '../files/input-error';
import type { FileColumn, StoredKind, TableFile } from '../files/table-file';
import { planFeatures } from './report-plan';

const SQL_TYPE: Record<StoredKind, string> = { number: 'DOUBLE', text: 'VARCHAR', boolean: 'BOOLEAN', other: 'DATE' };

function file(path: string, columns: Record<string, StoredKind>): TableFile {
  const described: FileColumn[] = Object.entries(columns).map(([name, kind]) => ({
    name,
    kind,
    sqlType: SQL_TYPE[kind],
  }));
  return { path, table: '"t"', rows: 10, columns: described };
}

const none = { categorical: [], numeric: [] };

describe('planFeatures', () => {
  const reference = file('ref.csv', {
    x: 'number',
    city: 'text',
    ok: 'boolean',
    day: 'other',
    mixed: 'number',
    gone: 'number',
  });
  const current = file('cur.csv', {
    x: 'number',
    city: 'text',
    ok: 'boolean',
    day: 'other',
    mixed: 'text',
    fresh: 'text',
  });

  it('compares shared columns by type and lists the skipped ones with the reason', () => {
    const plan = planFeatures(reference, current, none);
    expect(plan.features.map((f) => [f.name, f.kind, f.forced])).toEqual([
      ['x', 'numeric', false],
      ['city', 'categorical', false],
      ['ok', 'categorical', false],
      ['mixed', 'numeric', false],
    ]);
    expect(plan.skipped).toEqual([
      {
        name: 'day',
        reason: 'DATE in ref.csv is neither number nor text; give --categorical day to compare it as categories',
      },
      { name: 'gone', reason: 'only in ref.csv' },
      { name: 'fresh', reason: 'only in cur.csv' },
    ]);
  });

  it('applies --categorical and --numeric', () => {
    const plan = planFeatures(reference, current, { categorical: ['x', 'day'], numeric: ['city'] });
    expect(plan.features.map((f) => [f.name, f.kind, f.forced])).toEqual([
      ['x', 'categorical', true],
      ['city', 'numeric', true],
      ['ok', 'categorical', false],
      ['day', 'categorical', true],
      ['mixed', 'numeric', false],
    ]);
  });

  it('refuses overrides naming a column a file lacks, or numbers on a date column', () => {
    expect(() => planFeatures(reference, current, { categorical: ['fresh'], numeric: [] })).toThrow(
      new InputError('ref.csv: no column "fresh" (given to --categorical); columns are x, city, ok, day, mixed, gone')
    );
    expect(() => planFeatures(reference, current, { categorical: [], numeric: ['day'] })).toThrow(
      'ref.csv: column "day" is DATE, which cannot be compared as numbers; remove it from --numeric'
    );
  });

  it('leaves out --exclude columns and, unless named in an override, id and time columns', () => {
    const withIds = (path: string) =>
      file(path, { id: 'text', ts: 'other', timestamp: 'number', x: 'number', y: 'text' });
    const plan = planFeatures(withIds('ref.csv'), withIds('cur.csv'), { ...none, exclude: ['y'] });
    expect(plan.features.map((f) => f.name)).toEqual(['x']);
    const idOrTime = 'an id or time column, not compared (name it in --numeric or --categorical to compare it)';
    expect(plan.skipped).toEqual([
      { name: 'id', reason: idOrTime },
      { name: 'ts', reason: idOrTime },
      { name: 'timestamp', reason: idOrTime },
      { name: 'y', reason: 'excluded by --exclude' },
    ]);
    const named = planFeatures(withIds('ref.csv'), withIds('cur.csv'), { categorical: ['id'], numeric: ['timestamp'] });
    expect(named.features.map((f) => [f.name, f.kind])).toEqual([
      ['id', 'categorical'],
      ['timestamp', 'numeric'],
      ['x', 'numeric'],
      ['y', 'categorical'],
    ]);
    expect(() => planFeatures(reference, current, { ...none, exclude: ['nope'] })).toThrow(
      new InputError('--exclude nope: no such column in ref.csv or cur.csv; columns are x, city, ok, day, mixed, gone')
    );
    expect(() => planFeatures(reference, current, { categorical: ['x'], numeric: [], exclude: ['x'] })).toThrow(
      "column 'x' is given to --exclude and to --categorical or --numeric; choose one"
    );
  });

  it('refuses files without a shared comparable column', () => {
    expect(() => planFeatures(file('a.csv', { p: 'number' }), file('b.csv', { q: 'number' }), none)).toThrow(
      new InputError('a.csv and b.csv: no column to compare (reference has p; current has q)')
    );
  });
});
