/**
 * Confidence-based performance estimation (CBPE; NannyML, `nannyml/performance_estimation/confidence_based`): the
 * expected performance of a binary classifier on rows whose labels have not arrived, from its scores alone, once the
 * scores are calibrated so that a calibrated score p is P(label = positive | score).
 *
 * Everything here works on counts per score bin of width 1/1000 (bin k holds the scores in [k/1000, (k+1)/1000)),
 * the same counts the store pushes down for the realized AUC:
 * - calibration: isotonic regression of the label on the score bin by pool-adjacent-violators, weighted by the rows
 *   of each bin, kept as knots (bin, probability) at the ends of each pooled block; between knots the map is linear
 *   in the bin index and outside them it is clipped — what scikit-learn's `IsotonicRegression(out_of_bounds='clip')`
 *   (NannyML's calibrator) predicts when fitted on the bin indexes;
 * - estimation: with p the calibrated probability of a row and ŷ its predicted class (score ≥ threshold), the
 *   expected confusion counts are TP = Σ_{ŷ=1} p, FP = Σ_{ŷ=1} (1−p), FN = Σ_{ŷ=0} p, TN = Σ_{ŷ=0} (1−p), and
 *   accuracy, precision, recall and F1 follow as NannyML's `estimate_accuracy`, `estimate_precision`, … compute them;
 *   ROC AUC counts p of each row as a positive and 1−p as a negative, pairs within one bin counting half, which is
 *   NannyML's `estimate_roc_auc` (cumulated calibrated probabilities along the descending score, trapezoids);
 * - band: each row's label is an independent Bernoulli(p), so a count of right outcomes is Poisson-binomial. For
 *   accuracy c = p (ŷ = 1) or 1−p (ŷ = 0) is the chance the row is classified right and Var = Σ c(1−c) / n²; for
 *   precision (n₊ predicted positives fixed) Var = Σ_{ŷ=1} p(1−p) / n₊². Recall = A/(A+B) and F1 = 2A/(n₊+A+B), with
 *   A = TP and B = FN independent Poisson-binomial sums, and AUC (a ratio of a quadratic form in the labels) get the
 *   delta method: Var ≈ Σ_rows (∂metric/∂y)² p(1−p) at y = p. The 95 % band is the estimate ± 1.96 √Var, clipped to
 *   [0, 1]. It is the spread of the realized value around the estimate when the calibration is right; the
 *   calibration's own error (a finite reference) is not in it.
 */

/** Score bins per unit of score: a bin is ⌊1000 · score⌋ (as the realized AUC counts). */
export const SCORE_BINS_PER_UNIT = 1000;

/** Two-sided 95 % normal quantile. */
export const BAND_Z = 1.959963984540054;

/** The method of a calibration, as stored in the baseline. */
export const CALIBRATION_METHOD =
  'isotonic regression (pool-adjacent-violators) on score bins of 1/1000, linear between knots, clipped outside';

/** A monotone map from score bin to P(label = positive), fitted on a baseline's labelled rows. */
export interface ScoreCalibration {
  method: string;
  binsPerUnit: number;
  /** Increasing score-bin indexes of the knots. */
  bins: number[];
  /** P(label = positive) at each knot, non-decreasing. */
  probabilities: number[];
  /** Rows predicted positive are those with score ≥ threshold. */
  threshold: number;
  /** Labelled, scored rows the calibration was fitted on. */
  count: number;
}

/** Labelled rows of one score bin. */
export interface LabelledBin {
  bin: number;
  positives: number;
  rows: number;
}

/** The score bin of a score: ⌊1000 · score⌋. */
export function scoreBin(score: number): number {
  return Math.floor(score * SCORE_BINS_PER_UNIT);
}

/**
 * Knots of the isotonic (non-decreasing) least-squares fit of the positive rate per bin, weighted by rows, by
 * pool-adjacent-violators (Ayer et al. 1955; Barlow et al. 1972): adjacent blocks whose rates decrease are merged
 * into their weighted mean. Each block gives a knot at its first and last bin. Bins must be distinct; empty bins are
 * ignored.
 */
export function isotonicKnots(bins: readonly LabelledBin[]): { bins: number[]; probabilities: number[] } {
  const sorted = bins.filter((b) => b.rows > 0).sort((a, b) => a.bin - b.bin);
  const blocks: Array<{ first: number; last: number; positives: number; rows: number }> = [];
  for (const { bin, positives, rows } of sorted) {
    blocks.push({ first: bin, last: bin, positives, rows });
    while (blocks.length > 1) {
      const last = blocks[blocks.length - 1];
      const previous = blocks[blocks.length - 2];
      if (previous.positives / previous.rows < last.positives / last.rows) {
        break;
      }
      blocks.pop();
      previous.last = last.last;
      previous.positives += last.positives;
      previous.rows += last.rows;
    }
  }
  const knots = { bins: [] as number[], probabilities: [] as number[] };
  for (const block of blocks) {
    const rate = block.positives / block.rows;
    for (const bin of block.first === block.last ? [block.first] : [block.first, block.last]) {
      knots.bins.push(bin);
      knots.probabilities.push(rate);
    }
  }
  return knots;
}

/** A calibration fitted on labelled score bins (see isotonicKnots); throws when there is no labelled row. */
export function fitCalibration(bins: readonly LabelledBin[], threshold = 0.5): ScoreCalibration {
  const knots = isotonicKnots(bins);
  if (knots.bins.length === 0) {
    throw new Error('no labelled row with a score to calibrate on');
  }
  return {
    method: CALIBRATION_METHOD,
    binsPerUnit: SCORE_BINS_PER_UNIT,
    ...knots,
    threshold,
    count: bins.reduce((sum, b) => sum + b.rows, 0),
  };
}

/** Calibrated P(label = positive) of a score bin: linear between the knots around it, the end value outside. */
export function calibratedProbability(calibration: ScoreCalibration, bin: number): number {
  const { bins, probabilities } = calibration;
  if (bin <= bins[0]) {
    return probabilities[0];
  }
  const lastIndex = bins.length - 1;
  if (bin >= bins[lastIndex]) {
    return probabilities[lastIndex];
  }
  let low = 0;
  let high = lastIndex;
  while (high - low > 1) {
    const middle = (low + high) >> 1;
    if (bins[middle] <= bin) {
      low = middle;
    } else {
      high = middle;
    }
  }
  const t = (bin - bins[low]) / (bins[high] - bins[low]);
  return probabilities[low] + t * (probabilities[high] - probabilities[low]);
}

/** Rows of one score bin with one predicted class. */
export interface ScoredCell {
  bin: number;
  predictedPositive: boolean;
  rows: number;
}

/** An estimate with its 95 % band; all null when the metric is undefined (e.g. no row predicted positive). */
export interface BandedEstimate {
  value: number | null;
  lower: number | null;
  upper: number | null;
}

export const ESTIMATED_METRICS = ['accuracy', 'precision', 'recall', 'f1', 'auc'] as const;
export type EstimatedMetric = (typeof ESTIMATED_METRICS)[number];

export type PerformanceEstimate = Record<EstimatedMetric, BandedEstimate> & { rows: number };

const clip = (x: number) => Math.min(1, Math.max(0, x));

/** value ± BAND_Z · √variance, clipped to [0, 1]; all null when the value is not finite. */
export function band(value: number, variance: number): BandedEstimate {
  if (!Number.isFinite(value)) {
    return { value: null, lower: null, upper: null };
  }
  const half = BAND_Z * Math.sqrt(Math.max(0, variance));
  return { value, lower: clip(value - half), upper: clip(value + half) };
}

/** Expected AUC of rows with calibrated p per ascending bin, and its delta-method variance (module comment). */
function estimatedAuc(bins: ReadonlyArray<{ p: number; rows: number }>): BandedEstimate {
  const positives = bins.reduce((s, b) => s + b.rows * b.p, 0);
  const negatives = bins.reduce((s, b) => s + b.rows * (1 - b.p), 0);
  const pairs = positives * negatives;
  if (!(pairs > 0)) {
    return { value: null, lower: null, upper: null };
  }
  // wins = Σ_b pos_b · (negatives below b + ½ neg_b); the gradient of a row in bin b is
  // ∂U/∂y = (negatives below + ½ neg_b) − (positives above + ½ pos_b), ∂(P·N)/∂y = N − P.
  let negativesBelow = 0;
  let wins = 0;
  const rankTerms: number[] = [];
  for (const { p, rows } of bins) {
    const pos = rows * p;
    const neg = rows * (1 - p);
    wins += pos * (negativesBelow + 0.5 * neg);
    rankTerms.push(negativesBelow + 0.5 * neg);
    negativesBelow += neg;
  }
  let positivesAbove = 0;
  let variance = 0;
  for (let i = bins.length - 1; i >= 0; i--) {
    const { p, rows } = bins[i];
    const pos = rows * p;
    const dWins = rankTerms[i] - (positivesAbove + 0.5 * pos);
    const gradient = (dWins * pairs - wins * (negatives - positives)) / (pairs * pairs);
    variance += rows * p * (1 - p) * gradient * gradient;
    positivesAbove += pos;
  }
  return band(wins / pairs, variance);
}

/**
 * Expected accuracy, precision, recall, F1 and ROC AUC with their 95 % bands from the rows per score bin and
 * predicted class (module comment for the formulas). Null metrics where undefined: precision without predicted
 * positives, recall without expected positives, F1 without either, AUC without expected positives or negatives.
 */
export function estimatePerformance(calibration: ScoreCalibration, cells: readonly ScoredCell[]): PerformanceEstimate {
  let n = 0;
  let correct = 0;
  let correctVariance = 0;
  let predictedPositives = 0;
  let tp = 0;
  let tpVariance = 0;
  let fn = 0;
  let fnVariance = 0;
  const byBin = new Map<number, { p: number; rows: number }>();
  for (const { bin, predictedPositive, rows } of cells) {
    const p = calibratedProbability(calibration, bin);
    const right = predictedPositive ? p : 1 - p;
    n += rows;
    correct += rows * right;
    correctVariance += rows * right * (1 - right);
    if (predictedPositive) {
      predictedPositives += rows;
      tp += rows * p;
      tpVariance += rows * p * (1 - p);
    } else {
      fn += rows * p;
      fnVariance += rows * p * (1 - p);
    }
    const entry = byBin.get(bin) ?? { p, rows: 0 };
    entry.rows += rows;
    byBin.set(bin, entry);
  }
  const actualPositives = tp + fn;
  const f1Denominator = predictedPositives + actualPositives;
  const undefinedMetric = { value: null, lower: null, upper: null };
  return {
    rows: n,
    accuracy: n > 0 ? band(correct / n, correctVariance / (n * n)) : undefinedMetric,
    precision:
      predictedPositives > 0
        ? band(tp / predictedPositives, tpVariance / (predictedPositives * predictedPositives))
        : undefinedMetric,
    recall:
      actualPositives > 0
        ? band(
            tp / actualPositives,
            (fn / actualPositives ** 2) ** 2 * tpVariance + (tp / actualPositives ** 2) ** 2 * fnVariance
          )
        : undefinedMetric,
    f1:
      f1Denominator > 0
        ? band(
            (2 * tp) / f1Denominator,
            ((2 * (predictedPositives + fn)) / f1Denominator ** 2) ** 2 * tpVariance +
              ((2 * tp) / f1Denominator ** 2) ** 2 * fnVariance
          )
        : undefinedMetric,
    auc: estimatedAuc([...byBin].sort((a, b) => a[0] - b[0]).map(([, entry]) => entry)),
  };
}

/** P(X ≥ k) for X ~ Binomial(n, q), 0 < q < 1: one minus the terms below k, each in log space (no underflow). */
export function binomialTail(k: number, n: number, q: number): number {
  let logTerm = n * Math.log1p(-q);
  let below = 0;
  for (let i = 0; i < Math.min(k, n + 1); i++) {
    below += Math.exp(logTerm);
    // P(X = i + 1) = P(X = i) · (n − i) / (i + 1) · q / (1 − q)
    logTerm += Math.log((n - i) / (i + 1)) + Math.log(q) - Math.log1p(-q);
  }
  return Math.min(1, Math.max(0, 1 - below));
}

/**
 * Whether the realized values leave the 95 % bands more often than chance allows, from the labelled buckets in time
 * order (true: the realized value lies outside the band). Either of:
 * - more than α of them outside, with a binomial probability of at least that many misses at rate α below α (a band
 *   is missed 5 % of the time by design, so one miss in a long window is no evidence);
 * - the two most recent both outside (probability α² by chance): a change shows within two buckets of its labels
 *   arriving, however long the clean history before it.
 */
export function bandsBroken(outside: readonly boolean[], alpha: number): boolean {
  const labelled = outside.length;
  const misses = outside.filter(Boolean).length;
  const beyondChance = labelled > 0 && misses / labelled > alpha && binomialTail(misses, labelled, alpha) < alpha;
  return beyondChance || (labelled >= 2 && outside[labelled - 1] && outside[labelled - 2]);
}
