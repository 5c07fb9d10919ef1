#!/bin/sh
# The Liquid conformance vectors (liquid-spec) through carecast's template
# engine: build/san/liquid_conformance runs every case; this passes when
# every case that is not skipped for a named out-of-scope feature passes,
# except those in tests/liquid-known-failures.txt.  A listed case that
# starts passing fails too, so the list can only shrink.
. "$(dirname "$0")/lib.sh"

DIR=${LIQUID_SPEC_DIR:-$ROOT/../shared/conformance/liquid-spec}
case $DIR in /*) ;; *) DIR=$ROOT/$DIR ;; esac
RUNNER=$ROOT/build/san/liquid_conformance
KNOWN=$ROOT/tests/liquid-known-failures.txt

if [ ! -d "$DIR" ]; then
  skip "liquid conformance" "no vectors in $DIR"
  exit 0
fi
if [ ! -x "$RUNNER" ] || [ "$ROOT/tests/liquid_conformance.c" -nt "$RUNNER" ]; then
  make -C "$ROOT" --no-print-directory build/san/liquid_conformance > "$T/build" 2>&1 ||
    { not_ok "build the conformance runner" "$(tail -5 "$T/build")"; exit 0; }
fi

"$RUNNER" "$DIR" > "$T/out" 2> "$T/err"
rc=$?
summary=$(grep '^conformance:' "$T/out")
echo "       $summary"
grep '^  skipped' "$T/out" | sed 's/^/     /'

if [ -n "$summary" ] && [ $rc -le 1 ] && ! grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/err"; then
  ok "the runner completes without a sanitizer report"
else
  not_ok "the runner completes without a sanitizer report" "exit $rc: $(head -c 600 "$T/err")"
fi

grep '^FAIL ' "$T/out" | awk '{print $2}' | sort -u > "$T/failing"
grep -v -e '^#' -e '^[[:space:]]*$' "$KNOWN" | awk '{print $1}' | sort -u > "$T/known"

unlisted=$(comm -23 "$T/failing" "$T/known")
if [ -z "$unlisted" ]; then
  ok "every case outside the known-failures list passes"
else
  for n in $unlisted; do grep "^FAIL $n " "$T/out"; done
  not_ok "every case outside the known-failures list passes" "failing: $(echo $unlisted)"
fi

fixed=$(comm -13 "$T/failing" "$T/known")
if [ -z "$fixed" ]; then
  ok "every listed known failure still fails (the list is current)"
else
  not_ok "every listed known failure still fails (the list is current)" "now passing, remove from $KNOWN: $(echo $fixed)"
fi
