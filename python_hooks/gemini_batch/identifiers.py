"""BigQuery identifiers that reach SQL: checked against BigQuery's naming rules, then quoted with backticks.

A table id comes from dbt (relations of the model, the ledger source whose project and dataset are vars) and is put
into SQL text, because BigQuery takes no query parameter for a table name. A backtick, a space or a dot in a var would
break the statement or change what it reads; so every id is checked here before any SQL is built, and refused with a
sentence naming where it came from.

Rules (cloud.google.com/bigquery/docs/datasets#dataset-naming, .../tables#table_naming,
cloud.google.com/resource-manager/docs/creating-managing-projects#before_you_begin):
- project: 6 to 30 characters, lower-case letters, digits and hyphens, starting with a letter and not ending with a
  hyphen; a domain-scoped project is `example.com:my-project`;
- dataset: up to 1,024 letters, digits and underscores;
- table: up to 1,024 UTF-8 bytes of Unicode letters, marks, numbers, connectors (underscore), dashes and spaces. The
  package names its own tables, so it accepts the conservative subset letters, digits, underscore and hyphen (no
  spaces) for them.
"""

from __future__ import annotations

import re

PROJECT = re.compile(r"([a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
DATASET = re.compile(r"[A-Za-z0-9_]{1,1024}")
TABLE = re.compile(r"[\w-]{1,1024}")  # \w: Unicode letters, digits, underscore


class IdentifierError(ValueError):
    """An identifier BigQuery would refuse or misread; the message names where it came from and the rule."""


def check_table_id(table_id: str, what: str) -> str:
    """`project.dataset.table` checked part by part; returns it unchanged. `what` says where it came from."""
    # from the right: a domain-scoped project holds a dot itself (example.com:proj.dataset.table)
    parts = table_id.rsplit(".", 2)
    if len(parts) != 3:
        raise IdentifierError(f"{what} {table_id!r} must be project.dataset.table")
    project, dataset, table = parts
    check_project(project, what)
    check_dataset(dataset, what)
    if not TABLE.fullmatch(table) or len(table.encode()) > 1024:
        raise IdentifierError(
            f"{what}: table name {table!r} is not a BigQuery table name the package uses "
            "(letters, digits, underscores and hyphens, at most 1,024 bytes)"
        )
    return table_id


def check_project(project: str, what: str) -> str:
    if not PROJECT.fullmatch(project):
        raise IdentifierError(
            f"{what}: project {project!r} is not a Google Cloud project ID (6 to 30 lower-case letters, digits or "
            "hyphens, starting with a letter; e.g. my-project-123)"
        )
    return project


def check_dataset(dataset: str, what: str) -> str:
    if not DATASET.fullmatch(dataset):
        raise IdentifierError(
            f"{what}: dataset {dataset!r} is not a BigQuery dataset name (letters, digits and underscores only, at "
            "most 1,024; no spaces, dots, hyphens or backticks)"
        )
    return dataset


def quoted(table_id: str, what: str) -> str:
    """The checked id in backticks, ready for SQL text."""
    return f"`{check_table_id(table_id, what)}`"
