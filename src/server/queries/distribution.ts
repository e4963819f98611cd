/**
 * `distribution`: per feature, the baseline's bins (numeric, reference-decile edges stored with the baseline) or
 * categories against the current window's, with both CDFs and the drift readouts (METRICS.md). Counting is pushed
 * down to the store: the shared single-scan plan (binned-counts.ts) returns one row per feature and bin or category.
 */
import { compareCounts, BINNING_CONVENTION } from '../../core/stats';
import {
  distributionFrame,
  type DistributionBin,
  type DistributionReadouts,
  type FrameLike,
} from '../../core/query/frames';
import type { ColumnReference } from '../store/types';
import type { Thresholds } from '../../core/query/settings';
import { requireModel } from './metadata';
import type { QueryRequest } from '../backend/registry';
import { thresholdsFor } from '../backend/settings';
import { alignedCells, type AlignedCells } from '../counting/binned-counts';
import { countWindow } from '../counting/window-counts';
import { chooseBaseline, countedColumn, featureTargets } from '../counting/targets';
import { planWindow } from './plan';
import { sampleNotices, windowWhere } from '../counting/window';

/** Running sums of proportions: the CDF at each bin's upper edge. */
export function cumulative(proportions: number[]): number[] {
  let total = 0;
  return proportions.map((p) => (total += p));
}

const proportionsOf = (counts: number[]) => {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (total > 0 ? c / total : 0));
};

interface Counted {
  labels: string[];
  lower: Array<number | null>;
  upper: Array<number | null>;
  reference: number[];
  current: number[];
  currentMissing: number;
}

/** A feature's aligned cells with the bin bounds the frame shows (null for open ends and categories). */
function countedOf(reference: ColumnReference, aligned: AlignedCells): Counted {
  const edges = reference.kind === 'numeric' ? reference.edges : [];
  const numeric = reference.kind === 'numeric';
  return {
    labels: aligned.labels,
    lower: aligned.labels.map((_, k) => (numeric && k > 0 ? edges[k - 1] : null)),
    upper: aligned.labels.map((_, k) => (numeric && k < edges.length ? edges[k] : null)),
    reference: aligned.reference,
    current: aligned.current,
    currentMissing: aligned.missing,
  };
}

/** Readouts of one feature from its aligned counts (binned metrics, noise floors, chi-square for categories). */
export function readouts(
  model: string,
  feature: string,
  reference: ColumnReference,
  counted: Counted,
  thresholds: Thresholds
): DistributionReadouts {
  const comparison = compareCounts(
    reference.kind,
    counted.reference,
    counted.current,
    { reference: reference.missing, current: counted.currentMissing },
    { primaryMetric: 'psi', thresholds: { psi: { warning: thresholds.psiWarning, critical: thresholds.psiCritical } } }
  );
  const { metrics, noiseFloor } = comparison;
  return {
    model,
    feature,
    kind: reference.kind,
    convention: reference.kind === 'numeric' ? reference.binning || BINNING_CONVENTION : 'categories',
    primaryMetric: 'psi',
    counts: {
      baseline: comparison.reference.count,
      current: comparison.current.count,
      currentMissing: counted.currentMissing,
    },
    psi: metrics.psi,
    jsDistance: metrics.jsDistance,
    hellinger: metrics.hellinger,
    lInf: metrics.lInf,
    ...(metrics.chiSquare ? { chiSquare: metrics.chiSquare } : {}),
    noiseFloor: {
      psi: noiseFloor.psi,
      jsDistance: noiseFloor.jsDistance,
      hellinger: noiseFloor.hellinger,
      lInf: noiseFloor.lInf,
      ...(noiseFloor.chiSquare !== undefined ? { chiSquare: noiseFloor.chiSquare } : {}),
    },
    severity: comparison.severity,
  };
}

export function bins(counted: Counted): DistributionBin[] {
  const baseline = proportionsOf(counted.reference);
  const current = proportionsOf(counted.current);
  const baselineCdf = cumulative(baseline);
  const currentCdf = cumulative(current);
  return counted.labels.map((label, k) => ({
    label,
    lower: counted.lower[k],
    upper: counted.upper[k],
    baseline: baseline[k],
    current: current[k],
    baselineCdf: baselineCdf[k],
    currentCdf: currentCdf[k],
  }));
}

export async function distributionQuery(request: QueryRequest<'distribution'>): Promise<FrameLike[]> {
  const { query, instance } = request;
  const store = await instance.store();
  await requireModel(store, query.model);
  const baseline = await chooseBaseline(store, query.model, query.baseline, query.version);
  const targets = await featureTargets(store, query.model, baseline, query.features);
  const plan = await planWindow(request, store, query.model, 'whole', targets.length);
  const counts = await countWindow({
    store,
    model: query.model,
    range: plan.range,
    columns: targets.map((target) => countedColumn(target)),
    where: windowWhere(store.dialect, query, plan.grid),
    grid: plan.grid,
    signal: request.signal,
  });
  const notices = [...plan.notices, ...sampleNotices(query.sampleFraction)];
  return targets.map(({ name, reference }, index) => {
    const counted = countedOf(reference, alignedCells(reference, counts.get(index, plan.starts[0])));
    const frame = distributionFrame(
      {
        bins: bins(counted),
        readouts: readouts(query.model, name, reference, counted, thresholdsFor(instance.settings, query.model)),
      },
      query.refId
    );
    return notices.length > 0 ? { ...frame, meta: { ...frame.meta, notices } } : frame;
  });
}
