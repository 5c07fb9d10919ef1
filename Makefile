# carecast - build, test and demo.
#
#   make            build ./carecast (optimised)
#   make demo       install what is missing, build, make a demo database and
#                   run the example campaigns into var/outbox/
#   make check      install what is missing (with the real test servers),
#                   build with ASan+UBSan and run every test
#   make fuzz       build the libFuzzer harnesses (tests/fuzz/) with clang and
#                   run each for FUZZ_SECONDS (default 600), two at a time
#                   (FUZZ_ONLY="expr serve" for some)
#   make install PREFIX=/usr/local
#   make crash-test 20 SIGKILLs during a 20,000-message send (tests/crash_scale.sh)
#   make valgrind   the main commands under valgrind (tests/valgrind.sh)
#
# Dependencies come from pkg-config; etc/install-deps.sh installs the Debian
# packages that provide them.

PREFIX   ?= /usr/local
CC       ?= cc
PKGS      = yaml-0.1 sqlite3 libcurl libesmtp-1.0 icu-i18n icu-uc libcrypto libmicrohttpd
# libcurl and libmicrohttpd are not linked: engine/netlib.c opens them when
# a command first needs them (netlib.h says why), by the soname of the file
# pkg-config points at, which etc/sonames.sh writes into build/sonames.h.
#
# pkg-config runs when this file is read, so every target that installs
# packages first (all, demo, check, bench) builds in a sub-make: on a fresh
# machine the flags are read after `deps` has installed the -dev packages.
DLOPEN_PKGS = libcurl libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -Ibuild
PKG_LIBS   := $(shell pkg-config --libs $(filter-out $(DLOPEN_PKGS),$(PKGS)) 2>/dev/null)
SONAMES     = build/sonames.h

WARN      = -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CSTD      = -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -pthread
OPT_FLAGS = -O2 -g
SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRCS := $(sort $(wildcard engine/*.c))
OBJS      := $(patsubst engine/%.c,build/opt/%.o,$(SRCS))
SAN_OBJS  := $(patsubst engine/%.c,build/san/%.o,$(SRCS))

.PHONY: all deps test-deps bench-deps demo check test install clean bench conformance crash-test valgrind fuzz

all: deps
	@$(MAKE) --no-print-directory carecast

deps:
	@sh etc/install-deps.sh build

test-deps:
	@sh etc/install-deps.sh test

bench-deps:
	@sh etc/install-deps.sh bench

carecast: $(OBJS)
	$(CC) $(OPT_FLAGS) -o $@ $(OBJS) $(PKG_LIBS) -lm -pthread

build/san/carecast: $(SAN_OBJS)
	$(CC) $(SAN_FLAGS) -o $@ $(SAN_OBJS) $(PKG_LIBS) -lm -pthread

build/opt/%.o: engine/%.c engine/*.h $(SONAMES) | build/opt
	$(CC) $(CSTD) $(WARN) $(OPT_FLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/san/%.o: engine/%.c engine/*.h $(SONAMES) | build/san
	$(CC) $(CSTD) $(WARN) $(SAN_FLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/opt build/san:
	mkdir -p $@

$(SONAMES):
	@sh etc/sonames.sh $@

demo: deps
	@$(MAKE) --no-print-directory carecast
	@sh tests/demo.sh

check: test-deps
	@$(MAKE) --no-print-directory carecast build/san/carecast build/san/liquid_conformance build/san/tpl_vars_check build/bench/render_bench \
	  $(FUZZ_BINS)
	@CARECAST=$(CURDIR)/build/san/carecast sh tests/run.sh

test: check

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/carecast
	install -m 755 carecast $(DESTDIR)$(PREFIX)/bin/carecast
	install -m 644 docs/carecast.1 $(DESTDIR)$(PREFIX)/share/man/man1/carecast.1
	install -d $(DESTDIR)$(PREFIX)/share/doc/carecast
	install -m 644 README.md docs/campaigns.md docs/cli.md docs/config.md $(DESTDIR)$(PREFIX)/share/doc/carecast
	install -m 644 etc/carecast.yaml $(DESTDIR)$(PREFIX)/share/carecast/carecast.yaml.example
	cp -r rules templates $(DESTDIR)$(PREFIX)/share/carecast/

clean:
	rm -rf build carecast

# The Liquid conformance vectors (tests/liquid_conformance.c), built with the
# sanitizers so a crash or leak in the template engine fails the run.
LIQUID_SPEC_DIR ?= ../shared/conformance/liquid-spec
LIQUID_OBJS = liquid_value liquid_parse liquid_render liquid_filters cc clock

build/san/liquid_conformance: tests/liquid_conformance.c $(patsubst %,build/san/%.o,$(LIQUID_OBJS)) engine/*.h | build/san
	$(CC) $(CSTD) $(WARN) $(SAN_FLAGS) $(PKG_CFLAGS) -o $@ tests/liquid_conformance.c \
	  $(patsubst %,build/san/%.o,$(LIQUID_OBJS)) $(PKG_LIBS) -lm

# The template variables reused across messages against fresh ones
# (tests/tpl_vars_check.c, run by tests/t_templates.sh).
build/san/tpl_vars_check: tests/tpl_vars_check.c $(patsubst %,build/san/%.o,template $(LIQUID_OBJS)) engine/*.h | build/san
	$(CC) $(CSTD) $(WARN) $(SAN_FLAGS) $(PKG_CFLAGS) -Iengine -o $@ tests/tpl_vars_check.c \
	  $(patsubst %,build/san/%.o,template $(LIQUID_OBJS)) $(PKG_LIBS) -lm

conformance: build/san/liquid_conformance
	build/san/liquid_conformance $(LIQUID_SPEC_DIR)

# Benchmarks (bench/README.md): optimised build, baselines side by side,
# figures written to docs/BENCHMARKS.md.
build/bench/render_bench: bench/render_bench.c $(filter-out build/opt/main.o,$(OBJS)) engine/*.h
	mkdir -p build/bench
	$(CC) $(CSTD) $(WARN) $(OPT_FLAGS) $(PKG_CFLAGS) -Iengine -o $@ bench/render_bench.c \
	  $(filter-out build/opt/main.o,$(OBJS)) $(PKG_LIBS) -lm -pthread

# The build is a sub-make so that pkg-config runs after bench-deps installed
# the libraries (a fresh machine).
bench: bench-deps
	@$(MAKE) --no-print-directory carecast build/bench/render_bench
	@sh bench/run.sh

# Reliability (docs/RELIABILITY.md): the full crash test against smtp-sink
# with the optimised binary, and valgrind over the main command paths.
crash-test: test-deps
	@$(MAKE) --no-print-directory carecast
	@CARECAST=$(CURDIR)/carecast sh tests/crash_scale.sh 20 20000

valgrind:
	@sh etc/install-deps.sh valgrind
	@$(MAKE) --no-print-directory carecast
	@CARECAST=$(CURDIR)/carecast sh tests/valgrind.sh

# Fuzzing (tests/fuzz/, docs/RELIABILITY.md): libFuzzer harnesses built with
# clang over the engine objects compiled again with the fuzzer's coverage
# instrumentation and ASan+UBSan (main.c left out: each harness has its own
# entry point).  `make check` builds them and tests/t_fuzz.sh runs each for
# a minute; `make fuzz` runs each for FUZZ_SECONDS into a scratch copy of
# its seed corpus under build/fuzz/work/ and reports what crashed.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 600
FUZZ_ONLY    ?=
FUZZ_WORK    ?= $(CURDIR)/build/fuzz/work
FUZZ_NAMES    = campaign expr liquid csv mime serve
FUZZ_SAN      = -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_OBJS    := $(patsubst engine/%.c,build/fuzz/obj/%.o,$(filter-out engine/main.c,$(SRCS)))
FUZZ_BINS    := $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_NAMES))

build/fuzz/obj/%.o: engine/%.c engine/*.h $(SONAMES) | build/fuzz/obj
	$(FUZZ_CC) $(CSTD) $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer-no-link,address,undefined $(PKG_CFLAGS) -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS) engine/*.h | build/fuzz/obj
	$(FUZZ_CC) $(CSTD) $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) -Iengine -o $@ $< \
	  $(FUZZ_OBJS) $(PKG_LIBS) -lm -pthread

# Kept: pattern-rule intermediates would be deleted after each link.
.SECONDARY: $(FUZZ_OBJS)

build/fuzz/obj:
	mkdir -p $@

fuzz: test-deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_ONLY="$(FUZZ_ONLY)" FUZZ_WORK=$(FUZZ_WORK) FUZZ_SEED=0 sh tests/run.sh tests/t_fuzz.sh
