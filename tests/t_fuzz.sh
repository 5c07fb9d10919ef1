#!/bin/sh
# t_fuzz.sh - runs every libFuzzer harness (tests/fuzz/fuzz_*.c, built by
# `make check` / `make fuzz` into build/fuzz/) for ${FUZZ_SECONDS:-60}
# seconds, two at a time, on a scratch copy of its seed corpus
# (tests/fuzz/corpus/NAME is never written).  Any crash, leak, UB report,
# timeout (10 s per input) or out-of-memory fails the case and names the
# input that caused it.  This file builds nothing: a missing clang or a
# missing harness is a failure, not a skip.
#
#   FUZZ_SECONDS  seconds per harness (default 60)
#   FUZZ_WORK     keep corpora, logs and crash inputs here (default: $T,
#                 removed at exit); `make fuzz` uses build/fuzz/work
#   FUZZ_ONLY     run only these harnesses ("expr serve"; default all)
#   FUZZ_SEED     libFuzzer's -seed (default 1: `make check` starts from the
#                 same mutations each time, though a timed run is never quite
#                 the same twice; `make fuzz` passes 0: a new random seed)
. "$(dirname "$0")/lib.sh"

SECONDS_EACH=${FUZZ_SECONDS:-60}
WORK=${FUZZ_WORK:-$T/fuzz}
mkdir -p "$WORK"

# name and -max_len: long enough for the real inputs, short enough that
# the fuzzer spends its time on structure rather than on bulk.
HARNESSES="campaign:8192 expr:1024 liquid:4096 csv:8192 mime:4096 serve:4096"
if [ -n "${FUZZ_ONLY:-}" ]; then
  _all=$HARNESSES; HARNESSES=""
  for _h in $_all; do
    case " $FUZZ_ONLY " in *" ${_h%%:*} "*) HARNESSES="$HARNESSES $_h" ;; esac
  done
  [ -n "$HARNESSES" ] || not_ok "FUZZ_ONLY names a harness" "no harness in '$FUZZ_ONLY'"
fi

if ! command -v clang >/dev/null 2>&1; then
  not_ok "clang is installed" "the fuzz harnesses need clang and libFuzzer: sh etc/install-deps.sh test"
fi

# run_one NAME MAXLEN: one harness in the background; its log is
# $WORK/NAME.log and its exit status $WORK/NAME.rc.
run_one() {
  _n=$1; _len=$2
  rm -rf "$WORK/corpus/$_n" "$WORK/crashes/$_n"
  mkdir -p "$WORK/corpus/$_n" "$WORK/crashes/$_n"
  cp "$ROOT/tests/fuzz/corpus/$_n/"* "$WORK/corpus/$_n/" 2>/dev/null
  (
    cd "$WORK" || exit 1
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    nice -n 10 "$ROOT/build/fuzz/fuzz_$_n" -max_total_time="$SECONDS_EACH" -max_len="$_len" -timeout=10 -seed="${FUZZ_SEED:-1}" \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$WORK/crashes/$_n/" \
      "$WORK/corpus/$_n" > "$WORK/$_n.log" 2>&1
    echo $? > "$WORK/$_n.rc"
  ) &
}

# report NAME: ok or not_ok from what run_one left.
report() {
  _n=$1
  _rc=$(cat "$WORK/$_n.rc" 2>/dev/null || echo missing)
  _execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$_n.log" | tail -1)
  _files=$(ls "$WORK/corpus/$_n" | wc -l)
  _crash=$(ls "$WORK/crashes/$_n" 2>/dev/null | head -1)
  if [ "$_rc" = 0 ] && [ -z "$_crash" ]; then
    ok "fuzz_$_n ran ${SECONDS_EACH}s without a crash (${_execs:-?} inputs, corpus $_files files)"
  else
    _what=$(grep -a -m1 -E '^==[0-9]+==ERROR|runtime error:|ERROR: libFuzzer|^fuzz_[a-z]+: ' "$WORK/$_n.log")
    not_ok "fuzz_$_n ran ${SECONDS_EACH}s without a crash" \
      "exit $_rc; ${_what:-see the log}; input: ${_crash:+$WORK/crashes/$_n/$_crash}; log: $WORK/$_n.log"
    [ -n "${FUZZ_WORK:-}" ] || { echo "--- $WORK/$_n.log (tail)"; tail -40 "$WORK/$_n.log"; }
  fi
}

pending=""
for h in $HARNESSES; do
  n=${h%%:*}; len=${h#*:}
  if [ ! -x "$ROOT/build/fuzz/fuzz_$n" ]; then
    not_ok "fuzz_$n is built" "no $ROOT/build/fuzz/fuzz_$n: run make check (or make build/fuzz/fuzz_$n; needs clang)"
    continue
  fi
  if [ ! -d "$ROOT/tests/fuzz/corpus/$n" ]; then
    not_ok "fuzz_$n has a seed corpus" "no tests/fuzz/corpus/$n"
    continue
  fi
  run_one "$n" "$len"
  pending="$pending $n"
  # two at a time: the machine has two cores
  if [ "$(echo $pending | wc -w)" -ge 2 ]; then
    wait
    for p in $pending; do report "$p"; done
    pending=""
  fi
done
wait
for p in $pending; do report "$p"; done
