# tesoro — build, test and install.
#
#   make            libtesoro.a, libtesoro.so (with SONAME) and tesoro.pc in build/
#   make example    the end-to-end walk of the workflows on build/example.db
#   make test       every cmocka suite under test/, then EXTRA_TESTS
#   make test-replication     Litestream: replicate, kill, restore, erase
#   make test-python-package  the Python package pip-installed in a venv
#   make host       the reference web host (examples/host/) as build/host
#   make test-host  the host driven in headless Chromium; host-screenshot
#   make asan       the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make valgrind   the test suite under valgrind (leaks and errors are failures)
#   make bench      tesoro against the raw-SQLite floor, one line per figure
#   make fuzz       libFuzzer harnesses, FUZZ_SECONDS (60) each, from test/corpus
#   make install    PREFIX=/usr/local DESTDIR= ; make uninstall
#   make deps       install missing Debian -dev packages (skipped when present)
#
# Dependencies are found with pkg-config.  Their flags are expanded when a
# recipe runs (recursive `=`), after `deps` has had a chance to install them.

VERSION      = 0.1.0
SOVERSION    = 0
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
PKGCONFIGDIR?= $(LIBDIR)/pkgconfig

CC          ?= cc
CFLAGS      ?= -O2 -g
WARN         = -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
               -Wmissing-prototypes -Wformat=2 -Wno-unused-parameter
CPPFLAGS    += -D_POSIX_C_SOURCE=200809L

LIB_PKGS     = sqlite3 libsodium icu-i18n yajl
TEST_PKGS    = cmocka libical
DEB_PKGS     = pkg-config libsqlite3-dev libsodium-dev libicu-dev libyajl-dev \
               libcmocka-dev libical-dev
LIB_CFLAGS   = $(shell pkg-config --cflags $(LIB_PKGS))
LIB_LIBS     = $(shell pkg-config --libs $(LIB_PKGS))
TEST_CFLAGS  = $(shell pkg-config --cflags $(TEST_PKGS))
TEST_LIBS    = $(shell pkg-config --libs $(TEST_PKGS))

B            = build
SUITES       = $(patsubst test/%.c,%,$(wildcard test/test_*.c))
TEST_BINS    = $(addprefix $(B)/,$(SUITES))
TEST_COMMON  = test/testutil.c test/faultutil.c
EXAMPLES     = $(B)/workflows_example $(B)/quickstart_example

.PHONY: all deps example test run-tests asan valgrind valgrind-build bench fuzz install uninstall clean

all: $(B)/libtesoro.a $(B)/libtesoro.so $(B)/tesoro.pc $(B)/tesoro

deps:
	@if command -v pkg-config >/dev/null 2>&1 && \
	    pkg-config --exists $(LIB_PKGS) $(TEST_PKGS); then :; else \
	  echo "installing missing packages: $(DEB_PKGS)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEB_PKGS); \
	fi

$(B):
	@mkdir -p $(B)

# One object for both libraries: position-independent, hidden by default so
# that only TESORO_API functions are exported.
$(B)/tesoro.o: tesoro.c tesoro.h | deps $(B)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden \
	  $(LIB_CFLAGS) -c tesoro.c -o $@

$(B)/libtesoro.a: $(B)/tesoro.o
	rm -f $@ && ar rcs $@ $^

$(B)/libtesoro.so: $(B)/tesoro.o
	$(CC) -shared -Wl,-soname,libtesoro.so.$(SOVERSION) $(LDFLAGS) \
	  -o $(B)/libtesoro.so.$(VERSION) $^ $(LIB_LIBS)
	ln -sf libtesoro.so.$(VERSION) $(B)/libtesoro.so.$(SOVERSION)
	ln -sf libtesoro.so.$(VERSION) $@

# The .pc names install paths, so `make install` writes it again with the
# PREFIX given there; this copy serves in-tree use.
# The pkg-config file, written by the Makefile itself (no template file):
# PC_TEXT is its text for prefix $(1), libdir $(2), includedir $(3); make
# install writes it again for the directories it installs to.
define PC_TEXT
prefix=$(1)
libdir=$(2)
includedir=$(3)

Name: tesoro
Description: estate-agency workflows as persistent state machines in SQLite
Version: $(VERSION)
Requires.private: $(LIB_PKGS)
Libs: -L$${libdir} -ltesoro
Cflags: -I$${includedir}
endef
export PC_BUILD = $(call PC_TEXT,$(PREFIX),$(LIBDIR),$(INCLUDEDIR))
$(B)/tesoro.pc: Makefile | $(B)
	printf '%s\n' "$$PC_BUILD" > $@

# Tests link the static library so they run from the tree without LD paths.
$(B)/test_%: test/test_%.c $(TEST_COMMON) test/testutil.h test/faultutil.h test/outbox_counts.h $(B)/libtesoro.a | deps
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -I. $(LIB_CFLAGS) $(TEST_CFLAGS) \
	  $< $(TEST_COMMON) -o $@ $(LDFLAGS) $(B)/libtesoro.a $(LIB_LIBS) $(TEST_LIBS)

$(B)/%_example: examples/%.c $(B)/libtesoro.a | deps
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -I. $(LIB_CFLAGS) $< -o $@ \
	  $(LDFLAGS) $(B)/libtesoro.a $(LIB_LIBS)

# test_docs runs the README's quick start (examples/quickstart.c).
$(B)/test_docs: $(B)/quickstart_example

# The `tesoro` command-line tool (examples/cli.c); test_cli runs it.
$(B)/tesoro: examples/cli.c tesoro.h $(B)/libtesoro.a | deps
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -I. $(LIB_CFLAGS) $< -o $@ \
	  $(LDFLAGS) $(B)/libtesoro.a $(LIB_LIBS)

$(B)/test_cli: $(B)/tesoro

# test_machines and test_schema compile tesoro.c into themselves (as the bench
# does) to reach its static tables and the migration runner; the pattern rule
# builds them like every suite.
$(B)/test_machines: tesoro.c
$(B)/test_schema: tesoro.c

# The README's state diagrams, rewritten from the machine tables (test_cli
# fails while one differs).  Without make: test/update_diagrams.sh.
diagrams: $(B)/tesoro
	sh test/update_diagrams.sh README.md $(B)/tesoro

# tesoro.h from C++17 (warnings are errors), linked with the static library.
$(B)/test_cpp: test/test_cpp.cpp tesoro.h $(B)/libtesoro.a | deps
	$(CXX) $(CPPFLAGS) -std=c++17 -Wall -Wextra -Wpedantic -Werror $(CFLAGS) \
	  -I. $(LIB_CFLAGS) $< -o $@ $(LDFLAGS) $(B)/libtesoro.a $(LIB_LIBS)

test-cpp: $(B)/test_cpp
	$(B)/test_cpp

# `make install` into a temporary tree, then build and run consumers with
# nothing but pkg-config, linked dynamically and statically.
test-install: all
	MAKE="$(MAKE)" CC="$(CC)" sh test/install_test.sh

.PHONY: diagrams test-cpp test-install

example: all $(EXAMPLES)
	rm -f $(B)/example.db $(B)/example.db-wal $(B)/example.db-shm
	$(B)/workflows_example $(B)/example.db $(B)/viewing.ics $(B)/agent.ics

# Each suite runs from the tree root (fixtures are read relative to it).
# Under CI=true, `make test` also runs the suites under ASan+UBSan and
# valgrind — side by side, one per core, each in its own build directory,
# the ASan log printed after — so CI runs exactly the README's command and
# still gets both, and then each fuzzer for 5 seconds (`make fuzz`).
#
# EXTRA_TESTS are checks that are not cmocka suites (other languages, the
# installed package); they run once, after the suites, in the plain build.
EXTRA_TESTS  =
EXTRA_TESTS += test-cpp test-install
EXTRA_TESTS += test-python
EXTRA_TESTS += test-replication test-python-package
EXTRA_TESTS += test-host

# The Python binding (the package examples/python/src/tesoro, ctypes over
# libtesoro.so) and its unittest suite, which also compares onboarding.py
# with the C example: test-python runs it on the source tree's package,
# test-python-package on the package pip installs from the tree, without
# the network, into a fresh venv (Debian's python3-venv installed when
# Debian's python3-venv, python3-setuptools and python3-wheel installed
# when missing, as `deps` does).
VENV        = $(B)/venv
VENV_PYTHON = /usr/bin/python3
VENV_DEBS   = python3 python3-venv python3-setuptools python3-wheel
.PHONY: test-python test-python-package
test-python: all $(B)/workflows_example
	TESORO_LIBRARY=$(CURDIR)/$(B)/libtesoro.so \
	  TESORO_EXAMPLE=$(CURDIR)/$(B)/workflows_example \
	  PYTHONPATH=$(CURDIR)/examples/python/src \
	  python3 -m unittest discover -s examples/python -v

test-python-package: all $(B)/workflows_example
	@$(VENV_PYTHON) -c "import venv, ensurepip, setuptools, wheel" \
	  2>/dev/null || { \
	  echo "installing missing packages: $(VENV_DEBS)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(VENV_DEBS); }
	rm -rf $(VENV)
	$(VENV_PYTHON) -m venv --system-site-packages $(VENV)
	$(VENV)/bin/python -m pip install --no-index --no-build-isolation \
	  --disable-pip-version-check --quiet ./examples/python
	rm -rf examples/python/build examples/python/src/tesoro.egg-info
	cd $(B) && LD_LIBRARY_PATH=$(CURDIR)/$(B) \
	  $(CURDIR)/$(VENV)/bin/python -c "import tesoro; print(tesoro.VERSION)"
	TESORO_LIBRARY=$(CURDIR)/$(B)/libtesoro.so \
	  TESORO_EXAMPLE=$(CURDIR)/$(B)/workflows_example TESORO_TEST_INSTALLED=1 \
	  $(VENV)/bin/python -m unittest discover -s examples/python -v

# Litestream 0.3.13 (README, Scale-out): a static binary shipped in an npm
# package, pinned, installed into the build tree when missing (npm itself
# from Debian's nodejs and npm when absent, as `deps` does).  The test
# (test/replication.c) replicates several agency files while a host works
# on them, kills the host, restores, and prints one figures line.
LITESTREAM_NPM     = @flydotio/litestream-linux-x64@1.0.1
LITESTREAM_VERSION = v0.3.13
LITESTREAM         = $(B)/tools/node_modules/@flydotio/litestream-linux-x64/litestream

$(LITESTREAM):
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing missing packages: nodejs npm"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; }
	mkdir -p $(B)/tools
	npm install --prefix $(B)/tools --no-audit --no-fund --save-exact $(LITESTREAM_NPM)
	@v=$$($@ version); [ "$$v" = $(LITESTREAM_VERSION) ] || \
	  { echo "$@ is $$v, not $(LITESTREAM_VERSION)"; rm -f $@; exit 1; }

# The test reads Litestream's LZ4 files with liblz4 (Debian's liblz4-dev,
# installed when missing); only the test links it, not libtesoro.
.PHONY: replication-deps
replication-deps: deps
	@pkg-config --exists liblz4 || { \
	  echo "installing missing packages: liblz4-dev"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq liblz4-dev; }

$(B)/replication: test/replication.c tesoro.h $(B)/libtesoro.a | replication-deps
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -I. $(LIB_CFLAGS) \
	  $(shell pkg-config --cflags liblz4) $< -o $@ \
	  $(LDFLAGS) $(B)/libtesoro.a $(LIB_LIBS) $(shell pkg-config --libs liblz4)

.PHONY: test-replication
test-replication: all $(B)/replication $(LITESTREAM)
	rm -rf $(B)/replication.d
	$(B)/replication $(LITESTREAM) $(B)/tesoro $(B)/replication.d

# The reference host (examples/host/): the portal and the viewing desk on
# libmicrohttpd (Debian's libmicrohttpd-dev, installed when missing; only
# the host links it), over build/libtesoro.a.  test-host drives it in
# headless Chromium (Debian's chromium, chromium-driver and python3-selenium,
# installed when missing) and prints one figures line; host-screenshot runs
# the same walk and keeps its appointments page as the README's picture.
HOST_PKGS    = libmicrohttpd
HOST_DEBS    = libmicrohttpd-dev
BROWSER_DEBS = chromium chromium-driver python3-selenium
HOST_SRC     = examples/host/host.c examples/host/web.c examples/host/pages.c \
               examples/host/seed.c
HOST_PYTHON  = /usr/bin/python3
HOST_TEST    = $(HOST_PYTHON) test/host_browser.py --host $(B)/host --dir $(B)/host-test
.PHONY: host host-deps browser-deps test-host host-screenshot
host-deps: deps
	@pkg-config --exists $(HOST_PKGS) || { \
	  echo "installing missing packages: $(HOST_DEBS)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(HOST_DEBS); }

browser-deps:
	@{ command -v chromium && command -v chromedriver && \
	   $(HOST_PYTHON) -c "import selenium"; } >/dev/null 2>&1 || { \
	  echo "installing missing packages: $(BROWSER_DEBS)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(BROWSER_DEBS); }

$(B)/host: $(HOST_SRC) examples/host/host.h tesoro.h $(B)/libtesoro.a | host-deps
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -I. $(LIB_CFLAGS) \
	  $(shell pkg-config --cflags $(HOST_PKGS)) $(HOST_SRC) -o $@ \
	  $(LDFLAGS) $(B)/libtesoro.a $(LIB_LIBS) \
	  $(shell pkg-config --libs $(HOST_PKGS)) -lpthread

host: $(B)/host

test-host: $(B)/host browser-deps
	$(HOST_TEST)

host-screenshot: $(B)/host browser-deps
	$(HOST_TEST) --readme-shot examples/host/appointments.png

test: run-tests
	@for x in $(EXTRA_TESTS); do \
	  $(MAKE) --no-print-directory $$x || exit 1; \
	done
	@if [ "$${CI:-}" = true ]; then \
	  $(MAKE) --no-print-directory valgrind-build || exit 1; \
	  mkdir -p build-asan; \
	  ( $(MAKE) --no-print-directory asan && \
	    $(MAKE) --no-print-directory valgrind RUN_SUITES="$(VALGRIND_FIRST)" ) \
	    > build-asan/run.log 2>&1 & first=$$!; \
	  $(MAKE) --no-print-directory valgrind \
	    RUN_SUITES="$(filter-out $(VALGRIND_FIRST),$(SUITES))"; vg=$$?; \
	  wait $$first; as=$$?; \
	  echo "== make asan, then valgrind of $(VALGRIND_FIRST) (beside the rest)"; \
	  cat build-asan/run.log; \
	  [ $$vg = 0 ] && [ $$as = 0 ] || exit 1; \
	  $(MAKE) --no-print-directory fuzz FUZZ_SECONDS=5; \
	fi

# RUN_SUITES (default: every suite) runs only those, by name (test_portal).
RUN_BINS = $(if $(RUN_SUITES),$(addprefix $(B)/,$(RUN_SUITES)),$(TEST_BINS))
run-tests: all $(TEST_BINS)
	@failed=0; for t in $(RUN_BINS); do \
	  echo "== $$t"; $(TEST_RUNNER) $$t || failed=1; \
	done; \
	if [ $$failed = 0 ]; then echo "$(B): all suites passed"; \
	else echo "$(B): some suites FAILED"; exit 1; fi

# The bench compiles tesoro.c into itself (it records the library's writes
# through the handle's connection), always at -O2.
$(B)/bench: test/bench.c tesoro.c tesoro.h | deps $(B)
	$(CC) $(CPPFLAGS) $(WARN) -O2 -g -I. $(LIB_CFLAGS) test/bench.c -o $@ \
	  $(LDFLAGS) $(LIB_LIBS) -lm

bench: $(B)/bench
	$(B)/bench

# Fuzzers (libFuzzer, clang): each compiles tesoro.c into itself with ASan
# and UBSan and runs FUZZ_SECONDS from a scratch copy of its committed seed
# corpus test/corpus/<name> (new inputs stay in build-fuzz).  One line per
# fuzzer: `torture fuzz_<name>_execs=N crashes=C`; a crash fails the target
# and its input is left as build-fuzz/<name>-crash-* (add it to the corpus
# once fixed).
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_DIR      = build-fuzz
FUZZERS       = $(filter-out fuzz_common,$(patsubst test/%.c,%,$(wildcard test/fuzz_*.c)))
FUZZ_FLAGS    = -O1 -g -fsanitize=fuzzer,address,undefined \
                -fno-omit-frame-pointer -fno-sanitize-recover=all

# tesoro.c and the shared world are compiled once for all the fuzzers.
$(FUZZ_DIR)/%.o: %.c tesoro.h test/fuzz_common.h test/outbox_counts.h | deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(WARN) $(FUZZ_FLAGS) -I. $(LIB_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/test/fuzz_%.o $(FUZZ_DIR)/test/fuzz_common.o \
                    $(FUZZ_DIR)/tesoro.o
	$(FUZZ_CC) $(FUZZ_FLAGS) $^ -o $@ $(LIB_LIBS) -lm

# Keep the shared objects between runs (make would delete them as
# intermediates of the pattern chain).
.SECONDARY:

fuzz: $(addprefix $(FUZZ_DIR)/,$(FUZZERS))
	@failed=0; for f in $(FUZZERS); do \
	  work=$(FUZZ_DIR)/corpus/$$f; log=$(FUZZ_DIR)/$$f.log; \
	  rm -rf $$work && mkdir -p $$work && cp test/corpus/$$f/* $$work/; \
	  UBSAN_OPTIONS=print_stacktrace=1 $(FUZZ_DIR)/$$f $$work \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=30 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/$$f- >$$log 2>&1; rc=$$?; \
	  n=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log | tail -n 1); \
	  [ -n "$$n" ] || n=$$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' $$log | tail -n 1); \
	  crashes=0; if [ $$rc != 0 ]; then crashes=1; failed=1; \
	    grep -m 1 -E 'expectation failed|ERROR: ' $$log; tail -n 40 $$log; fi; \
	  echo "torture $${f}_execs=$${n:-0} crashes=$$crashes"; \
	done; exit $$failed

# Sanitizer and valgrind runs build a separate tree so the objects never mix.
# Under valgrind TESORO_LIGHT=1 shrinks the torture loops (fault sweeps, kill
# loops, simulations) to a few rounds each: every path still runs.  CI sets
# it for the ASan run too (the plain run has the full loops), to stay in
# its 20 minutes; `make asan` by hand runs them whole.
asan:
	TESORO_LIGHT=$${TESORO_LIGHT-$${CI:+1}} $(MAKE) --no-print-directory B=build-asan CC=clang \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" run-tests

valgrind:
	TESORO_LIGHT=1 $(MAKE) --no-print-directory B=build-valgrind CFLAGS="-O0 -g" \
	  TEST_RUNNER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --show-leak-kinds=definite,indirect,possible" run-tests

# Under CI the valgrind suites run as two shares, one per core: this
# builds them once first, so the two runs never build the same files;
# VALGRIND_FIRST follows the ASan run, the rest runs beside both.
VALGRIND_FIRST = test_appointments test_exchange test_cli test_docs test_portal \
                 test_referrals
valgrind-build:
	$(MAKE) --no-print-directory B=build-valgrind CFLAGS="-O0 -g" all \
	  $(addprefix build-valgrind/,$(SUITES))

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 755 $(B)/tesoro $(DESTDIR)$(BINDIR)/tesoro
	install -m 644 tesoro.h $(DESTDIR)$(INCLUDEDIR)/tesoro.h
	install -m 644 $(B)/libtesoro.a $(DESTDIR)$(LIBDIR)/libtesoro.a
	install -m 755 $(B)/libtesoro.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libtesoro.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libtesoro.so.$(SOVERSION)
	ln -sf libtesoro.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libtesoro.so
	printf '%s\n' "$$PC_BUILD" > $(DESTDIR)$(PKGCONFIGDIR)/tesoro.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/tesoro.pc

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/tesoro $(DESTDIR)$(INCLUDEDIR)/tesoro.h $(DESTDIR)$(LIBDIR)/libtesoro.a \
	  $(DESTDIR)$(LIBDIR)/libtesoro.so $(DESTDIR)$(LIBDIR)/libtesoro.so.$(SOVERSION) \
	  $(DESTDIR)$(LIBDIR)/libtesoro.so.$(VERSION) $(DESTDIR)$(PKGCONFIGDIR)/tesoro.pc

clean:
	rm -rf build build-asan build-valgrind
