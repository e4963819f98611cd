"""Evidently's data-drift report (DataDriftPreset, default per-column tests) on the benchmark's rows.

usage: evidently_drift.py REFERENCE.parquet CURRENT.parquet [CURRENT.parquet ...]

Reads the f_* feature columns of the reference sample and of the current files with pandas/pyarrow, runs the
report, and prints one JSON object: rows, load and report seconds, the number of drifted columns and the
Evidently version. Timing starts after the imports, as the in-process handler timings do.
"""
import json
import sys
import time

import pandas as pd
from evidently import DataDefinition, Dataset, Report, __version__
from evidently.presets import DataDriftPreset


def feature_columns(frame):
    return [c for c in frame.columns if c.startswith("f_")]


def main(reference_path, current_paths):
    started = time.perf_counter()
    reference = pd.read_parquet(reference_path)
    columns = feature_columns(reference)
    reference = reference[columns]
    current = pd.concat([pd.read_parquet(path, columns=columns) for path in current_paths], ignore_index=True)
    numeric = [c for c in columns if pd.api.types.is_float_dtype(reference[c])]
    categorical = [c for c in columns if c not in numeric]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    loaded = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    results = snapshot.dict()
    finished = time.perf_counter()
    drifted = next(
        (m["value"] for m in results["metrics"] if str(m.get("metric_name", "")).startswith("DriftedColumnsCount")),
        None,
    )
    methods = sorted({m["config"].get("method") for m in results["metrics"] if m["config"].get("method")})
    print(
        json.dumps(
            {
                "evidently": __version__,
                "pandas": pd.__version__,
                "referenceRows": len(reference),
                "rows": len(current),
                "columns": len(columns),
                "loadSeconds": loaded - started,
                "reportSeconds": finished - loaded,
                "totalSeconds": finished - started,
                "driftedColumns": drifted,
                "methods": methods,
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: evidently_drift.py REFERENCE.parquet CURRENT.parquet [CURRENT.parquet ...]")
    main(sys.argv[1], sys.argv[2:])
