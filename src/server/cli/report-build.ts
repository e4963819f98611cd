/**
 * Builds the `mlmon report` result: loads both files into an in-memory DuckDB, plans the features, reads each one
 * (sorted numbers or category counts) and hands it to the statistics core (src/core/stats), which computes every
 * number. Bad input is an InputError naming the file and the column.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import {
  BINNING_CONVENTION,
  compareCategorical,
  compareNumeric,
  datasetDrift,
  type FeatureComparison,
} from '../../core/stats';
import { firstNonNumber, readCategoryCounts, readSortedNumbers } from '../files/columns';
import { InputError } from '../files/input-error';
import { loadTableFile, type TableFile } from '../files/table-file';
import type { Progress } from './progress';
import type { ReportOptions } from './report-args';
import type { FeatureReport, ReportResult } from './report-model';
import { planFeatures, type PlannedFeature } from './report-plan';

interface FeatureSide {
  file: TableFile;
  column: PlannedFeature['reference'];
}

function sidesOf(feature: PlannedFeature, reference: TableFile, current: TableFile): [FeatureSide, FeatureSide] {
  return [
    { file: reference, column: feature.reference },
    { file: current, column: feature.current },
  ];
}

/** Refuses a text cell that is not a number in a column compared as numbers, naming file, column, row and value. */
async function checkNumbers(connection: DuckDBConnection, feature: PlannedFeature, side: FeatureSide): Promise<void> {
  const bad = await firstNonNumber(connection, side.file, side.column);
  if (bad) {
    const fix = feature.forced
      ? `fix the value or remove ${feature.name} from --numeric`
      : `give --categorical ${feature.name} to compare it as categories`;
    throw new InputError(
      `${side.file.path}: column ${JSON.stringify(feature.name)} row ${bad.row}: ${JSON.stringify(bad.value)} is not a number; ${fix}`
    );
  }
}

/** Refuses a column with no value at all in a file: nothing can be compared. */
function checkNotAllMissing(side: FeatureSide, count: number): void {
  if (count === 0) {
    throw new InputError(
      `${side.file.path}: column ${JSON.stringify(side.column.name)} has no values (all ${side.file.rows} cells are missing); ` +
        `fill it or drop it from the file`
    );
  }
}

/** A feature's data, read and checked, with the (synchronous, CPU-bound) comparison still to run. */
type ReadFeature = () => FeatureComparison;

async function readNumericFeature(
  connection: DuckDBConnection,
  feature: PlannedFeature,
  sides: [FeatureSide, FeatureSide],
  bins: number
): Promise<ReadFeature> {
  for (const side of sides) {
    await checkNumbers(connection, feature, side);
  }
  const [reference, current] = await Promise.all(
    sides.map(async (side) => {
      const sorted = await readSortedNumbers(connection, side.file, side.column);
      checkNotAllMissing(side, sorted.length);
      return { sorted, missing: side.file.rows - sorted.length };
    })
  );
  return () => compareNumeric(reference, current, { bins });
}

async function readCategoricalFeature(
  connection: DuckDBConnection,
  sides: [FeatureSide, FeatureSide]
): Promise<ReadFeature> {
  const [reference, current] = await Promise.all(
    sides.map(async (side) => {
      const counts = await readCategoryCounts(connection, side.file, side.column);
      const count = [...counts.values()].reduce((total, n) => total + n, 0);
      checkNotAllMissing(side, count);
      return { counts, missing: side.file.rows - count };
    })
  );
  return () => compareCategorical(reference, current);
}

/** The JSON entry of a feature: the core's comparison with the feature's name, keys in the documented order. */
function featureReport(feature: PlannedFeature, comparison: FeatureComparison): FeatureReport {
  const { ks, wasserstein, chiSquare, ...distances } = comparison.metrics;
  const metrics: FeatureReport['metrics'] = { ...distances };
  if (ks) {
    metrics.ks = { statistic: ks.statistic, pValue: ks.pValue };
  }
  if (wasserstein) {
    metrics.wasserstein = { normalized: wasserstein.normalized };
  }
  if (chiSquare) {
    metrics.chiSquare = { statistic: chiSquare.statistic, pValue: chiSquare.pValue, dof: chiSquare.dof };
  }
  return {
    name: feature.name,
    kind: comparison.kind,
    reference: comparison.reference,
    current: comparison.current,
    metrics,
    noiseFloor: { ...comparison.noiseFloor },
    severity: comparison.severity,
  };
}

/** Reads both files and computes the report. */
export async function buildReport(options: ReportOptions, progress: Progress): Promise<ReportResult> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    progress.update(`reading ${options.reference}`);
    const reference = await loadTableFile(connection, options.reference, 'reference');
    progress.update(`reading ${options.current}`);
    const current = await loadTableFile(connection, options.current, 'current');
    const plan = planFeatures(reference, current, options);
    const read = (feature: PlannedFeature): Promise<ReadFeature> => {
      const sides = sidesOf(feature, reference, current);
      const reading =
        feature.kind === 'numeric'
          ? readNumericFeature(connection, feature, sides, options.bins)
          : readCategoricalFeature(connection, sides);
      reading.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
      return reading;
    };
    // DuckDB reads and sorts the next feature on its own threads while this one is compared in JS.
    const features: FeatureReport[] = [];
    let next = read(plan.features[0]);
    for (const [index, feature] of plan.features.entries()) {
      const compare = await next;
      if (index + 1 < plan.features.length) {
        next = read(plan.features[index + 1]);
      }
      progress.update(`comparing ${index + 1}/${plan.features.length}: ${feature.name}`);
      features.push(featureReport(feature, compare()));
    }
    return {
      json: {
        convention: BINNING_CONVENTION,
        reference: { rows: reference.rows },
        current: { rows: current.rows },
        features,
        dataset: datasetDrift(features.map((f) => f.severity)),
      },
      skipped: plan.skipped,
      referencePath: options.reference,
      currentPath: options.current,
      bins: options.bins,
      failOn: options.failOn,
    };
  } finally {
    progress.done();
    connection.closeSync();
    instance.closeSync();
  }
}
