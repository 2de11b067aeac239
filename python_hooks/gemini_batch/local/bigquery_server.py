"""Run bqemulator with the two workarounds it needs on an offline machine.

1. At start-up bqemulator loads DuckDB's `spatial` extension, which DuckDB would download. The extension ships as a PyPI
   wheel (`duckdb-extension-spatial`), so we install it from that file first; nothing is fetched.
2. Datasets made by SQL (`create schema`, which dbt-bigquery uses) land in bqemulator's hard-coded "US", whatever the
   query job's location. Real BigQuery puts them in the query job's location (the profile's `location`: `US` stays
   `US`, so the package's location check and the Vertex emulator refuse it as Vertex does), or in the statement's
   OPTIONS(location=...): gemini_batch.local.bqemulator_dataset_location. A job that names no location makes its
   dataset in the stack's region.
3. google-cloud-bigquery sends `*/*` as the media Content-Type of multipart loads (load_table_from_json), which
   bqemulator rejects; we add it to the permitted list before the app is built.
4. bqemulator shares one DuckDB connection between requests running at the same time, so one client could read
   another's query results; gemini_batch.local.bigquery_gate runs one request at a time (see why there).
5. `dbt docs generate` reads `__TABLES__` and INFORMATION_SCHEMA.COLUMN_FIELD_PATHS, which bqemulator lacks;
   gemini_batch.local.bqemulator_catalog_views builds them from its catalog like bqemulator builds TABLES/COLUMNS.
6. `EXPORT DATA ... format='JSON'` writes a JSON column as a quoted string; BigQuery writes the JSON value
   (gemini_batch.local.bqemulator_json_export, used by the Cloud Storage transport).
7. bqemulator reads a new table's or view's schema with `SELECT * FROM x LIMIT 0`, which DuckDB still runs for a view
   with joins and windows (its hash tables and window sorts are built before LIMIT applies: 0.14 s for a
   2M-row join in DuckDB alone); `WHERE false` is folded into an empty result before anything runs. The same schema;
   BigQuery never runs a view to create it (a view whose rows would raise is created, as on BigQuery).
8. `ALTER TABLE ... ADD COLUMN` / `DROP COLUMN` change the DuckDB table but not bqemulator's table metadata; BigQuery
   updates the schema (gemini_batch.local.bqemulator_alter_columns).
9. bqemulator ignores `If-Match` on tables.patch; BigQuery answers 412 to a stale etag, which the hook's lease relies on
   (gemini_batch.local.bqemulator_if_match).
10. Tests and the soak lose answers on purpose (gemini_batch.local.bigquery_faults, POST /_local/faults).
11. BigQuery's AI.GENERATE, which bqemulator lacks, answered by the Vertex emulator's responder with its current config
   (--vertex-endpoint), and refused as BigQuery refuses a malformed call (gemini_batch.local.bqemulator_ai_generate).
12. bqemulator lists the tables of a dataset that does not exist as empty; BigQuery answers 404, which dbt-bigquery's
   check_schema_exists relies on (gemini_batch.local.bqemulator_tables_list).
13. bqemulator pastes every view's body into each query that names it (for row access policies) and re-plans it, ~4 s
    per read of a gemini_batch model's view; BigQuery does not. Without a row access policy in the catalog the query
    reads the view as it is (gemini_batch.local.bqemulator_views).

Usage: python -m gemini_batch.local.bigquery_server --rest-port 9050 --grpc-port 9060 --project local-project
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from gemini_batch.local import bigquery_gate


def install_spatial_extension() -> None:
    """Install DuckDB's spatial extension from the `duckdb-extension-spatial` wheel (idempotent, offline)."""
    import duckdb
    import duckdb_extension_spatial

    # DuckDB keeps installed extensions under ~/.duckdb; a fresh CI user may have a HOME that does not exist yet.
    Path.home().mkdir(parents=True, exist_ok=True)
    root = Path(duckdb_extension_spatial.__file__).parent
    found = sorted(root.rglob("spatial.duckdb_extension"))
    if not found:
        raise RuntimeError(f"duckdb-extension-spatial is installed but holds no extension file under {root.name}/")
    duckdb.execute(f"INSTALL '{found[-1]}'")


def set_default_dataset_location(location: str) -> None:
    from bqemulator.catalog.models import DatasetMeta

    DatasetMeta.model_fields["location"].default = location
    DatasetMeta.model_rebuild(force=True)


def permit_wildcard_upload_content_type() -> None:
    from bqemulator.api.routes import upload

    permitted: tuple[str, ...] = upload._PERMITTED_MEDIA_CONTENT_TYPES
    if "*/*" not in permitted:
        upload._PERMITTED_MEDIA_CONTENT_TYPES = (*permitted, "*/*")  # type: ignore[assignment]


def introspect_schemas_without_running() -> None:
    from bqemulator.storage import arrow_bridge

    def introspect_arrow_schema(engine: Any, target_ref: str) -> Any:
        result = engine.execute(f"SELECT * FROM {target_ref} WHERE false")
        if hasattr(result, "to_arrow_table"):
            return result.to_arrow_table().schema
        return result.fetch_arrow_table().schema

    # ddl_sync and materialized_views import it from arrow_bridge when they run, so the module attribute is enough
    arrow_bridge.introspect_arrow_schema = introspect_arrow_schema


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rest-port", type=int, default=9050)
    parser.add_argument("--grpc-port", type=int, default=9060)
    parser.add_argument("--project", default="local-project")
    parser.add_argument("--location", default="us-central1", help="location of datasets created without one")
    parser.add_argument("--data-dir", default=None, help="persist tables here (default: in memory)")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--vertex-endpoint", default=None, help="the Vertex emulator whose config AI.GENERATE follows")
    args = parser.parse_args(argv)
    from gemini_batch.local import bqemulator_options  # ALTER TABLE SET OPTIONS with labels/expressions (see there)

    bqemulator_options.install()
    from gemini_batch.local import bqemulator_catalog_views  # __TABLES__ and COLUMN_FIELD_PATHS for dbt docs

    bqemulator_catalog_views.install()
    from gemini_batch.local import bqemulator_json_export  # JSON columns exported as JSON values

    bqemulator_json_export.install()
    from gemini_batch.local import bqemulator_alter_columns  # tables.get follows ADD/DROP COLUMN

    bqemulator_alter_columns.install()
    from gemini_batch.local import bqemulator_dataset_location  # CREATE SCHEMA in the query job's location

    bqemulator_dataset_location.install()
    from gemini_batch.local import bqemulator_ai_generate  # AI.GENERATE answered by the Vertex emulator's responder

    bqemulator_ai_generate.install(args.vertex_endpoint)
    install_spatial_extension()
    permit_wildcard_upload_content_type()
    introspect_schemas_without_running()
    set_default_dataset_location(args.location)
    from gemini_batch.local import bqemulator_views  # a view read as a view, not re-planned per query

    bqemulator_views.install()
    from gemini_batch.local import bqemulator_if_match  # 412 on a stale If-Match

    bqemulator_if_match.install()
    from gemini_batch.local import bqemulator_tables_list  # 404 listing the tables of a dataset that does not exist

    bqemulator_tables_list.install()
    from gemini_batch.local import bqemulator_iam  # testIamPermissions and Resource Manager's project answers

    bqemulator_iam.install()
    from gemini_batch.local import bigquery_faults  # injected lost answers

    bigquery_faults.install()
    bigquery_gate.install()  # last: the gate wraps the two above

    from bqemulator.config import LogLevel, PersistenceMode, Settings
    from bqemulator.server import run_forever

    overrides: dict[str, object] = {
        "rest_host": "127.0.0.1",
        "grpc_host": "127.0.0.1",
        "rest_port": args.rest_port,
        "grpc_port": args.grpc_port,
        "default_project_id": args.project,
        "log_level": LogLevel(args.log_level),
        "persistence_mode": PersistenceMode.EPHEMERAL,
        # bqemulator snapshots a whole table on every write for time travel; keeping none stops the memory of a
        # 100k-row job (written in batches) from growing with every append. We never use time travel.
        "time_travel_retention_days": 0,
    }
    if args.data_dir:
        os.makedirs(args.data_dir, exist_ok=True)
        overrides["data_dir"] = Path(args.data_dir)
        overrides["persistence_mode"] = PersistenceMode.PERSISTENT
    run_forever(Settings(**overrides))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
