"""One place that turns dbt flags into a ready BatchRunner: credentials, clients, manifest and ledger."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from gemini_batch import clients
from gemini_batch.batch import BatchRunner
from gemini_batch.dbt_project import LEDGER_TABLE, BatchNode, DbtFlags, Manifest, load_credentials
from gemini_batch.ledger import Ledger
from gemini_batch.progress import Progress
from gemini_batch.query_config import QueryDefaults
from gemini_batch.reachability import check_services
from gemini_batch.settings import BatchSettings, SettingsError, settings_for


@dataclass
class Session:
    flags: DbtFlags
    manifest: Manifest
    credentials: Any
    runner: BatchRunner

    @classmethod
    def open(
        cls,
        flags: DbtFlags,
        invocation_id: str | None = None,
        progress: Progress | None = None,
        check: bool = True,
    ) -> Session:
        """`check`: the credentials and services are checked first (reachability.py); False when the command did
        it already before starting dbt."""
        manifest = Manifest.load(flags.manifest_path)
        credentials = load_credentials(flags)
        if check:
            # A stopped or stuck service, a bad key file: say so now, not after the clients' retries give up.
            check_services(credentials)
        bq = clients.bigquery_client(credentials)
        invocation_id = invocation_id or uuid.uuid4().hex
        query_defaults = QueryDefaults.from_credentials(credentials, invocation_id)
        # The ledger's place comes from the package's source (var gemini_batch_ledger_schema), resolved by dbt.
        ledger_table = manifest.ledger_table or f"{credentials.database}.{credentials.schema}.{LEDGER_TABLE}"

        def job_client(settings: BatchSettings, location: str) -> Any:
            return clients.job_service_client(credentials, settings, location)

        runner = BatchRunner(
            bq=bq,
            ledger=Ledger(bq, ledger_table, query_defaults),
            job_client_factory=job_client,
            default_location=credentials.location or "us-central1",
            invocation_id=invocation_id,
            progress=progress,
            query_defaults=query_defaults,
        )
        runner.ctx.token_counter = lambda settings: clients.llm_utility_client(  # type: ignore[attr-defined]
            credentials, settings, runner.ctx.location(settings)
        )  # countTokens for the spend estimates (spend/estimate.py)
        return cls(flags=flags, manifest=manifest, credentials=credentials, runner=runner)

    def settings(self, node: BatchNode) -> BatchSettings:
        return settings_for(node.name, node.config)

    def checked_settings(self, nodes: list[BatchNode]) -> tuple[dict[str, BatchSettings], list[str]]:
        """The settings of every node that has good ones (by unique_id), and one message per node that has not, so a
        command names every configuration problem of its selection at once."""
        good: dict[str, BatchSettings] = {}
        problems: list[str] = []
        for node in nodes:
            try:
                good[node.unique_id] = self.settings(node)
            except SettingsError as exc:
                problems.append(str(exc))
        return good, problems
