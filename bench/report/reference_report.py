"""The same computations as `mlmon report` on numeric columns, with numpy/scipy, for the benchmark.

Per column shared by both files: drop missing values (NaN), inner edges = reference quantiles at k/B (numpy's
default linear interpolation = Hyndman-Fan type 7) with equal edges merged, right-closed bins with open outer bins,
PSI (proportions floored at 1e-4, natural log), Jensen-Shannon distance (scipy, base 2), Hellinger, L-infinity,
scipy.stats.ks_2samp (method='auto') and scipy.stats.wasserstein_distance divided by the reference's population
standard deviation (METRICS.md). Prints a JSON object {column: {metric: value}} and the read/compute seconds on stderr.

Usage: python3 reference_report.py REFERENCE CURRENT [BINS]   (CSV, or Parquet when pyarrow is importable)
"""
import json
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

PSI_FLOOR = 1e-4


def read(path):
    return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)


def proportions(edges, values):
    # Right-closed bins: x is in bin k when e_{k-1} < x <= e_k, i.e. k = number of edges strictly below x.
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return counts / counts.sum()


def compare(reference, current, bins):
    edges = np.unique(np.quantile(reference, np.arange(1, bins) / bins))
    p, q = proportions(edges, reference), proportions(edges, current)
    pf, qf = np.maximum(p, PSI_FLOOR), np.maximum(q, PSI_FLOOR)
    ks = stats.ks_2samp(reference, current, method="auto")
    std = reference.std()
    w1 = stats.wasserstein_distance(reference, current)
    return {
        "psi": float(np.sum((qf - pf) * np.log(qf / pf))),
        "jsDistance": float(jensenshannon(p, q, base=2)),
        "hellinger": float(np.sqrt(max(0.0, 1 - np.sum(np.sqrt(p * q))))),
        "lInf": float(np.max(np.abs(p - q))),
        "ks": {"statistic": float(ks.statistic), "pValue": float(ks.pvalue)},
        "wasserstein": {"normalized": float(w1 / std if std > 0 else w1)},
    }


def main():
    reference_path, current_path = sys.argv[1], sys.argv[2]
    bins = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    start = time.perf_counter()
    reference, current = read(reference_path), read(current_path)
    read_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = {}
    for column in reference.columns:
        series = reference[column]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if column in current.columns and numeric:
            r = reference[column].dropna().to_numpy(dtype=float)
            c = current[column].dropna().to_numpy(dtype=float)
            result[column] = compare(r, c, bins)
    compute_seconds = time.perf_counter() - start
    json.dump(result, sys.stdout)
    print(json.dumps({"readSeconds": read_seconds, "computeSeconds": compute_seconds}), file=sys.stderr)


if __name__ == "__main__":
    main()
