/**
 * `mlmon report --reference FILE --current FILE`: compares two data files column by column and prints a drift
 * report (a table for people, JSON for programs). Exit codes: 0 printed, 1 the --fail-on level was reached,
 * 2 bad input (one line on stderr naming the file and column).
 */
import { handleErrors, type Command } from './command';
import { terminalProgress } from './progress';
import { parseReportArgs, REPORT_USAGE, wantsHelp } from './report-args';
import { buildReport } from './report-build';
import { reachesLevel } from './report-model';
import { renderTable } from './report-table';

/** Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
function wantsColour(): boolean {
  return Boolean(process.stdout.isTTY) && process.env.NO_COLOR === undefined;
}

async function run(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(REPORT_USAGE);
    return 0;
  }
  const options = parseReportArgs(argv);
  const result = await buildReport(options, terminalProgress());
  if (options.format === 'json') {
    process.stdout.write(`${JSON.stringify(result.json, null, 2)}\n`);
    for (const skipped of result.skipped) {
      process.stderr.write(`mlmon report: not compared: ${skipped.name}: ${skipped.reason}\n`);
    }
  } else {
    process.stdout.write(renderTable(result, wantsColour()));
  }
  return options.failOn && reachesLevel(result.json.features, options.failOn) ? 1 : 0;
}

export const command: Command = {
  summary: 'compare a current data file (CSV/Parquet) with a reference file and rate the drift of every column',
  run: handleErrors('report', run),
};
