import { localName } from './clickhouse-cluster';
import { fittedName, ingestLedgerViewName, labelsTableName, predictionsTableName } from './clickhouse-names';
import { isIdentifier } from './identifiers';

const LONGEST = `M${'x'.repeat(63)}`;

describe('ClickHouse names derived from a model name', () => {
  it('keeps every name that fits in 64 characters, so existing tables keep their names', () => {
    const fits = 'a'.repeat(49); // ingested_hours_ + 49 = 64
    expect(predictionsTableName('shop')).toBe('predictions_shop');
    expect(labelsTableName('shop')).toBe('labels_shop');
    expect(ingestLedgerViewName(fits)).toBe(`ingested_hours_${fits}`);
    expect(localName(`predictions_${'b'.repeat(46)}`)).toBe(`predictions_${'b'.repeat(46)}_local`);
  });

  it('fits a longer name into 64 characters: a readable prefix, a hash of the whole name, the suffix', () => {
    const names = [predictionsTableName(LONGEST), ingestLedgerViewName(LONGEST), labelsTableName(LONGEST)];
    for (const name of [...names, ...names.map(localName)]) {
      expect(name).toHaveLength(64);
      expect(isIdentifier(name)).toBe(true);
    }
    expect(names[0]).toMatch(/^predictions_Mx{38}_[0-9a-f]{12}$/);
    expect(localName(names[0])).toMatch(/^predictions_Mx{32}_[0-9a-f]{12}_local$/);
    expect(fittedName(`t${'y'.repeat(70)}`, '_s')).toMatch(/^ty{48}_[0-9a-f]{12}_s$/);
  });

  it('gives names that differ anywhere, case included, different fitted names, and the same name each time', () => {
    const lower = LONGEST.toLowerCase();
    const sameStart = `${LONGEST.slice(0, 63)}y`;
    const fitted = [LONGEST, lower, sameStart].map(predictionsTableName);
    expect(new Set(fitted).size).toBe(3);
    expect(predictionsTableName(LONGEST)).toBe(fitted[0]);
    expect(new Set(fitted.map(localName)).size).toBe(3);
  });

  it('refuses a model name that is not an identifier', () => {
    expect(() => predictionsTableName(`${LONGEST}x`)).toThrow(/Invalid model name .*1-64 characters/);
    expect(() => predictionsTableName('a b')).toThrow(/Invalid model name/);
  });
});
