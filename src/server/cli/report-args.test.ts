import { InputError } from '../files/input-error';
import { parseReportArgs, wantsHelp } from './report-args';

const base = ['--reference', 'r.csv', '--current', 'c.parquet'];

describe('parseReportArgs', () => {
  it('applies the defaults', () => {
    expect(parseReportArgs(base)).toEqual({
      reference: 'r.csv',
      current: 'c.parquet',
      bins: 10,
      categorical: [],
      numeric: [],
      exclude: [],
      format: 'table',
      failOn: undefined,
    });
  });

  it('reads every option, in both --flag value and --flag=value forms, lists by comma or repetition', () => {
    const options = parseReportArgs([
      ...base,
      '--bins=20',
      '--categorical',
      'a,b',
      '--categorical',
      'c',
      '--numeric=d',
      '--exclude',
      'id,e',
      '--exclude=f',
      '--format',
      'json',
      '--fail-on',
      'critical',
    ]);
    expect(options).toMatchObject({
      bins: 20,
      categorical: ['a', 'b', 'c'],
      numeric: ['d'],
      exclude: ['id', 'e', 'f'],
      format: 'json',
      failOn: 'critical',
    });
  });

  it.each([
    [['--bins', '1'], '--bins 1: not a valid bin count; use a whole number from 2 to 100'],
    [['--bins', '101'], '--bins 101: not a valid bin count; use a whole number from 2 to 100'],
    [['--bins', '2.5'], '--bins 2.5: not a valid bin count; use a whole number from 2 to 100'],
    [['--format', 'xml'], '--format xml: not a valid value; use one of table, json'],
    [['--fail-on', 'info'], '--fail-on info: not a valid value; use one of warning, critical'],
    [['--categorical', 'a,,b'], "--categorical: empty column name in 'a,,b'; give names separated by commas"],
    [['--categorical', 'a', '--numeric', 'a'], "column 'a' is given to both --categorical and --numeric; choose one"],
    [['--colour'], "Unknown option '--colour'"],
    [['extra.csv'], "Unexpected argument 'extra.csv'"],
  ])('refuses %j with a one-line message naming the flag', (extra, message) => {
    const parse = () => parseReportArgs([...base, ...extra]);
    expect(parse).toThrow(InputError);
    expect(parse).toThrow(message);
    try {
      parse();
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('requires both files', () => {
    expect(() => parseReportArgs(['--reference', 'r.csv'])).toThrow(
      "--current FILE is required; run 'mlmon report --help' for usage"
    );
    expect(() => parseReportArgs(['--current', 'c.csv'])).toThrow('--reference FILE is required');
  });

  it('recognises a request for help anywhere', () => {
    expect(wantsHelp(['--bins', '3', '--help'])).toBe(true);
    expect(wantsHelp(['-h'])).toBe(true);
    expect(wantsHelp(base)).toBe(false);
  });
});
