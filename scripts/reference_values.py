#!/usr/bin/env python3
"""Reference values for the statistics core (src/core/stats), computed with numpy and scipy.

Usage: reference_values.py OUTPUT_DIR

Generates test data with a fixed seed and writes OUTPUT_DIR/reference.json holding, for each case, the data
and the expected numbers, computed from the definitions of /work/shared/METRICS.md:
- numeric: bin edges (numpy.quantile at k/B, equal edges merged), counts per right-closed bin, PSI / JS / Hellinger
  / L-inf in numpy, JS also by scipy.spatial.distance.jensenshannon(base=2), scipy.stats.ks_2samp(method='auto'),
  scipy.stats.wasserstein_distance / numpy.std(reference);
- categorical: counts over the union of categories, the same distances, scipy.stats.chi2_contingency(correction=False);
- count vectors (published golden vectors included) and grids of kstwo.sf, chi2.sf, chi2.isf.
Missing values (NaN, None) are written as JSON null and removed before any metric.
"""
import json
import os
import sys

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

SEED = 20261125
PSI_FLOOR = 1e-4


def distances(p, q):
    """PSI (floored, ln), JS distance (base 2, numpy), Hellinger, L-inf, as METRICS.md defines them."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    pf, qf = np.maximum(p, PSI_FLOOR), np.maximum(q, PSI_FLOOR)
    m = (p + q) / 2
    with np.errstate(divide='ignore', invalid='ignore'):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0)
    return {
        'psi': float(np.sum((qf - pf) * np.log(qf / pf))),
        'jsDistance': float(np.sqrt(max(0.0, 0.5 * np.sum(kl_p) + 0.5 * np.sum(kl_q)))),
        'jsDistanceScipy': float(jensenshannon(p, q, base=2)),
        # sqrt(1 - sum sqrt(pq)) evaluated as sqrt(sum (sqrt p - sqrt q)^2 / 2): equal, without cancellation near 0
        'hellinger': float(np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2) / 2)),
        'hellingerBhattacharyya': float(np.sqrt(max(0.0, 1 - np.sum(np.sqrt(p * q))))),
        'lInf': float(np.max(np.abs(p - q))),
    }


def clean_numeric(values):
    a = np.array([np.nan if v is None else v for v in values], dtype=float)
    return a[~np.isnan(a)], int(np.isnan(a).sum())


def to_json_list(values):
    """Numbers as JSON numbers, missing values (None, NaN) as null."""
    return [None if v is None or np.isnan(v) else float(v) for v in values]


def numeric_case(name, reference, current, bins=10):
    ref, ref_missing = clean_numeric(reference)
    cur, cur_missing = clean_numeric(current)
    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins))
    ref_counts = np.bincount(np.searchsorted(edges, ref, side='left'), minlength=len(edges) + 1)
    cur_counts = np.bincount(np.searchsorted(edges, cur, side='left'), minlength=len(edges) + 1)
    ks = stats.ks_2samp(ref, cur, method='auto')
    std = float(np.std(ref))
    w1 = float(stats.wasserstein_distance(ref, cur))
    expected = {
        'edges': edges.tolist(),
        'referenceCounts': ref_counts.tolist(),
        'currentCounts': cur_counts.tolist(),
        'reference': {'count': int(ref.size), 'missing': ref_missing},
        'current': {'count': int(cur.size), 'missing': cur_missing},
        'ks': {'statistic': float(ks.statistic), 'pValue': float(ks.pvalue)},
        'wasserstein': {'distance': w1, 'normalized': w1 / std if std > 0 else w1, 'referenceStd': std},
        **distances(ref_counts / ref.size, cur_counts / cur.size),
    }
    return {'name': name, 'bins': bins, 'reference': to_json_list(list(reference)), 'current': to_json_list(list(current)), 'expected': expected}


def categorical_case(name, reference, current):
    ref = [v for v in reference if v is not None and v != '']
    cur = [v for v in current if v is not None and v != '']
    categories = sorted(set(ref) | set(cur))
    ref_counts = np.array([ref.count(c) for c in categories])
    cur_counts = np.array([cur.count(c) for c in categories])
    chi2, p, dof, _ = stats.chi2_contingency(np.array([ref_counts, cur_counts]), correction=False)
    expected = {
        'categories': categories,
        'referenceCounts': ref_counts.tolist(),
        'currentCounts': cur_counts.tolist(),
        'reference': {'count': len(ref), 'missing': len(reference) - len(ref)},
        'current': {'count': len(cur), 'missing': len(current) - len(cur)},
        'chiSquare': {'statistic': float(chi2), 'pValue': float(p), 'dof': int(dof)},
        **distances(ref_counts / len(ref), cur_counts / len(cur)),
    }
    return {'name': name, 'reference': list(reference), 'current': list(current), 'expected': expected}


def counts_case(name, reference_counts, current_counts):
    r = np.asarray(reference_counts, dtype=float)
    c = np.asarray(current_counts, dtype=float)
    chi2, p, dof, _ = stats.chi2_contingency(np.array([r, c]), correction=False)
    return {
        'name': name,
        'referenceCounts': list(reference_counts),
        'currentCounts': list(current_counts),
        'expected': {**distances(r / r.sum(), c / c.sum()), 'chiSquare': {'statistic': float(chi2), 'pValue': float(p), 'dof': int(dof)}},
    }


def with_missing(rng, values, rate):
    values = list(values.astype(float))
    for i in rng.choice(len(values), size=int(rate * len(values)), replace=False):
        values[i] = None if i % 2 == 0 else float('nan')
    return values


def numeric_cases(rng):
    normal = rng.normal
    cases = [
        numeric_case('normal 2000 vs shifted 1500', normal(0, 1, 2000), normal(0.2, 1.1, 1500)),
        numeric_case('tiny 5 vs 8', normal(0, 1, 5), normal(0.5, 1, 8)),
        numeric_case('tiny 12 vs 30', rng.exponential(1, 12), rng.exponential(1.3, 30)),
        numeric_case('small 30 vs 30 same', normal(0, 1, 30), normal(0, 1, 30)),
        numeric_case('ties poisson 800 vs 600', rng.poisson(3, 800), rng.poisson(3.4, 600)),
        numeric_case('ties rounded 400 vs 400', np.round(normal(0, 2, 400)), np.round(normal(0.3, 2, 400))),
        numeric_case('missing values', with_missing(rng, normal(5, 2, 1000), 0.05), with_missing(rng, normal(5.5, 2, 700), 0.1)),
        numeric_case('identical samples', *(lambda a: (a, a.copy()))(rng.lognormal(0, 1, 500))),
        numeric_case('constant reference and current', np.full(200, 3.0), np.full(150, 3.0)),
        numeric_case('constant reference, moved current', np.full(200, 3.0), np.full(150, 4.0)),
        numeric_case('constant reference, spread current', np.full(100, 1.0), normal(1, 1, 80)),
        numeric_case('equal sizes exact 10000 vs 10000', normal(0, 1, 10000), normal(0.03, 1, 10000)),
        numeric_case('exact 10000 vs 3000', normal(0, 1, 10000), normal(0.05, 1, 3000)),
        numeric_case('asymptotic 20000 vs 15000', normal(0, 1, 20000), normal(0.02, 1, 15000)),
        numeric_case('asymptotic small effective n 20000 vs 40', normal(0, 1, 20000), normal(0.3, 1, 40)),
        numeric_case('asymptotic effective n near 140: 12000 vs 142', normal(0, 1, 12000), normal(0.2, 1, 142)),
        numeric_case('asymptotic heavy ties 15000 vs 12000', rng.poisson(2, 15000), rng.poisson(2.05, 12000)),
        numeric_case('20 bins skewed', rng.lognormal(0, 1, 3000), rng.lognormal(0.1, 1, 2000), bins=20),
        numeric_case('2 bins', normal(0, 1, 300), normal(0, 1, 300), bins=2),
        numeric_case('mostly one value', np.concatenate([np.zeros(900), normal(0, 1, 100)]), np.concatenate([np.zeros(500), normal(0, 1, 100)])),
    ]
    return cases


def categorical_cases(rng):
    colours = np.array(['red', 'green', 'blue', 'black', 'white'])
    ref = list(rng.choice(colours, 1000, p=[0.4, 0.3, 0.15, 0.1, 0.05]))
    cur = list(rng.choice(colours, 800, p=[0.35, 0.3, 0.2, 0.1, 0.05]))
    return [
        categorical_case('colours shifted', ref, cur),
        categorical_case('new category in current', ref[:500], cur[:400] + ['purple'] * 25),
        categorical_case('category missing from current', ref[:600], [c for c in cur if c != 'white']),
        categorical_case('missing values', ref[:300] + [None] * 20 + [''] * 5, cur[:200] + [None] * 7),
        categorical_case('tiny', ['a', 'b', 'a', 'c', 'a'], ['a', 'b', 'b', 'b', 'c', 'd', 'a']),
        categorical_case('identical', ref[:400], ref[:400]),
        categorical_case('single category both sides', ['x'] * 50, ['x'] * 40),
        categorical_case('booleans as strings', ['true'] * 70 + ['false'] * 30, ['true'] * 50 + ['false'] * 50),
    ]


def count_cases():
    return [
        counts_case('anchor histogram [500,300,200,0] vs [450,300,200,50]', [500, 300, 200, 0], [450, 300, 200, 50]),
        counts_case("Evidently chi-square vector", [16, 18, 16, 14, 12, 12], [16, 16, 16, 16, 16, 8]),
        counts_case('disjoint supports', [10, 0], [0, 10]),
        counts_case('many bins', [5, 9, 14, 20, 25, 30, 22, 15, 8, 2], [3, 10, 12, 25, 20, 28, 30, 10, 9, 3]),
    ]


def kolmogorov_grid():
    rows = []
    for n in [1, 2, 3, 7, 20, 50, 100, 140, 141, 250, 1000, 7000, 200000]:
        for z in [0.2, 0.5, 0.7, 0.9, 1.0, 1.1, 1.22, 1.36, 1.52, 1.63, 1.8, 2.0, 2.4, 3.0]:
            x = min(0.999, z / np.sqrt(n))
            rows.append({'n': n, 'x': float(x), 'sf': float(stats.kstwo.sf(x, n))})
        if n <= 1000:
            rows.append({'n': n, 'isf01': float(stats.kstwo.isf(0.01, n)), 'isf05': float(stats.kstwo.isf(0.05, n))})
    return rows


def chi_square_grid():
    rows = []
    for dof in [1, 2, 3, 5, 9, 19, 50, 99, 500]:
        for x in [0.01, 0.5, 1, 2, 5, 10, 20, 50, 100, 300, 700]:
            rows.append({'dof': dof, 'x': x, 'sf': float(stats.chi2.sf(x, dof))})
        for alpha in [0.5, 0.05, 0.01, 0.001]:
            rows.append({'dof': dof, 'alpha': alpha, 'isf': float(stats.chi2.isf(alpha, dof))})
    return rows


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: reference_values.py OUTPUT_DIR')
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    data = {
        'seed': SEED,
        'versions': {'numpy': np.__version__, 'scipy': __import__('scipy').__version__},
        'numeric': numeric_cases(rng),
        'categorical': categorical_cases(rng),
        'counts': count_cases(),
        'kolmogorov': kolmogorov_grid(),
        'chiSquare': chi_square_grid(),
    }
    with open(os.path.join(out, 'reference.json'), 'w') as f:
        json.dump(data, f, allow_nan=False)


if __name__ == '__main__':
    main()
