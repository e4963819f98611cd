"""Reference values for the `compare` query (src/server/queries/compare.ts), row by row with numpy and scipy.

Reads a JSON file {"from": ms, "bucketMs": ms, "buckets": n, "edges": [...] | null, "task": "classification" |
"regression", "tolerance": t, "champion": v, "challenger": v, "rows": [[version, id, ts, prediction, latency,
error], ...], "labels": {id: label}} and prints per bucket {"js", "psi", "agreement", "pairs", and per version
{"latency_p95", "error_rate", "realized"}}.

- Prediction distributions: the predictions of each version binned right-closed on the baseline's edges
  (np.searchsorted side='left': e_{k-1} < x <= e_k), or counted per class; proportions p (champion), q
  (challenger); JS distance = scipy.spatial.distance.jensenshannon(p, q, base=2); PSI = sum((q' - p') ln(q'/p'))
  with p' = max(p, 1e-4), q' = max(q, 1e-4) (docs/METRICS.md). None when a side has fewer than 30 predictions.
- Agreement: the ids both versions predicted (a Python dict join), same class (classifiers) or
  |a - b| <= tolerance (regressors); None without pairs.
- Latency p95: np.percentile (linear, type 7); error rate: errors / rows. Realized: accuracy (classifiers) or MAE
  (regressors) of the labelled rows with a prediction, None below 30 of them.
"""
import json
import sys

import numpy as np
from scipy.spatial.distance import jensenshannon

MIN_COUNT = 30
FLOOR = 1e-4


def proportions(predictions, edges, classes):
    if edges is not None:
        counts = np.bincount(np.searchsorted(edges, predictions, side="left"), minlength=len(edges) + 1)
    else:
        counts = np.array([sum(1 for p in predictions if p == c) for c in classes])
    return counts / counts.sum()


def distances(champion, challenger, edges):
    if min(len(champion), len(challenger)) < MIN_COUNT:
        return None, None
    classes = sorted(set(champion) | set(challenger)) if edges is None else None
    p = proportions(champion, edges, classes)
    q = proportions(challenger, edges, classes)
    pf, qf = np.maximum(p, FLOOR), np.maximum(q, FLOOR)
    return float(jensenshannon(p, q, base=2)), float(np.sum((qf - pf) * np.log(qf / pf)))


def main():
    spec = json.load(open(sys.argv[1]))
    labels = spec["labels"]
    versions = {"champion": spec["champion"], "challenger": spec["challenger"]}
    out = []
    for b in range(spec["buckets"]):
        start = spec["from"] + b * spec["bucketMs"]
        rows = [r for r in spec["rows"] if start <= r[2] < start + spec["bucketMs"]]
        side = {role: [r for r in rows if r[0] == v] for role, v in versions.items()}
        predicted = {role: {r[1]: r[3] for r in side[role] if r[3] is not None} for role in versions}
        js, psi = distances(list(predicted["champion"].values()), list(predicted["challenger"].values()),
                            spec["edges"])
        # pairs: ids the challenger predicted anywhere in the range, bucketed by the champion's time
        challenger_all = {r[1]: r[3] for r in spec["rows"] if r[0] == versions["challenger"] and r[3] is not None}
        pairs = [(a, challenger_all[i]) for i, a in predicted["champion"].items() if i in challenger_all]
        if spec["task"] == "classification":
            agree = [a == c for a, c in pairs]
        else:
            agree = [abs(a - c) <= spec["tolerance"] for a, c in pairs]
        point = {"js": js, "psi": psi, "pairs": len(pairs), "agreement": float(np.mean(agree)) if pairs else None}
        for role in versions:
            these = side[role]
            latencies = [r[4] for r in these]
            point[role] = {
                "latency_p95": float(np.percentile(latencies, 95)) if latencies else None,
                "error_rate": float(np.mean([r[5] for r in these])) if these else None,
            }
            scored = [(p, labels[i]) for i, p in predicted[role].items() if i in labels]
            if len(scored) < MIN_COUNT:
                point[role]["realized"] = None
            elif spec["task"] == "classification":
                point[role]["realized"] = float(np.mean([p == y for p, y in scored]))
            else:
                point[role]["realized"] = float(np.mean([abs(y - p) for p, y in scored]))
        out.append(point)
    print(json.dumps(out))


main()
