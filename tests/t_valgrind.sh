#!/bin/sh
# The main command paths under valgrind memcheck in `make check` (the
# sanitizer build cannot run under valgrind, so this runs the optimised
# ./carecast that `make check` also builds): tests/valgrind.sh, whose
# cases count here like any other.
ROOT=${ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
CARECAST=$ROOT/carecast sh "$ROOT/tests/valgrind.sh"
