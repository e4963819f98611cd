/**
 * The two panels rendered for real in headless Chromium (React 19, Grafana theme) from frames of the frame
 * contract; checks what is drawn (bars, curves, the KS gap, cells and their colours, readouts, links, tooltip) and
 * writes a screenshot of every case to test-results/panels/.
 */
import type { Page } from 'playwright-core';
import { openPanelBrowser, PanelBrowser } from '../../tests/panels/browser';
import {
  ageView,
  BUCKET_MS,
  BUCKETS,
  distributionFrames,
  planView,
  SEVERITY_FEATURES,
  severityFrames,
  severityLevelOf,
  START_MS,
} from '../../tests/panels/fixtures';
import type { HarnessCase } from '../../tests/panels/harness';
import { formatNumber } from '../../src/utils/format';

jest.setTimeout(60000);

let browser: PanelBrowser;
beforeAll(async () => {
  browser = await openPanelBrowser();
});
afterAll(async () => {
  await browser?.close();
});

const distribution = (options: Partial<HarnessCase['options']> = {}, rest: Partial<HarnessCase> = {}): HarnessCase => ({
  panel: 'distribution',
  width: 800,
  height: 420,
  options: { mode: 'histogram', barLayout: 'overlaid', feature: '', showReadouts: true, ...options },
  series: distributionFrames(),
  ...rest,
});

const severity = (options: Partial<HarnessCase['options']> = {}, rest: Partial<HarnessCase> = {}): HarnessCase => ({
  panel: 'severity',
  width: 900,
  height: 300,
  options: {
    sortBy: 'worst',
    drilldownUrl: '/d/mlmon-model-overview/x?var-model=$model&var-feature=${__feature}&from=${__from}&to=${__to}',
    showLegend: true,
    ...options,
  },
  series: severityFrames(),
  variables: { model: 'churn' },
  ...rest,
});

/** `#F2495C` → `rgb(242, 73, 92)`, as the browser reports computed colours (rgba() strings are kept). */
function rgb(hex: string): string {
  if (!hex.startsWith('#')) {
    return hex;
  }
  const value = parseInt(hex.slice(1), 16);
  return `rgb(${(value >> 16) & 255}, ${(value >> 8) & 255}, ${value & 255})`;
}

const themeColors = (page: Page) => page.evaluate(() => window.mlmonTheme);

async function boxes(page: Page, selector: string) {
  return page.$$eval(selector, (elements) =>
    elements.map((element) => {
      const box = element.getBoundingClientRect();
      return { x: box.x, y: box.y, width: box.width, height: box.height, fill: element.getAttribute('fill') };
    })
  );
}

describe('distribution panel', () => {
  it('draws baseline and current bars per reference-decile bin, with the readouts of the feature', async () => {
    const page = await browser.show('distribution-histogram', distribution());
    const colors = await themeColors(page);
    const baseline = await boxes(page, '[data-testid="mlmon-bar-baseline"]');
    const current = await boxes(page, '[data-testid="mlmon-bar-current"]');
    expect(baseline).toHaveLength(10);
    expect(current).toHaveLength(10);
    expect(new Set(baseline.map((bar) => bar.fill))).toEqual(new Set([colors.named.blue]));
    expect(new Set(current.map((bar) => bar.fill))).toEqual(new Set([colors.named.orange]));
    // Bar heights follow the proportions: current 16 % vs baseline 10 % in the last bin, 4 % in the first.
    expect(current[9].height / baseline[9].height).toBeCloseTo(1.6, 1);
    expect(current[0].height / baseline[0].height).toBeCloseTo(0.4, 1);
    // Bins are drawn left to right in order.
    expect(baseline.map((bar) => bar.x)).toEqual([...baseline.map((bar) => bar.x)].sort((a, b) => a - b));

    const readouts = ageView().readouts;
    await expectText(page, 'mlmon-readout-psi', `PSI ${formatNumber(readouts.psi)} (floor 0.0101)`);
    await expectText(page, 'mlmon-readout-jsDistance', `JS distance ${formatNumber(readouts.jsDistance)} (floor 0.05)`);
    await expectText(page, 'mlmon-readout-ks', 'KS D 0.17 (p=1.20e-30) (floor 0.037)');
    await expectText(page, 'mlmon-readout-wasserstein', 'Wasserstein (norm.) 0.31 (floor 0.06)');
    await expectText(page, 'mlmon-readout-counts', 'Rows baseline 10,000 · current 2,500, 12 missing');
    const badge = page.getByTestId('mlmon-severity-badge');
    expect(await badge.textContent()).toBe('Critical');
    expect(await badge.evaluate((element) => getComputedStyle(element).backgroundColor)).toBe(rgb(colors.named.red));
  });

  it('switches feature with the selector: categories and a chi-square readout for a categorical feature', async () => {
    const page = await browser.show('distribution-categorical', distribution());
    await page.getByLabel('plan').click();
    await page.screenshot({ path: 'test-results/panels/distribution-categorical.png' });
    expect(await page.locator('[data-testid="mlmon-bar-current"]').count()).toBe(4);
    expect(await page.locator('svg text', { hasText: 'new_tier' }).count()).toBe(1);
    await expectText(
      page,
      'mlmon-readout-chiSquare',
      `χ² ${formatNumber(planView().readouts.chiSquare!.statistic)} (dof 3, p=1.62e-65)`
    );
    expect(await page.getByTestId('mlmon-readout-ks').count()).toBe(0);
    expect(await page.getByTestId('mlmon-severity-badge').textContent()).toBe('Warning');
    await expectText(page, 'mlmon-readout-psi', `PSI ${formatNumber(planView().readouts.psi)} (floor 0.004)`);
  });

  it('puts bars side by side without overlap when asked, and starts on the feature of the options', async () => {
    const page = await browser.show(
      'distribution-side-by-side',
      distribution({ barLayout: 'side-by-side', feature: '$feature' }, { variables: { feature: 'plan' } })
    );
    const baseline = await boxes(page, '[data-testid="mlmon-bar-baseline"]');
    const current = await boxes(page, '[data-testid="mlmon-bar-current"]');
    expect(baseline).toHaveLength(4);
    baseline.forEach((bar, bin) => expect(bar.x + bar.width).toBeLessThanOrEqual(current[bin].x + 0.5));
  });

  it('draws both CDFs as step curves and marks the KS gap where the readout puts it', async () => {
    const page = await browser.show('distribution-cdf', distribution({ mode: 'cdf' }));
    const colors = await themeColors(page);
    expect(await page.getByTestId('mlmon-cdf-baseline').getAttribute('stroke')).toBe(colors.named.blue);
    expect(await page.getByTestId('mlmon-cdf-current').getAttribute('stroke')).toBe(colors.named.orange);
    const { ks } = ageView().readouts;
    expect(ks!.location).toBe(35);
    const [gap] = await boxes(page, '[data-testid="mlmon-ks-gap"]');
    const tick = await page.locator('svg text', { hasText: /^35$/ }).boundingBox();
    // The gap is a vertical segment at x = 35 (the tick of that edge) ...
    expect(Math.abs(gap.x + gap.width / 2 - (tick!.x + tick!.width / 2))).toBeLessThan(1.5);
    // ... whose length is D of the plot's height (0 % to 100 % grid lines).
    const grid = await page.$$eval('svg line', (lines) =>
      lines.filter((line) => line.getAttribute('x1') === '0').map((line) => line.getBoundingClientRect().y)
    );
    const plotHeight = Math.max(...grid) - Math.min(...grid);
    expect(gap.height / plotHeight).toBeCloseTo(ks!.statistic, 2);
    expect(await page.getByTestId('mlmon-ks-label').textContent()).toBe('D = 0.17');
  });

  it('says why it draws nothing: no data, other frames, or the query error', async () => {
    let page = await browser.show('distribution-no-data', distribution({}, { series: [] }));
    expect(await page.getByTestId('mlmon-panel-message').textContent()).toBe('No data');
    page = await browser.show('distribution-wrong-frames', distribution({}, { series: severityFrames() }));
    expect(await page.getByTestId('mlmon-panel-message').textContent()).toMatch(/Distribution query type/);
    page = await browser.show(
      'distribution-error',
      distribution({}, { errorMessage: 'model "churn" has no baseline: run mlmon baseline' })
    );
    const message = page.getByTestId('mlmon-panel-message');
    expect(await message.getAttribute('data-kind')).toBe('error');
    expect(await message.textContent()).toBe('model "churn" has no baseline: run mlmon baseline');
  });
});

describe('severity panel', () => {
  it('draws one cell per feature and bucket, coloured by level, worst feature first', async () => {
    const page = await browser.show('severity-heatmap', severity());
    const colors = await themeColors(page);
    const expectedFill = (level: number | null) =>
      level === null
        ? colors.textDisabled
        : [colors.named.green, colors.named.blue, colors.named.orange, colors.named.red][level];
    const cells = await page.$$eval('[data-testid="mlmon-cell"]', (elements) =>
      elements.map((element) => ({
        feature: element.getAttribute('data-feature')!,
        time: Number(element.getAttribute('data-time')),
        fill: element.getAttribute('fill'),
        painted: getComputedStyle(element).fill,
        y: element.getBoundingClientRect().y,
        x: element.getBoundingClientRect().x,
      }))
    );
    expect(cells).toHaveLength(SEVERITY_FEATURES.length * BUCKETS);
    for (const cell of cells) {
      const level = severityLevelOf(cell.feature, (cell.time - START_MS) / BUCKET_MS);
      expect({ cell: `${cell.feature}@${cell.time}`, fill: cell.fill }).toEqual({
        cell: `${cell.feature}@${cell.time}`,
        fill: expectedFill(level),
      });
      expect(cell.painted).toBe(rgb(expectedFill(level)));
    }
    const count = (fill: string) => cells.filter((cell) => cell.fill === fill).length;
    expect(count(colors.named.red)).toBe(4);
    expect(count(colors.textDisabled)).toBe(2);
    expect(await page.getByTestId('mlmon-row-label').allTextContents()).toEqual(['income', 'plan', 'age', 'tenure']);
    // Rows are where their labels say, buckets left to right.
    const incomeRow = cells.filter((cell) => cell.feature === 'income');
    expect(new Set(incomeRow.map((cell) => cell.y)).size).toBe(1);
    expect(incomeRow.map((cell) => cell.x)).toEqual([...incomeRow.map((cell) => cell.x)].sort((a, b) => a - b));
    expect(await page.getByTestId('mlmon-legend').textContent()).toMatch(
      /OK.*Info.*Warning.*Critical.*Insufficient data/
    );
  });

  it('sorts features by name when asked, and follows a light theme', async () => {
    const dark = await themeColors(
      await browser.show('severity-by-name', severity({ sortBy: 'name', showLegend: false }))
    );
    const page = await browser.show(
      'severity-by-name-light',
      severity({ sortBy: 'name', showLegend: false }, { themeMode: 'light' })
    );
    expect(await page.getByTestId('mlmon-row-label').allTextContents()).toEqual(['age', 'income', 'plan', 'tenure']);
    const light = await themeColors(page);
    expect(light.textPrimary).not.toBe(dark.textPrimary);
    expect(await page.getByTestId('mlmon-row-label').first().getAttribute('fill')).toBe(light.textPrimary);
    expect(await page.getByTestId('mlmon-legend').count()).toBe(0);
  });

  it('links every cell to the drill-down dashboard with its feature and bucket, and explains it on hover', async () => {
    const page = await browser.show('severity-tooltip', severity());
    const cell = page.locator('[data-testid="mlmon-cell"][data-feature="income"]').nth(8);
    const from = START_MS + 8 * BUCKET_MS;
    const link = cell.locator('xpath=..');
    expect(await link.getAttribute('href')).toBe(
      `/d/mlmon-model-overview/x?var-model=churn&var-feature=income&from=${from}&to=${from + BUCKET_MS}`
    );
    await cell.hover();
    const tooltip = page.getByTestId('mlmon-tooltip');
    await tooltip.waitFor();
    await page.screenshot({ path: 'test-results/panels/severity-tooltip.png' });
    expect(await tooltip.textContent()).toBe(
      'income2026-11-24 08:00 UTC, 60 minCritical: psi 0.35noise floor 0.04800 rows'
    );
  });

  it('says why it draws nothing', async () => {
    const page = await browser.show('severity-wrong-frames', severity({}, { series: distributionFrames() }));
    expect(await page.getByTestId('mlmon-panel-message').textContent()).toMatch(/Severity query type/);
  });
});

async function expectText(page: Page, testId: string, text: string) {
  expect(await page.getByTestId(testId).textContent()).toBe(text);
}
