#!/usr/bin/env bash
# The README's test command (`make test`) and CI's: static checks, then every pytest test (unit + integration; the
# integration tests start and stop their own local stack on free loopback ports).
set -uo pipefail
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
bash scripts/lint.sh || { echo "lint failed"; exit 1; }
python -m pytest "$@"
rc=$?
# pytest exits 5 when it collected no test: that must fail, not pass quietly.
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi
exit "$rc"
