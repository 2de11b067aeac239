"""`dbt-gemini-batch local up|down|status`: the local stack from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from gemini_batch.local.stack import DEFAULT_DATA_DIR, LocalStack, StackConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--bq-port", type=int, default=9050, help="bqemulator REST port (default 9050)")
    parser.add_argument("--bq-grpc-port", type=int, default=9060, help="bqemulator gRPC port (default 9060)")
    parser.add_argument("--vertex-port", type=int, default=8085, help="Vertex emulator port (default 8085)")
    parser.add_argument("--gcs-port", type=int, default=9023, help="Cloud Storage emulator port (default 9023)")
    parser.add_argument("--project", default="local-project")
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state, logs (default ./.gemini_batch_local)"
    )
    parser.add_argument("--persist", action="store_true", help="keep BigQuery tables on disk across restarts")
    parser.add_argument("--emulator-config", type=Path, help="JSON settings of the Vertex emulator (timings, faults)")


def run(ns: argparse.Namespace) -> int:
    stack = LocalStack(
        StackConfig(
            project=ns.project,
            bq_port=ns.bq_port,
            bq_grpc_port=ns.bq_grpc_port,
            vertex_port=ns.vertex_port,
            storage_port=ns.gcs_port,
            data_dir=ns.data_dir,
            persist_bigquery=ns.persist,
            emulator_config=ns.emulator_config,
        )
    )
    if ns.action == "up":
        info = stack.up()
        print(f"BigQuery (bqemulator): {info.bigquery_endpoint}   project {info.project}")
        print(f"Vertex AI (emulator):  {info.vertex_endpoint}")
        print(f"Cloud Storage:         {info.storage_endpoint}")
        print(f"logs and state:        {stack.data_dir}")
        print("for dbt and dbt-gemini-batch in this shell:")
        for key, value in info.env().items():
            print(f"  export {key}={value}")
        return 0
    if ns.action == "down":
        stopped = stack.down()
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    for name, state in stack.status().items():
        print(f"{name}: {state}")
    return 0
