#!/usr/bin/env bash
# Set up everything the test suite needs, then run it.  Extra arguments go to pytest.
#
# With options only (no test paths), the packaging tests (tests/packaging: minutes of package
# builds, debootstrap and apt, mostly waiting on the network and the disk) run in a second
# pytest beside the rest of the suite, their output shown when both are done; the run fails
# when either does.  JETSENTRY_TEST_SERIAL=1 runs everything in one pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
PYTEST=(.venv/bin/python -m pytest)

paths_given=0
for arg in "$@"; do
  [[ $arg == -* ]] || paths_given=1
done
if [[ $paths_given == 1 || ${JETSENTRY_TEST_SERIAL:-0} == 1 ]]; then
  exec "${PYTEST[@]}" "$@"
fi

log=$(mktemp -t jetsentry-packaging-tests.XXXXXX)
"${PYTEST[@]}" -p no:cacheprovider "$@" tests/packaging >"$log" 2>&1 &
packaging=$!
trap 'kill "$packaging" 2>/dev/null || true' INT TERM
status=0
"${PYTEST[@]}" "$@" --ignore=tests/packaging || status=$?
packaging_status=0
wait "$packaging" || packaging_status=$?
echo
echo "---- tests/packaging (run beside the rest) ----"
cat "$log"
rm -f "$log"
# pytest's 5 is "no tests collected": the rest ran, so that alone is no failure of the run.
if [[ $status == 0 && $packaging_status != 0 && $packaging_status != 5 ]]; then
  status=$packaging_status
fi
exit "$status"
