"""Drives a real MLflow tracking server with MLflow's own Python client, for the registry tests (jest and the Go
conformance suite): registers versions from runs that log reference data, and sets or deletes aliases.

Usage (MLFLOW_TRACKING_URI names the server; every command prints one JSON line):
  register NAME [--log-version V] [--reference FILE] [--as artifact|dataset|none]
      a run logging FILE (an artifact under reference/, or a training dataset input whose source is FILE), then a
      new version of NAME from that run, tagged mlmon.version=V when given
  alias NAME ALIAS VERSION
  delete-alias NAME ALIAS
"""
import argparse
import json

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


def register(args):
    client = MlflowClient()
    try:
        client.create_registered_model(args.name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    with mlflow.start_run() as run:
        if args.reference and args.kind == "artifact":
            mlflow.log_artifact(args.reference, artifact_path="reference")
        elif args.reference and args.kind == "dataset":
            frame = pd.read_parquet(args.reference) if args.reference.endswith(".parquet") else pd.read_csv(args.reference)
            mlflow.log_input(mlflow.data.from_pandas(frame, source=args.reference, name="reference"), context="training")
        run_id = run.info.run_id
    tags = {"mlmon.version": args.log_version} if args.log_version else None
    version = client.create_model_version(args.name, f"runs:/{run_id}/model", run_id=run_id, tags=tags)
    print(json.dumps({"version": version.version, "run_id": run_id, "created": str(version.creation_timestamp)}))


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    reg = commands.add_parser("register")
    reg.add_argument("name")
    reg.add_argument("--log-version")
    reg.add_argument("--reference")
    reg.add_argument("--as", dest="kind", default="artifact", choices=["artifact", "dataset", "none"])
    alias = commands.add_parser("alias")
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version")
    delete = commands.add_parser("delete-alias")
    delete.add_argument("name")
    delete.add_argument("alias")
    args = parser.parse_args()
    if args.command == "register":
        register(args)
    elif args.command == "alias":
        MlflowClient().set_registered_model_alias(args.name, args.alias, args.version)
        print(json.dumps({"alias": args.alias, "version": args.version}))
    else:
        MlflowClient().delete_registered_model_alias(args.name, args.alias)
        print(json.dumps({"deleted": args.alias}))


if __name__ == "__main__":
    main()
