# tests/lib.sh - sourced by every tests/t_*.sh file.
#
# A test file is a list of cases; each case ends in ok/not_ok/skip, which
# print one line and append to $RESULTS for tests/run.sh to count.
#
#   $CARECAST  the binary under test (the ASan+UBSan build in `make check`)
#   $ROOT      the repository root
#   $T         a fresh temporary folder for this file, removed at exit
#   cc ARGS    runs $CARECAST ARGS
set -u
ROOT=${ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
CARECAST=${CARECAST:-$ROOT/carecast}
RESULTS=${RESULTS:-/dev/null}
T=$(mktemp -d "${TMPDIR:-/tmp}/carecast-test.XXXXXX")
TEST_FILE=$(basename "$0" .sh)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=98}
unset CARECAST_CONFIG

_cleanup_hooks=""
at_exit() { _cleanup_hooks="$1; $_cleanup_hooks"; }
trap 'eval "$_cleanup_hooks"; [ -n "${KEEP_T:-}" ] || rm -rf "$T"' EXIT INT TERM

ok()     { echo "ok     $TEST_FILE: $1"; echo "PASS $TEST_FILE: $1" >> "$RESULTS"; }
not_ok() { echo "FAIL   $TEST_FILE: $1${2:+ -- $2}"; echo "FAIL $TEST_FILE: $1" >> "$RESULTS"; }
skip()   { echo "skip   $TEST_FILE: $1${2:+ -- $2}"; echo "SKIP $TEST_FILE: $1" >> "$RESULTS"; }

cc() { "$CARECAST" "$@"; }

# check NAME CONDITION-COMMAND...: ok when the command succeeds.
check() {
  _name=$1; shift
  if "$@"; then ok "$_name"; else not_ok "$_name"; fi
}

# sanitizer FILE: whether FILE (a command's stderr) holds a sanitizer report.
sanitizer() { grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|AddressSanitizer|UndefinedBehaviorSanitizer' "$1"; }

# expect_status CODE NAME CMD...: runs CMD, output in $T/out and $T/err.
# A sanitizer report (exit 98/99) always fails.
expect_status() {
  _want=$1; _name=$2; shift 2
  "$@" > "$T/out" 2> "$T/err"; _got=$?
  if [ "$_got" = "$_want" ] && ! grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/err"; then
    ok "$_name"
  else
    not_ok "$_name" "exit $_got, wanted $_want; stderr: $(head -c 600 "$T/err")"
  fi
}

# A free loopback TCP port.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT [SECONDS]: wait until something listens on 127.0.0.1:PORT.
wait_port() {
  _p=$1; _n=$(( ${2:-10} * 10 ))
  while [ "$_n" -gt 0 ]; do
    python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$_p)))" && return 0
    sleep 0.1; _n=$((_n - 1))
  done
  return 1
}

# A checksum of a database file's logical content (schema and rows), for
# "nothing changed" assertions that do not depend on page layout.
db_sum() { sqlite3 "$1" .dump 2>/dev/null | sha256sum | cut -d' ' -f1; }
