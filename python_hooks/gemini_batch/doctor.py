"""`dbt-gemini-batch doctor`: before a team's first paid run, check what a run needs from the Google project, one line
per check, each failure with its fix. Nothing is built or submitted and nothing is paid (metadata reads only).

Checked, for the selected gemini_batch models:
- credentials: what dbt's target authenticates as, and the project Vertex bills quota to for user credentials;
- location: each model's dataset against the jobs' Vertex location (the hook's own pre-submission check);
- permissions of the identity running dbt, asked with testIamPermissions (Google answers the subset held):
  Resource Manager projects.testIamPermissions for the project-level ones (BigQuery jobs, Vertex batch jobs),
  BigQuery tables.testIamPermissions on the tables the hook reads and writes, Cloud Storage
  buckets.testIamPermissions on the gcs_prefix bucket (transport gcs);
- the Vertex AI service agent (service-<project number>@gcp-sa-aiplatform.iam.gserviceaccount.com), which reads the
  job input and writes the output: a role on each dataset (its access list) or on the dataset's project;
- the gcs_prefix bucket's location against the dataset's (transport gcs).

Dataset-level grants cannot be asked with testIamPermissions (BigQuery has no such method for datasets), so a
dataset permission missing at project level is a warning, not a failure: it may be granted on the dataset itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc

from gemini_batch.batch import gcs
from gemini_batch.batch.common import BatchError
from gemini_batch.batch.context import BQ_REQUEST_SECONDS, BatchContext
from gemini_batch.batch.preflight import check_bucket_location, check_location
from gemini_batch.dbt_project import BatchNode
from gemini_batch.settings import BatchSettings

PASS, FAIL, WARN, SKIP = "PASS", "FAIL", "WARN", "SKIP"

# What the package calls, by resource (README "Going to production" lists the same).
PROJECT_PERMISSIONS = ("bigquery.jobs.create",)  # every query, export and load job of dbt and the hook
DATASET_PERMISSIONS = (  # on each model's dataset: tested at project level (warning only, see the module docstring)
    "bigquery.datasets.get",
    "bigquery.tables.create",
    "bigquery.tables.delete",
)
VERTEX_PERMISSIONS = (
    "aiplatform.batchPredictionJobs.create",
    "aiplatform.batchPredictionJobs.get",
    "aiplatform.batchPredictionJobs.list",
    "aiplatform.batchPredictionJobs.cancel",
)
REQUESTS_TABLE_PERMISSIONS = ("bigquery.tables.get", "bigquery.tables.getData")
RESPONSES_TABLE_PERMISSIONS = (
    "bigquery.tables.get",
    "bigquery.tables.getData",
    "bigquery.tables.updateData",
    "bigquery.tables.update",
)
LEDGER_PERMISSIONS = ("bigquery.tables.get", "bigquery.tables.getData", "bigquery.tables.updateData")
BUCKET_PERMISSIONS = (
    "storage.objects.create",  # EXPORT DATA writes the input files
    "storage.objects.list",  # finding the output and a job's objects
    "storage.objects.get",  # the load job reads the output; check_file_uris reads media metadata
    "storage.objects.delete",  # cleanup after the merge and `clean`
    "storage.buckets.get",  # the bucket location check
)
# Roles that let the Vertex AI service agent read the input and create the output tables. roles/aiplatform.
# serviceAgent (granted when the Vertex AI API is enabled) covers BigQuery in its own project only.
AGENT_DATASET_ROLES = {
    "WRITER",
    "OWNER",
    "roles/bigquery.dataEditor",
    "roles/bigquery.dataOwner",
    "roles/bigquery.admin",
}
AGENT_PROJECT_ROLES = {"roles/bigquery.dataEditor", "roles/bigquery.dataOwner", "roles/bigquery.admin", "roles/editor",
                       "roles/owner"}  # fmt: skip
SERVICE_AGENT_ROLE = "roles/aiplatform.serviceAgent"


@dataclass(frozen=True)
class Check:
    status: str  # PASS, FAIL, WARN or SKIP
    name: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.status}  {self.name}: {self.detail}" + (f"\n      fix: {self.fix}" if self.fix else "")


def service_agent(project_number: str) -> str:
    """The Vertex AI service agent (cloud.google.com/vertex-ai/docs/general/access-control#service-agents)."""
    return f"service-{project_number}@gcp-sa-aiplatform.iam.gserviceaccount.com"


def missing(asked: Iterable[str], held: Iterable[str]) -> list[str]:
    have = set(held)
    return [p for p in asked if p not in have]


class Doctor:
    """The checks of one project; `resource_manager` is a resourcemanager_v3.ProjectsClient (or None: not checked)."""

    def __init__(
        self,
        ctx: BatchContext,
        credentials: Any,
        settings_of: Callable[[BatchNode], BatchSettings],
        resource_manager: Any | None,
    ) -> None:
        self.ctx = ctx
        self.credentials = credentials
        self.settings_of = settings_of
        self.rm = resource_manager

    # -- the whole run ---------------------------------------------------------------------------------------------
    def run(self, nodes: list[BatchNode]) -> list[Check]:
        checks = [self.check_credentials(nodes)]
        for node in nodes:
            checks.append(self.check_location(node))
        checks += self.check_project_permissions(nodes)
        for node in nodes:
            checks += self.check_tables(node)
        checks.append(self._table_check("permissions ledger", self.ctx.ledger.table, LEDGER_PERMISSIONS,
                                        "run any dbt command once: the on-run-start hook creates it"))  # fmt: skip
        checks += self.check_service_agent(nodes)
        for node in nodes:
            checks += self.check_bucket(node)
        return checks

    # -- credentials -------------------------------------------------------------------------------------------------
    def check_credentials(self, nodes: list[BatchNode]) -> Check:
        from dbt.adapters.bigquery.credentials import create_google_credentials

        from gemini_batch.clients import quota_project

        method = getattr(self.credentials, "method", "?")
        try:
            google_credentials = create_google_credentials(self.credentials)
        except Exception as exc:
            return Check(FAIL, "credentials", f"dbt's target (method {method}) cannot authenticate: {exc}",
                         "run `gcloud auth application-default login`, or fix the profile's keyfile")  # fmt: skip
        who = getattr(google_credentials, "service_account_email", None)
        kind = f"service account {who}" if who else f"user credentials (method {method})"
        settings = self.settings_of(nodes[0]) if nodes else BatchSettings()
        billed = quota_project(self.credentials, google_credentials, settings)
        if billed is None:
            return Check(PASS, "credentials", f"{kind}; Vertex AI bills its own project (no quota project needed)")
        if getattr(self.credentials, "quota_project", None):
            return Check(PASS, "credentials", f"{kind}; quota project {billed} (the profile's quota_project)")
        return Check(
            WARN, "credentials", f"{kind} without a quota_project in the profile: Vertex AI calls bill quota to "
            f"{billed}", "set quota_project in the profile to the project that should carry Vertex quota "
            "(user credentials need one: googleapis/python-aiplatform#2557)",
        )  # fmt: skip

    # -- location ------------------------------------------------------------------------------------------------
    def check_location(self, node: BatchNode) -> Check:
        settings = self.settings_of(node)
        name = f"location {node.name}"
        try:
            location = check_location(self.ctx, node, settings)
        except gexc.NotFound:
            return Check(FAIL, name, f"dataset {node.dataset} does not exist", f"run `dbt run --select {node.name}`")
        except BatchError as exc:
            return Check(FAIL, name, str(exc).removeprefix(f"{node.name}: "),
                         "keep the dataset and vertex_location in one region (see the message)")  # fmt: skip
        return Check(PASS, name, f"dataset {node.dataset} and the batch jobs are in {location}")

    # -- permissions ---------------------------------------------------------------------------------------------
    def _project_permissions(self, project: str, asked: Iterable[str]) -> list[str] | None:
        """The asked permissions the caller holds on the project; None when Resource Manager cannot be asked."""
        if self.rm is None:
            return None
        response = self.rm.test_iam_permissions(
            request={"resource": f"projects/{project}", "permissions": list(asked)}, timeout=BQ_REQUEST_SECONDS
        )
        return list(response.permissions)

    def check_project_permissions(self, nodes: list[BatchNode]) -> list[Check]:
        checks = []
        bq_projects = sorted({n.database for n in nodes})
        vertex_projects = sorted({self.settings_of(n).vertex_project or n.database for n in nodes})
        for project in bq_projects:
            held = self._project_permissions(project, PROJECT_PERMISSIONS + DATASET_PERMISSIONS)
            if held is None:
                checks.append(Check(SKIP, f"permissions project {project}", "Resource Manager not reachable"))
                continue
            lacking = missing(PROJECT_PERMISSIONS, held)
            checks.append(
                Check(FAIL, f"permissions project {project}", f"missing {', '.join(lacking)} (BigQuery jobs: every "
                      "query, export and load of dbt and the hook)", f"grant roles/bigquery.jobUser on {project}")
                if lacking else
                Check(PASS, f"permissions project {project}", ", ".join(PROJECT_PERMISSIONS))
            )  # fmt: skip
            on_datasets = missing(DATASET_PERMISSIONS, held)
            datasets = ", ".join(sorted({n.dataset for n in nodes if n.database == project}))
            checks.append(
                Check(WARN, f"permissions datasets {datasets}", f"{', '.join(on_datasets)} not granted on project "
                      f"{project}; BigQuery cannot be asked about grants on a dataset, so make sure they are granted "
                      "there", "grant roles/bigquery.dataEditor on each model's dataset (and the ledger's)")
                if on_datasets else
                Check(PASS, f"permissions datasets {datasets}", ", ".join(DATASET_PERMISSIONS) + " (on the project)")
            )  # fmt: skip
        for project in vertex_projects:
            held = self._project_permissions(project, VERTEX_PERMISSIONS)
            if held is None:
                continue
            lacking = missing(VERTEX_PERMISSIONS, held)
            checks.append(
                Check(FAIL, f"permissions vertex {project}", f"missing {', '.join(lacking)}",
                      f"grant roles/aiplatform.user on {project}")
                if lacking else Check(PASS, f"permissions vertex {project}", ", ".join(VERTEX_PERMISSIONS))
            )  # fmt: skip
        return checks

    def _table_check(self, name: str, table: str, asked: tuple[str, ...], built_by: str) -> Check:
        try:
            held = self.ctx.bq.test_iam_permissions(table, list(asked), timeout=BQ_REQUEST_SECONDS).get(
                "permissions", []
            )
        except gexc.NotFound:
            return Check(SKIP, name, f"{table} does not exist yet (checked once built)", built_by)
        lacking = missing(asked, held)
        if lacking:
            return Check(FAIL, name, f"missing {', '.join(lacking)} on {table}",
                         f"grant roles/bigquery.dataEditor on the dataset of {table}")  # fmt: skip
        return Check(PASS, name, f"{', '.join(asked)} on {table}")

    def check_tables(self, node: BatchNode) -> list[Check]:
        build = f"run `dbt run --select {node.name}` first"
        return [
            self._table_check(f"permissions {node.name}__requests", node.requests_table, REQUESTS_TABLE_PERMISSIONS,
                              build),
            self._table_check(f"permissions {node.name}__responses", node.responses_table,
                              RESPONSES_TABLE_PERMISSIONS, build),
        ]  # fmt: skip

    # -- the Vertex AI service agent -------------------------------------------------------------------------------
    def check_service_agent(self, nodes: list[BatchNode]) -> list[Check]:
        if self.rm is None:
            return []
        checks = []
        for vertex_project in sorted({self.settings_of(n).vertex_project or n.database for n in nodes}):
            try:
                number = self.rm.get_project(name=f"projects/{vertex_project}", timeout=BQ_REQUEST_SECONDS).name
            except gexc.GoogleAPICallError as exc:
                why = f"cannot read project {vertex_project} ({exc.code}) to name its Vertex AI service agent"
                checks.append(Check(WARN, "service agent", why, "grant resourcemanager.projects.get"))
                continue
            agent = service_agent(number.rsplit("/", 1)[-1])
            datasets = sorted({(n.database, n.dataset.rsplit(".", 1)[-1]) for n in nodes
                               if (self.settings_of(n).vertex_project or n.database) == vertex_project})  # fmt: skip
            for project, dataset in datasets:
                checks.append(self._agent_on_dataset(agent, vertex_project, project, dataset))
        return checks

    def _agent_on_dataset(self, agent: str, vertex_project: str, project: str, dataset: str) -> Check:
        assert self.rm is not None  # check_service_agent asks only with a Resource Manager client
        name = f"service agent on {project}.{dataset}"
        try:
            entries = self.ctx.bq.get_dataset(f"{project}.{dataset}", timeout=BQ_REQUEST_SECONDS).access_entries
        except gexc.NotFound:
            return Check(SKIP, name, f"dataset {project}.{dataset} does not exist yet")
        for entry in entries:
            if (entry.entity_id or "").lower() == agent and (entry.role or "") in AGENT_DATASET_ROLES:
                return Check(PASS, name, f"{agent} has {entry.role} on the dataset")
        try:
            policy = self.rm.get_iam_policy(request={"resource": f"projects/{project}"}, timeout=BQ_REQUEST_SECONDS)
        except gexc.GoogleAPICallError as exc:
            return Check(
                WARN,
                name,
                f"{agent} has no role on the dataset, and project {project}'s IAM policy cannot be read ({exc.code})",
                f"grant {agent} roles/bigquery.dataEditor on {project}.{dataset}",
            )
        roles = {b.role for b in policy.bindings if f"serviceAccount:{agent}" in b.members}
        usable = AGENT_PROJECT_ROLES | ({SERVICE_AGENT_ROLE} if project == vertex_project else set())
        if roles & usable:
            return Check(PASS, name, f"{agent} has {', '.join(sorted(roles & usable))} on project {project}")
        return Check(
            FAIL, name, f"the Vertex AI service agent {agent} has no role that reads and writes {project}.{dataset} "
            "(Vertex reads the job input and creates the output table there)",
            f"grant {agent} roles/bigquery.dataEditor on the dataset {project}.{dataset}"
            + ("" if project == vertex_project else f" and roles/bigquery.user on {project}"),
        )  # fmt: skip

    # -- Cloud Storage -----------------------------------------------------------------------------------------------
    def check_bucket(self, node: BatchNode) -> list[Check]:
        settings = self.settings_of(node)
        if settings.transport != "gcs" or not settings.gcs_prefix:
            return []
        bucket_name, _ = gcs.split_uri(settings.gcs_prefix)
        name = f"bucket gs://{bucket_name}"
        try:
            held = (
                self.ctx.storage()
                .bucket(bucket_name)
                .test_iam_permissions(list(BUCKET_PERMISSIONS), timeout=BQ_REQUEST_SECONDS)
            )
        except gexc.NotFound:
            return [Check(FAIL, name, "does not exist", f"create it in the dataset's location ({node.dataset})")]
        lacking = missing(BUCKET_PERMISSIONS, held)
        checks = [
            Check(FAIL, f"permissions {name}", f"missing {', '.join(lacking)} ({node.name}, transport gcs)",
                  f"grant roles/storage.objectAdmin on gs://{bucket_name}"
                  + (" and a role with storage.buckets.get (roles/storage.legacyBucketReader)"
                     if "storage.buckets.get" in lacking else ""))
            if lacking else Check(PASS, f"permissions {name}", ", ".join(BUCKET_PERMISSIONS))
        ]  # fmt: skip
        try:
            check_bucket_location(self.ctx, node, settings)
        except BatchError as exc:
            checks.append(Check(FAIL, f"location {name}", str(exc).removeprefix(f"{node.name}: "),
                                "use a bucket in the dataset's region for gcs_prefix"))  # fmt: skip
        else:
            checks.append(Check(PASS, f"location {name}", "in the dataset's location"))
        return checks


def resource_manager_client(credentials: Any) -> Any:
    """Resource Manager v3 with dbt's credentials; on the local stack it is served at the local BigQuery's endpoint
    (gemini_batch.local.bqemulator_iam)."""
    from dbt.adapters.bigquery.credentials import create_google_credentials
    from google.api_core.client_options import ClientOptions
    from google.cloud import resourcemanager_v3

    endpoint = getattr(credentials, "api_endpoint", None) or ""
    if endpoint.startswith("http://"):
        return resourcemanager_v3.ProjectsClient(
            transport="rest",
            credentials=create_google_credentials(credentials),
            client_options=ClientOptions(api_endpoint=endpoint),
        )
    return resourcemanager_v3.ProjectsClient(credentials=create_google_credentials(credentials))


def report(checks: list[Check]) -> tuple[str, bool]:
    """The lines to print and whether every check passed (warnings and skips do not fail)."""
    lines = [c.line() for c in checks]
    failed = [c for c in checks if c.status == FAIL]
    counts = {s: sum(c.status == s for c in checks) for s in (PASS, FAIL, WARN, SKIP)}
    lines.append(", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n) + (
        ": fix the failures above before the first paid run" if failed else ": ready for a first run"))  # fmt: skip
    return "\n".join(lines), not failed
