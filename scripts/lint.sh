#!/usr/bin/env bash
# Static checks: Python lint + format, types, SQL lint. Run from the repo root with the venv's bin on PATH.
set -euo pipefail
ruff check python_hooks tests benchmarks
ruff format --check python_hooks tests benchmarks
mypy
sqlfluff lint macros models integration_tests/models integration_tests/tests --dialect bigquery
