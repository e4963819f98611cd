/**
 * The Feature drift dashboard's custom panels, drawn in headless Chromium from the frames the real query handlers
 * return for the demo's credit_risk fortnight (`mlmon simulate` into a temporary directory, `mlmon maintain`), with
 * the dashboard's own queries: the severity heatmap over the 14 days and the distribution overlay of the last three.
 * Checks what the incidents should look like, and writes the screenshots the README shows to test-results/panels/
 * (and to $MLMON_SCREENSHOTS_DIR when set: `MLMON_SCREENSHOTS_DIR=docs/img npx jest test/panels/dashboard-panels`).
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FrameLike } from '../../src/core/query/frames';
import { parseQuery } from '../../src/core/query/queryTypes';
import { createInstance, type DatasourceInstance } from '../../src/server/backend/instances';
import { openStore } from '../../src/server/backend/openStore';
import { localInstanceSettings, parseSettings } from '../../src/server/backend/settings';
import type { Page } from 'playwright-core';
import { compareQuery } from '../../src/server/queries/compare';
import { distributionQuery } from '../../src/server/queries/distribution';
import { performanceQuery } from '../../src/server/queries/performance';
import { EmbeddedStore } from '../../src/server/store/embedded';
import type { HarnessCase } from '../../tests/panels/harness';
import { COMPARE_RANGE, compareTraffic, writeCompareTraffic } from '../queries/compare-traffic';
import { severityQuery } from '../../src/server/queries/severity';
import { openPanelBrowser, SCREENSHOT_DIR, type PanelBrowser } from '../../tests/panels/browser';

jest.setTimeout(180_000);

const ROOT = resolve(__dirname, '..', '..');
const END = Date.parse('2026-03-15T00:00:00Z');
const DAY = 86_400_000;

let dir: string;
let instance: DatasourceInstance;
let browser: PanelBrowser;

/** The Feature drift dashboard's panel with id `id`: its options and first query. */
async function dashboardPanel(id: number) {
  const dashboard = JSON.parse(await readFile(join(ROOT, 'src', 'dashboards', 'feature-drift.json'), 'utf8'));
  return dashboard.panels.find((panel: { id: number }) => panel.id === id) as {
    options: Record<string, unknown>;
    targets: Array<Record<string, unknown>>;
  };
}

/** The panel's query with the dashboard's variables set for credit_risk (empty: all features, no segment). */
function asSent(target: Record<string, unknown>, features: string[] = []) {
  const { datasource: _datasource, segment: _segment, version: _version, baseline: _baseline, ...rest } = target;
  return parseQuery({ ...rest, model: 'credit_risk', bucket: '1d', features });
}

const run = <T>(handler: (request: never) => Promise<FrameLike[]>, query: T, range: { from: number; to: number }) =>
  handler({
    query,
    range,
    intervalMs: DAY,
    maxDataPoints: 1000,
    instance,
    signal: AbortSignal.timeout(60_000),
  } as never);

async function keep(name: string) {
  if (process.env.MLMON_SCREENSHOTS_DIR) {
    await mkdir(process.env.MLMON_SCREENSHOTS_DIR, { recursive: true });
    await copyFile(join(SCREENSHOT_DIR, `${name}.png`), join(process.env.MLMON_SCREENSHOTS_DIR, `${name}.png`));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlmon-dashboard-panels-'));
  for (const args of [
    ['simulate', '--models', 'credit_risk', '--data-dir', dir, '--end', new Date(END).toISOString()],
    ['maintain', '--data-dir', dir],
  ]) {
    const result = spawnSync(process.execPath, [join(ROOT, 'bin', 'mlmon.js'), ...args], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (result.status !== 0) {
      throw new Error(`mlmon ${args[0]} failed: ${result.stderr}`);
    }
  }
  instance = createInstance(
    parseSettings(localInstanceSettings({ storeKind: 'embedded', dataDirectory: dir }, {}, 'screenshots')),
    openStore
  );
  browser = await openPanelBrowser();
});

afterAll(async () => {
  await browser?.close();
  await instance?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('Feature drift dashboard on the demo fortnight', () => {
  it('heatmap: the incidents in red and orange, the stable features never above info', async () => {
    const panel = await dashboardPanel(1);
    const frames = await run(severityQuery, asSent(panel.targets[0]), { from: END - 14 * DAY, to: END });
    const page = await browser.show('demo-severity-heatmap', {
      panel: 'severity',
      width: 1200,
      height: 430,
      options: panel.options,
      series: frames,
      variables: {
        datasource: 'mlmon',
        version: '',
        baseline: '',
        segment_column: '',
        segment_value: '',
        bucket: '1d',
      },
    });
    await keep('demo-severity-heatmap');
    const cells = await page.$$eval('[data-testid="mlmon-cell"]', (rects) =>
      rects.map((r) => ({ feature: r.getAttribute('data-feature')!, level: r.getAttribute('data-level')! }))
    );
    expect(cells).toHaveLength(15 * 14);
    const worst = (feature: string) =>
      Math.max(...cells.filter((c) => c.feature === feature).map((c) => Number(c.level) || 0));
    for (const feature of ['debt_to_income', 'utilization', 'credit_score', 'loan_purpose']) {
      expect(worst(feature)).toBe(3);
    }
    for (const feature of ['age', 'income', 'loan_amount', 'region', 'channel', 'employment_type', 'months_employed']) {
      expect(worst(feature)).toBeLessThanOrEqual(1);
    }
    // A cell links to this dashboard on that feature and day.
    const href = await page.locator('[data-testid="mlmon-cell-link"]').first().getAttribute('href');
    expect(href).toMatch(
      /^\/d\/mlmon-feature-drift\?var-datasource=mlmon&var-model=credit_risk&var-feature=[a-z_]+&.*from=\d+&to=\d+$/
    );
  });

  it('distribution: credit_score 40 points down and loan_purpose with crypto, both critical over the last three days', async () => {
    const panel = await dashboardPanel(2);
    const frames = await run(
      distributionQuery,
      asSent(panel.targets[0], ['credit_score', 'debt_to_income', 'loan_purpose']),
      {
        from: END - 3 * DAY,
        to: END,
      }
    );
    /** The panel on one feature, kept as `demo-distribution-<feature>.png`. */
    const show = async (feature: string) => {
      const name = `demo-distribution-${feature.replace(/_/g, '-')}`;
      const shown = await browser.show(name, {
        panel: 'distribution',
        width: 900,
        height: 430,
        options: { ...panel.options, feature },
        series: frames,
      });
      await keep(name);
      return shown;
    };
    const page = await show('credit_score');
    expect(await page.getByTestId('mlmon-severity-badge').textContent()).toBe('Critical');
    expect(await page.locator('[data-testid="mlmon-bar-current"]').count()).toBe(10);
    const categories = await show('loan_purpose');
    // The new category `crypto`, which the baseline never saw, gets a bar of its own.
    expect(await categories.locator('svg text', { hasText: 'crypto' }).count()).toBe(1);
    expect(await categories.getByTestId('mlmon-severity-badge').textContent()).toBe('Critical');
  });
});

/** A panel of a bundled dashboard by file and id. */
async function panelOf(file: string, id: number) {
  const dashboard = JSON.parse(await readFile(join(ROOT, 'src', 'dashboards', file), 'utf8'));
  return dashboard.panels.find((panel: { id: number }) => panel.id === id) as {
    title: string;
    fieldConfig: NonNullable<HarnessCase['fieldConfig']>;
    options: Record<string, unknown>;
    targets: Array<Record<string, unknown>>;
  };
}

/** The texts of the graph's legend (the series a reader sees). */
const legendOf = (page: Page) =>
  page.$$eval('[data-testid="mlmon-timeseries-panel"] button', (items) =>
    items.map((item) => (item.textContent ?? '').replace(/\s+/g, ' ').trim())
  );

describe('Estimated performance panel (model health, model overview) on the demo fortnight', () => {
  it('draws the estimate, its band and the realized accuracy of credit_risk', async () => {
    const range = { from: END - 14 * DAY, to: END };
    for (const [file, id] of [
      ['model-health.json', 10],
      ['model-overview.json', 15],
    ] as const) {
      const panel = await panelOf(file, id);
      const frames = await run(performanceQuery, asSent(panel.targets[0]), range);
      const [frame] = frames;
      const column = (name: string) => frame.fields.find((f) => f.name === name)!.values as Array<number | null>;
      column('value').forEach((estimate, i) => {
        expect(estimate).not.toBeNull();
        expect(column('lower')[i]!).toBeLessThanOrEqual(estimate!);
        expect(column('upper')[i]!).toBeGreaterThanOrEqual(estimate!);
      });
      expect(column('realized').filter((v) => v !== null).length).toBeGreaterThan(7);
      const name = `estimated-performance-${file.replace('.json', '')}`;
      const page = await browser.show(name, {
        panel: 'timeseries',
        width: 1000,
        height: 360,
        options: panel.options,
        fieldConfig: panel.fieldConfig,
        series: frames,
        range,
      });
      await keep(name);
      const legend = await legendOf(page);
      expect(legend).toEqual(expect.arrayContaining(['estimated', expect.stringMatching(/realized/)]));
      expect(legend.some((text) => /level|coverage|labelled|upper|lower/.test(text))).toBe(false);
    }
  });
});

describe('Champion vs challenger row (model overview) on shadow traffic', () => {
  let compareDir: string;
  let compareInstance: DatasourceInstance;
  beforeAll(async () => {
    compareDir = await mkdtemp(join(tmpdir(), 'mlmon-compare-panels-'));
    const store = await EmbeddedStore.open(compareDir);
    await writeCompareTraffic(store, compareTraffic());
    await store.close();
    compareInstance = createInstance(
      parseSettings(localInstanceSettings({ storeKind: 'embedded', dataDirectory: compareDir }, {}, 'compare')),
      openStore
    );
  });
  afterAll(async () => {
    await compareInstance?.dispose();
    await rm(compareDir, { recursive: true, force: true });
  });

  it.each([
    [11, ['js', 'psi'], ['JS distance', 'PSI']],
    [12, ['agreement'], ['agreement', 'agreement: pairs']],
    [
      13,
      ['accuracy champion', 'accuracy estimated champion', 'accuracy challenger', 'accuracy estimated challenger'],
      [
        'accuracy v1 (champion)',
        'accuracy estimated v1 (champion)',
        'accuracy v2 (challenger)',
        'accuracy estimated v2 (challenger)',
      ],
    ],
    [
      14,
      ['latency_p95 champion', 'error_rate champion', 'latency_p95 challenger', 'error_rate challenger'],
      [
        'latency p95 v1 (champion)',
        'error rate v1 (champion)',
        'latency p95 v2 (challenger)',
        'error rate v2 (challenger)',
      ],
    ],
  ])('panel %i draws %j for v1 vs v2', async (id, names, legendNames) => {
    const panel = await panelOf('model-overview.json', id);
    const { datasource: _datasource, ...target } = panel.targets[0];
    const query = parseQuery({ ...target, model: 'duel', champion: 'v1', challenger: 'v2', bucket: '1h' });
    const frames = await compareQuery({
      query: query as never,
      range: COMPARE_RANGE,
      intervalMs: 3_600_000,
      maxDataPoints: 1000,
      instance: compareInstance,
      signal: AbortSignal.timeout(60_000),
    });
    expect(frames.map((f) => f.name)).toEqual(names);
    const name = `compare-panel-${id}`;
    const page = await browser.show(name, {
      panel: 'timeseries',
      width: 800,
      height: 340,
      options: panel.options,
      fieldConfig: panel.fieldConfig,
      series: frames,
      range: COMPARE_RANGE,
    });
    await keep(name);
    const legend = await legendOf(page);
    expect([...legend].sort()).toEqual([...legendNames].sort()); // right-axis series are listed after the left ones
  });
});
