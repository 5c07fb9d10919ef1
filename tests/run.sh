#!/bin/sh
# tests/run.sh - runs every tests/t_*.sh (or the files named) and prints one
# closing line "N passed, M failed, K skipped"; exits 1 on any failure.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export ROOT
export CARECAST=${CARECAST:-$ROOT/carecast}
RESULTS=$(mktemp "${TMPDIR:-/tmp}/carecast-results.XXXXXX")
export RESULTS
files=${*:-$(ls "$ROOT"/tests/t_*.sh)}
crashed=0
for f in $files; do
  echo "== $(basename "$f")"
  sh "$f"; rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL   $(basename "$f" .sh): the test file itself exited $rc"
    echo "FAIL $(basename "$f"): exited $rc" >> "$RESULTS"
    crashed=$((crashed + 1))
  fi
done
passed=$(grep -c '^PASS' "$RESULTS")
failed=$(grep -c '^FAIL' "$RESULTS")
skipped=$(grep -c '^SKIP' "$RESULTS")
if [ "$failed" -gt 0 ]; then
  echo; echo "Failed:"; grep '^FAIL' "$RESULTS" | sed 's/^FAIL /  /'
fi
rm -f "$RESULTS"
echo
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
