/**
 * Validation performance of a model on its reference data, stored in the baseline so production performance
 * can be compared with it. Pure functions over aligned arrays (rows with a missing label or prediction are
 * dropped by the caller's `pairs`).
 */
import type { ClassifierPerformance, RegressorPerformance } from '../store/types';

type Value = number | string | boolean | null | undefined;

const isMissing = (v: Value) => v === null || v === undefined || v === '' || (typeof v === 'number' && Number.isNaN(v));

/** Rows where both the label and the prediction are present, as strings (classification) or numbers. */
export function pairs(labels: readonly Value[], predictions: readonly Value[], scores?: readonly Value[]) {
  const kept: Array<{ label: Value; prediction: Value; score: number | null }> = [];
  labels.forEach((label, i) => {
    if (!isMissing(label) && !isMissing(predictions[i])) {
      const score = scores?.[i];
      kept.push({
        label,
        prediction: predictions[i],
        score: typeof score === 'number' && Number.isFinite(score) ? score : null,
      });
    }
  });
  return kept;
}

/** Classification when either side is a string/boolean or every value is 0/1; regression otherwise. */
export function detectTask(labels: readonly Value[], predictions: readonly Value[]): 'classification' | 'regression' {
  const values = [...labels, ...predictions].filter((v) => !isMissing(v));
  if (values.some((v) => typeof v !== 'number')) {
    return 'classification';
  }
  return values.every((v) => v === 0 || v === 1) ? 'classification' : 'regression';
}

/**
 * Area under the ROC curve as the Mann-Whitney statistic U / (n_pos · n_neg), ties given half credit
 * (average ranks; Hanley & McNeil 1982). Null when one class is absent.
 */
export function rocAuc(positive: readonly boolean[], scores: readonly number[]): number | null {
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(scores.length);
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && order[end + 1][0] === order[start][0]) {
      end++;
    }
    const averageRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) {
      ranks[order[k][1]] = averageRank;
    }
    start = end + 1;
  }
  const nPos = positive.filter(Boolean).length;
  const nNeg = positive.length - nPos;
  if (nPos === 0 || nNeg === 0) {
    return null;
  }
  const rankSum = ranks.reduce((sum, rank, i) => (positive[i] ? sum + rank : sum), 0);
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** Precision, recall and F1 of one class (0 when undefined, as scikit-learn's zero_division=0). */
function classScores(rows: ReadonlyArray<{ label: string; prediction: string }>, cls: string) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const { label, prediction } of rows) {
    if (prediction === cls && label === cls) {
      tp++;
    } else if (prediction === cls) {
      fp++;
    } else if (label === cls) {
      fn++;
    }
  }
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1 };
}

/** The positive class: the one given, else '1' or 'true' when present; undefined means macro averaging. */
export function inferPositiveLabel(classes: ReadonlySet<string>, given?: string): string | undefined {
  if (given !== undefined) {
    return given;
  }
  return ['1', 'true'].find((c) => classes.has(c) && classes.size <= 2);
}

/**
 * Accuracy; precision, recall, F1 of the positive class (binary) or their unweighted mean over the classes
 * (macro); ROC AUC of the positive class from the scores (binary only, null without scores).
 */
export function classifierPerformance(
  rows: ReadonlyArray<{ label: Value; prediction: Value; score: number | null }>,
  positiveLabel?: string
): ClassifierPerformance {
  const asText = rows.map((r) => ({ label: String(r.label), prediction: String(r.prediction), score: r.score }));
  const classes = new Set(asText.flatMap((r) => [r.label, r.prediction]));
  const accuracy = asText.filter((r) => r.label === r.prediction).length / asText.length;
  const positive = inferPositiveLabel(classes, positiveLabel);
  if (positive !== undefined) {
    const scored = asText.filter((r) => r.score !== null);
    const auc =
      scored.length === asText.length
        ? rocAuc(
            scored.map((r) => r.label === positive),
            scored.map((r) => r.score as number)
          )
        : null;
    return {
      task: 'classification',
      accuracy,
      ...classScores(asText, positive),
      auc,
      averaging: 'binary',
      positiveLabel: positive,
      count: rows.length,
    };
  }
  const perClass = [...classes].map((c) => classScores(asText, c));
  const mean = (pick: (s: { precision: number; recall: number; f1: number }) => number) =>
    perClass.reduce((sum, s) => sum + pick(s), 0) / perClass.length;
  return {
    task: 'classification',
    accuracy,
    precision: mean((s) => s.precision),
    recall: mean((s) => s.recall),
    f1: mean((s) => s.f1),
    auc: null,
    averaging: 'macro',
    positiveLabel: null,
    count: rows.length,
  };
}

/** MAE = mean|y−ŷ|, RMSE = √mean(y−ŷ)², MAPE = mean|y−ŷ|/|y| over rows with y ≠ 0 (a fraction; null if none). */
export function regressorPerformance(rows: ReadonlyArray<{ label: Value; prediction: Value }>): RegressorPerformance {
  let absolute = 0;
  let squared = 0;
  let percentage = 0;
  let percentageRows = 0;
  for (const row of rows) {
    const y = Number(row.label);
    const error = y - Number(row.prediction);
    absolute += Math.abs(error);
    squared += error * error;
    if (y !== 0) {
      percentage += Math.abs(error / y);
      percentageRows++;
    }
  }
  return {
    task: 'regression',
    mae: absolute / rows.length,
    rmse: Math.sqrt(squared / rows.length),
    mape: percentageRows ? percentage / percentageRows : null,
    count: rows.length,
  };
}
