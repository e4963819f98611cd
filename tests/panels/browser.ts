/**
 * Renders panel cases in headless Chromium: bundles harness.tsx with esbuild once, then loads one page per case
 * from a temporary directory and writes a screenshot of it under test-results/panels/.
 */
import { build } from 'esbuild';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BrowserContext, chromium, Page } from 'playwright-core';
import type { HarnessCase } from './harness';

export const CHROMIUM = process.env.MLMON_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.resolve(__dirname, '../../test-results/panels');
/**
 * uPlot's stylesheet, which Grafana loads globally: the time series graph's layers are positioned by it (found from
 * the package's directory: jest maps `.css` modules to a stub).
 */
const UPLOT_CSS = path.join(path.dirname(require.resolve('uplot/package.json')), 'dist', 'uPlot.min.css');

export interface PanelBrowser {
  /** Loads the case, waits for the panel to render, screenshots it as `<name>.png` and returns the page. */
  show(name: string, testCase: HarnessCase): Promise<Page>;
  close(): Promise<void>;
}

export async function openPanelBrowser(): Promise<PanelBrowser> {
  const workDir = await mkdtemp(path.join(tmpdir(), 'mlmon-panels-'));
  await build({
    entryPoints: [path.join(__dirname, 'harness.tsx')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    outfile: path.join(workDir, 'harness.js'),
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"' },
    loader: { '.svg': 'text', '.css': 'empty', '.woff': 'empty', '.woff2': 'empty' },
    logLevel: 'error',
  });
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(path.join(workDir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw new Error(
      `could not start Chromium at ${CHROMIUM} (install the chromium package or set MLMON_CHROMIUM): ${error}`
    );
  }
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  return {
    async show(name, testCase) {
      pageErrors.length = 0;
      const html = path.join(workDir, `${name}.html`);
      await writeFile(
        html,
        `<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="file://${UPLOT_CSS}"></head><body><div id="root"></div>` +
          `<script>window.mlmonCase = ${JSON.stringify(testCase)};</script><script src="harness.js"></script></body></html>`
      );
      await page.setViewportSize({ width: testCase.width, height: testCase.height });
      await page.goto(`file://${html}`);
      // A panel is drawn when its SVG (sized after layout) or its message is there.
      await page.waitForSelector(
        '[data-testid$="-panel"] svg, [data-testid="mlmon-timeseries-panel"] canvas, [data-testid="mlmon-panel-message"]',
        {
          timeout: 10000,
        }
      );
      if (testCase.panel === 'timeseries') {
        // the graph lays itself out again once its legend is measured
        await page.waitForTimeout(1000);
      }
      if (pageErrors.length > 0) {
        throw new Error(`the page failed: ${pageErrors.join('; ')}`);
      }
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
      return page;
    },
    async close() {
      await context.close();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
