"""`dbt-gemini-batch local up|down|status`: the local stack from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from gemini_batch.local.stack import DEFAULT_DATA_DIR, LocalStack, StackConfig, StackInfo


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
    parser.add_argument(
        "--persist",
        action="store_true",
        help="keep BigQuery tables on disk (<data-dir>/bigquery) across `down` and `up`; without it they live in "
        "memory and `down` discards them",
    )
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
        try:
            info = stack.up()
        except RuntimeError as exc:  # the extra is missing, or a service did not start: say which, not a traceback
            print(f"ERROR {exc}")
            return 1
        print(f"BigQuery (bqemulator): {info.bigquery_endpoint}   project {info.project}")
        print(f"Vertex AI (emulator):  {info.vertex_endpoint}")
        print(f"Cloud Storage:         {info.storage_endpoint}")
        print(f"logs and state:        {stack.data_dir}")
        print(_tables_fate(info))
        _print_exports(info)
        return 0
    if ns.action == "down":
        before = stack.read_state()
        stopped = stack.down()
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        if before is not None and stopped:
            if before.bigquery_data_dir:
                print(f"the BigQuery tables are kept in {before.bigquery_data_dir} (started with --persist)")
            else:
                print("the BigQuery tables (datasets, answers, ledger) went with it: they were in memory; "
                      "start with `local up --persist` to keep them")  # fmt: skip
        return 0
    states = stack.status()
    for name, state in states.items():
        print(f"{name}: {state}")
    running = stack.read_state()
    if running is not None and all(state == "ready" for state in states.values()):
        print(_tables_fate(running))
        _print_exports(running)
    return 0


def _tables_fate(info: StackInfo) -> str:
    if info.bigquery_data_dir:
        return f"BigQuery tables:       kept on disk in {info.bigquery_data_dir} (--persist)"
    return "BigQuery tables:       in memory; `local down` discards them (`local up --persist` keeps them)"


def _print_exports(info: StackInfo) -> None:
    print("for dbt and dbt-gemini-batch in this shell:")
    for key, value in info.env().items():
        print(f"  export {key}={value}")
