#!/usr/bin/env bash
# The README's test command: the whole suite on 2 workers; fails loudly when no test ran.
set -uo pipefail
cd "$(dirname "$0")/.."
python3 -m pytest -n 2 -p no:cacheprovider "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "ERROR: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
