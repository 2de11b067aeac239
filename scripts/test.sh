#!/usr/bin/env bash
# The README's test command (`make test`) and CI's: static checks, then every pytest test (unit + integration; the
# integration tests start and stop their own local stack on free loopback ports).
set -uo pipefail
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
bash scripts/lint.sh || { echo "lint failed"; exit 1; }
# Two workers, each with its own local stack on its own ports: the integration tests spend most of their time waiting
# on dbt start-up and the emulators, so two halve the wall time on 2 cores. worksteal keeps both busy to the end (the
# slowest tests otherwise queue behind one worker). GEMINI_BATCH_TEST_WORKERS=0 runs everything in one process.
python -m pytest -n "${GEMINI_BATCH_TEST_WORKERS:-2}" --dist worksteal --durations=25 "$@"
rc=$?
# pytest exits 5 when it collected no test: that must fail, not pass quietly.
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi
exit "$rc"
