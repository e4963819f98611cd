"""Reference values for CBPE (src/core/stats/cbpe.ts), row by row with numpy, as NannyML computes them.

Reads a JSON file {"threshold": t, "reference": {"scores": [...], "labels": [...]}, "chunks": [[score, ...], ...]}
and prints {"calibration": {"bins": [...], "probabilities": [...]}, "chunks": [{accuracy, precision, recall, f1,
auc}, ...]}.

- Calibration: isotonic regression of the label on the score bin floor(1000 * score), weighted by rows
  (pool-adjacent-violators written out here), predicted as scikit-learn's IsotonicRegression(out_of_bounds='clip')
  does: linear interpolation between the fitted points, end values outside (np.interp).
- Estimates: NannyML's estimate_accuracy / precision / recall / f1 (expected confusion counts from the calibrated
  probabilities) and estimate_roc_auc (rows in descending raw score, cumulated calibrated probabilities as true
  positives, the rest as false positives, rounded to 5 decimals, trapezoids), from
  nannyml/performance_estimation/confidence_based/metrics.py.
"""
import json
import sys

import numpy as np


def isotonic_fit(x, y):
    """Distinct x ascending and the pooled non-decreasing fit of the mean of y at each (weights = rows)."""
    xs, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, weights=y)
    weights = np.bincount(inverse).astype(float)
    # blocks as [sum, weight, count of xs]
    blocks = []
    for s, w in zip(sums, weights):
        blocks.append([s, w, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            s2, w2, c2 = blocks.pop()
            blocks[-1][0] += s2
            blocks[-1][1] += w2
            blocks[-1][2] += c2
    fitted = np.concatenate([np.full(c, s / w) for s, w, c in blocks])
    return xs.astype(float), fitted


def score_bins(scores):
    return np.floor(np.asarray(scores, dtype=float) * 1000)


def estimate_accuracy(y_pred, p):
    tp = np.where(y_pred == 1, p, 0)
    tn = np.where(y_pred == 0, 1 - p, 0)
    return (tp + tn).sum() / len(y_pred)


def confusion(y_pred, p):
    tp = np.sum(np.where(y_pred == 1, p, 0))
    fp = np.sum(np.where(y_pred == 1, 1 - p, 0))
    fn = np.sum(np.where(y_pred == 0, p, 0))
    return tp, fp, fn


def estimate_roc_auc(calibrated, raw):
    order = np.argsort(raw, kind='stable')[::-1]
    calibrated = calibrated[order]
    tps = np.cumsum(calibrated)
    fps = 1 + np.arange(len(calibrated)) - tps
    tps = np.round(np.r_[0, tps], 5)
    fps = np.round(np.r_[0, fps], 5)
    tpr = tps / tps[-1]
    fpr = fps / fps[-1]
    return float(np.trapezoid(tpr, fpr) if hasattr(np, 'trapezoid') else np.trapz(tpr, fpr))


def main():
    with open(sys.argv[1]) as handle:
        data = json.load(handle)
    threshold = data['threshold']
    knots_x, knots_y = isotonic_fit(score_bins(data['reference']['scores']), np.asarray(data['reference']['labels'], float))
    results = []
    for chunk in data['chunks']:
        raw = np.asarray(chunk, dtype=float)
        p = np.interp(score_bins(raw), knots_x, knots_y)
        y_pred = (raw >= threshold).astype(int)
        tp, fp, fn = confusion(y_pred, p)
        results.append(
            {
                'accuracy': float(estimate_accuracy(y_pred, p)),
                'precision': float(tp / (tp + fp)),
                'recall': float(tp / (tp + fn)),
                'f1': float(tp / (tp + 0.5 * (fp + fn))),
                'auc': estimate_roc_auc(p, raw),
            }
        )
    print(json.dumps({'calibration': {'bins': knots_x.tolist(), 'probabilities': knots_y.tolist()}, 'chunks': results}))


if __name__ == '__main__':
    main()
