import { createLogger, formatLogLine, redirectConsole } from './logger';

describe('logger', () => {
  it('writes hclog-style JSON lines without @timestamp', () => {
    const line = formatLogLine('warn', 'slow query', {
      refId: 'A',
      ms: 12,
      error: new Error('boom'),
      '@timestamp': 'x',
    });
    expect(line.endsWith('\n')).toBe(true);
    expect(JSON.parse(line)).toEqual({ '@level': 'warn', '@message': 'slow query', refId: 'A', ms: 12, error: 'boom' });
  });

  it('adds the fields of `with` to every line', () => {
    const lines: string[] = [];
    createLogger((l) => lines.push(l))
      .with({ uid: 'ds1' })
      .info('ready', { n: BigInt(3) });
    expect(JSON.parse(lines[0])).toEqual({ '@level': 'info', '@message': 'ready', uid: 'ds1', n: '3' });
  });

  it('sends console output to the logger instead of stdout', () => {
    const lines: string[] = [];
    const saved = { ...console };
    try {
      redirectConsole(createLogger((l) => lines.push(l)));
      console.log('hello', { a: 1 });
      console.error('bad');
    } finally {
      Object.assign(console, saved);
    }
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { '@level': 'info', '@message': 'hello { a: 1 }' },
      { '@level': 'error', '@message': 'bad' },
    ]);
  });
});
