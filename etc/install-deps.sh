#!/bin/sh
# install-deps.sh - install the Debian packages carecast needs that are missing.
#
#   etc/install-deps.sh build   compiler, pkg-config and the -dev libraries
#   etc/install-deps.sh test    build + the real servers the tests start
#                               (Postfix smtp-sink, Kannel + fakesmsc, sqlite3),
#                               valgrind (t_valgrind), clang with libFuzzer
#                               (tests/fuzz/) and headless Chromium, which
#                               renders the HTML report (a 120 MB download;
#                               under a minute)
#   etc/install-deps.sh bench   test + the baselines the benchmarks compare with
#                               (apache2-utils: ab against Kannel's sendsms)
#   etc/install-deps.sh valgrind build + valgrind (make valgrind)
#
# As root it runs `apt-get update` once and `apt-get install -y`; otherwise it
# prints the exact command to run and exits 1.  Packages already installed
# are not touched, so a second run costs one dpkg query.
set -u
what=${1:-build}

build_pkgs="gcc make pkg-config libyaml-dev libsqlite3-dev libcurl4-openssl-dev libesmtp-dev libicu-dev libssl-dev libmicrohttpd-dev"
test_pkgs="postfix kannel kannel-extras sqlite3 python3 procps time python3-jinja2 chromium apache2-utils curl valgrind clang libclang-rt-14-dev"
# apache2-utils (ab) and curl are in both: tests/t_bench.sh runs every benchmark, baselines included, at a tiny size.
bench_pkgs="apache2-utils curl"   # ab, the SMS baseline, and curl beside it (Jinja2, smtp-source, Kannel come with test)

case "$what" in
  build) pkgs="$build_pkgs" ;;
  test)  pkgs="$build_pkgs $test_pkgs" ;;
  bench) pkgs="$build_pkgs $(printf '%s\n' $test_pkgs $bench_pkgs | sort -u | tr '\n' ' ')" ;;
  valgrind) pkgs="$build_pkgs valgrind" ;;
  *) echo "usage: $0 build|test|bench|valgrind" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "carecast: missing packages:$missing" >&2
  echo "carecast: this is not a Debian system; install the equivalents by hand." >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "carecast: missing packages:$missing" >&2
  echo "carecast: run as root:  apt-get update && apt-get install -y$missing" >&2
  exit 1
fi

echo "carecast: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Postfix asks how to configure itself; carecast only uses its smtp-sink and
# smtp-source tools, so no local mail system is configured.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
apt-get update -qq >/dev/null || { echo "carecast: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
  echo "carecast: apt-get install -y$missing failed" >&2; exit 1; }
exit 0
