# belfry -- build, install, test.  See README.md.
#
#   make          build everything into build/
#   make run      install missing Debian packages, build, run the example
#   make test     install missing Debian packages, build, run every test:
#                 make check (on SQLite), then make check-pg (the
#                 integration suites again, on a throwaway PostgreSQL
#                 cluster), then both passes' sum as "N passed, M failed"
#   make check-pg-unit  the unit tests on PostgreSQL: on BELFRY_TEST_PG (a
#                 server's base URI), else on a throwaway cluster
#   make bench    benchmarks (figures beside a raw baseline from the same run)
#   make asan     every test under AddressSanitizer + UBSan, in build-asan/
#   make fuzz     each libFuzzer harness for FUZZ_TIME seconds (default 60),
#                 in build-fuzz/; make fuzz-smoke: each briefly, failing on
#                 any finding
#   make install  into $(DESTDIR)$(PREFIX): a production config into
#                 $(DESTDIR)$(SYSCONFDIR), the unit into $(DESTDIR)$(UNITDIR)
#   make uninstall  what make install put there (edited config files stay)
#   make clean    remove the build directories
#
# CFLAGS, LDFLAGS and LDLIBS given on the command line are added to the
# project's own flags (ALL_CFLAGS, ALL_LDFLAGS), never instead of them.

# The one version string of both programs (belfryd --version, belfryctl
# --version, /admin/status, belfry_build_info, the User-Agent).
VERSION := $(shell cat VERSION)

PREFIX   ?= /usr/local
DESTDIR  ?=
B        ?= build
CC       ?= cc

# Debian 12 packages the build and the tests need (apt-get names).
DEB_PKGS = gcc make pkg-config libevent-dev libical-dev libjansson-dev \
	libsqlite3-dev libpq-dev postgresql-15 libicu-dev icu-devtools uuid-dev libcmocka-dev tzdata \
	python3 python3-dateutil curl zlib1g-dev libcurl4-openssl-dev libssl-dev \
	openssl python3-aiosmtpd libwslay-dev chromium $(TEST_PKGS)

# Debian 12 packages only the tests use: promtool checks /metrics
# (tests/integration/test_ops.py).
TEST_PKGS = prometheus

# Debian 12 packages make fuzz and make asan need besides DEB_PKGS.
FUZZ_PKGS = clang libclang-rt-14-dev

PKG_LIBS = libical jansson icu-uc icu-i18n libpq
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wundef \
	-Wold-style-definition -Wvla
ifeq ($(CI),true)
WARN    += -Werror
endif
OPT      ?= -O2 -g
# Sanitizer flags, for compiling and linking (make asan, make fuzz).
SAN      ?=
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DBELFRY_VERSION='"$(VERSION)"' \
	$(OPT) $(SAN) $(WARN) -MMD -MP -I. \
	$(shell pkg-config --cflags $(PKG_LIBS) 2>/dev/null) $(CFLAGS)
ALL_LDFLAGS = $(SAN) $(LDFLAGS)
LDLIBS_TZ = $(shell pkg-config --libs $(PKG_LIBS) 2>/dev/null) -lm

COMMON_SRCS = common/log.c common/xmalloc.c
COMMON_OBJS = $(COMMON_SRCS:%.c=$(B)/%.o)

TZ_SRCS  = tz/tz.c tz/recur.c tz/repeats.c
TZ_OBJS  = $(TZ_SRCS:%.c=$(B)/%.o)
# tz and what it stands on, in link order.
LIBTZ    = $(B)/libtz.a $(B)/libcommon.a

ENG_SRCS = $(wildcard engine/*.c engine/*/*.c)
ENG_OBJS = $(ENG_SRCS:%.c=$(B)/%.o)

CTL_SRCS = scheduler/belfryctl.c scheduler/client.c
CTL_OBJS = $(CTL_SRCS:%.c=$(B)/%.o)

SCH_SRCS = scheduler/belfryd.c scheduler/server.c \
	scheduler/http.c scheduler/route.c scheduler/api.c \
	$(wildcard scheduler/api_*.c) scheduler/clock.c scheduler/txn.c \
	scheduler/outbound.c scheduler/webhook.c scheduler/email.c \
	scheduler/notify.c scheduler/auth.c scheduler/tls.c scheduler/ws.c \
	scheduler/backup.c
SCH_OBJS = $(SCH_SRCS:%.c=$(B)/%.o)
# The engine signs webhooks with libcrypto's HMAC-SHA256; its store speaks
# SQLite and PostgreSQL (libpq).
LDLIBS_E = -lsqlite3 -lpq -lcrypto
LDLIBS_D = $(shell pkg-config --libs libevent libevent_openssl jansson \
	libcurl libssl 2>/dev/null) $(LDLIBS_E) -lwslay -lz

ICU_RES  = $(B)/icu/zoneinfo64.res

UNIT_TESTS = $(B)/tests/unit/tz/test_tz $(B)/tests/unit/tz/test_recur \
	$(patsubst %.c,$(B)/%,$(wildcard tests/unit/engine/test_*.c)) \
	$(B)/tests/unit/scheduler/test_notify $(B)/tests/unit/scheduler/test_route
TOOLS      = $(B)/tools/tzdump $(B)/tests/bench/bench_recur \
	$(B)/tests/bench/bench_engine $(B)/tests/bench/bench_api \
	$(B)/tests/bench/bench_sqlite $(B)/tests/bench/bench_schedules \
	$(B)/tests/bench/bench_curl
MAN        = scheduler/belfryd.8 scheduler/belfryctl.1 scheduler/belfry.conf.5

.SECONDARY:
.PHONY: all run test check check-pg check-pg-unit bench asan fuzz \
	fuzz-smoke fuzz-build fuzzers clean deps fuzz-deps install uninstall
all: $(B)/belfryd $(B)/belfryctl $(ICU_RES)

# Install whichever of the Debian packages $(1) are missing (needs root on a
# fresh machine).
define deb_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
	    || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call deb_install,$(DEB_PKGS))

fuzz-deps: deps
	$(call deb_install,$(FUZZ_PKGS))

$(B)/%.o: %.c VERSION
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libcommon.a: $(COMMON_OBJS)
	rm -f $@; ar rcs $@ $^

$(B)/libtz.a: $(TZ_OBJS)
	rm -f $@; ar rcs $@ $^

$(B)/libengine.a: $(ENG_OBJS)
	rm -f $@; ar rcs $@ $^

$(B)/belfryctl: $(CTL_OBJS) $(B)/libengine.a $(LIBTZ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_TZ) $(LDLIBS_E) $(LDLIBS)

$(B)/belfryd: $(SCH_OBJS) $(B)/libengine.a $(LIBTZ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_TZ) $(LDLIBS_D) $(LDLIBS)

# Zone rules: ICU's zoneinfo64 resource built from the system's tzdata.
$(B)/belfry-tzgen: $(B)/tools/tzgen.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(ICU_RES): $(B)/belfry-tzgen /usr/share/zoneinfo/tzdata.zi
	@mkdir -p $(B)/icu
	$(B)/belfry-tzgen /usr/share/zoneinfo > $(B)/icu/zoneinfo64.txt
	genrb -q -d $(B)/icu $(B)/icu/zoneinfo64.txt

$(B)/tests/unit/tz/%: $(B)/tests/unit/tz/%.o $(LIBTZ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_TZ) -lcmocka $(LDLIBS)

$(B)/tests/unit/engine/fixture.o: ALL_CFLAGS += \
	-DFIXTURE_DIR='"$(CURDIR)/tests/unit/engine/fixtures"'

$(B)/tests/unit/engine/%: $(B)/tests/unit/engine/%.o \
	$(B)/tests/unit/engine/fixture.o $(B)/libengine.a $(LIBTZ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_TZ) $(LDLIBS_E) -lcmocka $(LDLIBS)

$(B)/tests/unit/scheduler/test_notify: $(B)/tests/unit/scheduler/test_notify.o \
	$(B)/scheduler/notify.o $(LIBTZ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_TZ) -lcmocka $(LDLIBS)

$(B)/tests/unit/scheduler/test_route: $(B)/tests/unit/scheduler/test_route.o \
	$(B)/scheduler/route.o $(B)/libengine.a $(LIBTZ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_TZ) -lcmocka $(LDLIBS)

$(B)/tools/tzdump: $(B)/tools/tzdump.o $(LIBTZ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_TZ) $(LDLIBS)

$(B)/tests/bench/%: $(B)/tests/bench/%.o $(B)/libengine.a $(LIBTZ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_TZ) $(LDLIBS_E) $(LDLIBS)

# The raw libcurl multi baseline of the outgoing delivery benchmark.
$(B)/tests/bench/bench_curl: $(B)/tests/bench/bench_curl.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ \
	  $(shell pkg-config --libs libevent libcurl 2>/dev/null) $(LDLIBS)

check: all $(UNIT_TESTS) $(TOOLS)
	tests/run $(B)

# The integration suites against PostgreSQL: tests/run on the view
# $(B)/pg (its belfryd keeps each database path's data in a database of
# a cluster started for the run, and stopped and removed after it, also
# on failure or Ctrl-C); see tests/pg/check.
check-pg: all
	tests/pg/check $(B)

# The unit tests with their stores on PostgreSQL (tests/run --pg-unit).
check-pg-unit: $(ICU_RES) $(UNIT_TESTS)
	tests/run --pg-unit $(B)

run: deps
	$(MAKE) all
	$(B)/belfryctl tzinfo
	$(B)/belfryctl preview --rrule 'FREQ=DAILY;BYHOUR=9' \
	  --dtstart 2026-03-01T09:00:00 --tz America/New_York --count 10
	@echo
	@echo "belfryd runs in the foreground now (Ctrl-C stops it), with configs/"
	@echo "and a socket and database in $(B)/. From another terminal:"
	@echo "  $(B)/belfryctl -s $(B)/belfry.sock status"
	@echo "  $(B)/belfryctl -s $(B)/belfry.sock trigger new-comment --recipients u1 --actor u2 --data '{\"comment_id\": \"c1\", \"post_id\": \"p1\"}'"
	@echo "  curl --unix-socket $(B)/belfry.sock http://belfry/v1/users/u1/feeds/in-app"
	@echo "  (new-comment waits 30 s, then batches for 5 min, before the feed shows it)"
	@echo "  curl -H 'Authorization: Bearer sk_live_change_me' http://127.0.0.1:7640/v1/users/u1"
	$(B)/belfryd -c configs --socket $(B)/belfry.sock --database $(B)/belfry.db

# SQLite, then the integration suites and the unit tests on PostgreSQL:
# every pass runs whatever the others give; the last line is their sum.
test: deps
	@rm -f $(B)/test-summary $(B)/pg/test-summary \
	  $(B)/test-summary-pg-unit; \
	rc=0; $(MAKE) check || rc=1; $(MAKE) check-pg || rc=1; \
	$(MAKE) check-pg-unit || rc=1; \
	set -- $$(cat $(B)/test-summary 2>/dev/null || echo 0 1) \
	  $$(cat $(B)/pg/test-summary 2>/dev/null || echo 0 1) \
	  $$(cat $(B)/test-summary-pg-unit 2>/dev/null || echo 0 1); \
	echo "sqlite $$1 passed, $$2 failed; postgresql $$3 passed, $$4" \
	  "failed; postgresql unit $$5 passed, $$6 failed"; \
	echo "$$(($$1 + $$3 + $$5)) passed, $$(($$2 + $$4 + $$6)) failed"; \
	exit $$rc

# Benchmarks print their figures beside baselines measured in the same run.
bench: deps
	$(MAKE) all $(TOOLS)
	BELFRY_TZDATA_DIR=$(B)/icu $(B)/tests/bench/bench_recur
	rm -rf $(B)/bench-engine && mkdir -p $(B)/bench-engine
	BELFRY_TZDATA_DIR=$(B)/icu $(B)/tests/bench/bench_engine \
	  $(B)/bench-engine $${BENCH_SUBSCRIBERS:-1000000}
	rm -rf $(B)/bench-schedules && mkdir -p $(B)/bench-schedules
	BELFRY_TZDATA_DIR=$(B)/icu $(B)/tests/bench/bench_schedules \
	  $(B)/bench-schedules $${BENCH_SCHEDULES:-1000000} \
	  $${BENCH_SCHEDULES_DUE:-100000}
	tests/bench/bench_schedules_daemon.sh $(B) $(B)/bench-schedules \
	  $${BENCH_SCHEDULES:-1000000}
	python3 tests/bench/bench_fire_lateness.py $(B) \
	  $${BENCH_SCHEDULES_DUE:-100000}
	tests/bench/bench_daemon.sh $(B)
	python3 tests/bench/bench_outbound.py $(B)
	python3 tests/bench/bench_feed.py $(B)
	python3 tests/bench/bench_bulk.py $(B)
	python3 tests/bench/bench_messages.py $(B)
	python3 tests/bench/bench_pg.py $(B) $${BENCH_PG_FIRES:-100000}

# Sanitized binaries are slower: the 100 ms bound of preview answers is
# checked in the normal build; here it only catches hangs.  Undefined
# behaviour stops the test like a memory error does.
ASAN_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
asan: deps fuzz-deps
	BELFRY_PREVIEW_LIMIT_MS=2000 BELFRY_LATENCY_SCALE=4 $(MAKE) B=build-asan OPT='-O1 -g' \
	  SAN='$(ASAN_SAN)' check

# ---- fuzzing (docs/operations.md, "Fuzzing") ----
#
# One libFuzzer harness per target in tests/fuzz/fuzz_TARGET.c, built with
# clang into build-fuzz/fuzz/TARGET and run in process under ASan + UBSan
# on a working corpus build-fuzz/corpus/TARGET seeded from the repo's
# tests/fuzz/corpus/TARGET.  Findings land in build-fuzz/findings/.
FUZZ_TARGETS = api recur config template jsonpos
FUZZ_TIME  ?= 60
FUZZ_SMOKE_TIME ?= 20
FUZZ_SAN   = -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer
# The api target links the daemon's objects but belfryd.c (its main).
FUZZ_SCH_OBJS = $(filter-out $(B)/scheduler/belfryd.o,$(SCH_OBJS))

fuzz-build: fuzz-deps
	$(MAKE) B=build-fuzz CC=clang OPT='-O1 -g' SAN='$(FUZZ_SAN)' fuzzers

fuzz: fuzz-build
	tests/fuzz/run build-fuzz $(FUZZ_TIME) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	tests/fuzz/run build-fuzz $(FUZZ_SMOKE_TIME) $(FUZZ_TARGETS)

# Internal: the harnesses and the zone rules they load (make fuzz-build).
fuzzers: $(FUZZ_TARGETS:%=$(B)/fuzz/%) $(ICU_RES)

$(B)/tests/fuzz/fuzz_api.o: ALL_CFLAGS += \
	-DFUZZ_CONFIG_DIR='"$(CURDIR)/tests/fuzz/config"'

$(B)/fuzz/api: $(B)/tests/fuzz/fuzz_api.o $(FUZZ_SCH_OBJS) $(B)/libengine.a \
	$(LIBTZ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS_TZ) $(LDLIBS_D) \
	  $(LDLIBS)

$(B)/fuzz/%: $(B)/tests/fuzz/fuzz_%.o $(B)/libengine.a $(LIBTZ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS_TZ) $(LDLIBS_E) \
	  $(LDLIBS)

# Where make install puts belfry: the files, then the directories it may
# leave empty.  Directories shared with other software (bin, libexec, the
# man sections, the doc and unit directories) are removed only inside a
# DESTDIR.  The production config (configs/production/belfry.conf: no
# listener, no keys, no workflows or schedules, retention 90 days) goes to
# SYSCONFDIR, mode 0640 (group belfry when that group exists, so that the
# unit's User=belfry reads it: docs/operations.md, "Install"); the example
# config of configs/ to DOCDIR/examples; the unit to UNITDIR, where its
# header says.
SYSCONFDIR ?= /etc/belfry
UNITDIR    ?= /etc/systemd/system
LIBEXECDIR ?= $(PREFIX)/libexec/belfry
DATADIR    ?= $(PREFIX)/share/belfry
DOCDIR     ?= $(PREFIX)/share/doc/belfry
INST_BIN   = $(DESTDIR)$(PREFIX)/bin
INST_SHARE = $(DESTDIR)$(PREFIX)/share
INST_DATA  = $(DESTDIR)$(DATADIR)
INST_LIBEXEC = $(DESTDIR)$(LIBEXECDIR)
INST_DOC   = $(DESTDIR)$(DOCDIR)
INST_ETC   = $(DESTDIR)$(SYSCONFDIR)
INST_UNIT  = $(DESTDIR)$(UNITDIR)
INST_FILES = $(INST_BIN)/belfryd $(INST_BIN)/belfryctl \
	$(INST_DATA)/icu/zoneinfo64.res $(INST_LIBEXEC)/belfry-tzgen \
	$(INST_LIBEXEC)/belfry-update-zones \
	$(INST_SHARE)/man/man1/belfryctl.1 $(INST_SHARE)/man/man5/belfry.conf.5 \
	$(INST_SHARE)/man/man8/belfryd.8 $(INST_UNIT)/belfry.service \
	$(INST_DOC)/operations.md
INST_EXAMPLES = configs/belfry.conf configs/workflows/*.json \
	configs/schedules/*.json
INST_OWN_DIRS = $(INST_DATA)/icu $(INST_DATA) $(INST_LIBEXEC) \
	$(INST_DOC)/examples/workflows $(INST_DOC)/examples/schedules \
	$(INST_DOC)/examples $(INST_DOC) \
	$(INST_ETC)/workflows $(INST_ETC)/schedules $(INST_ETC)
INST_SHARED_DIRS = $(INST_BIN) $(INST_SHARE)/man/man1 $(INST_SHARE)/man/man5 \
	$(INST_SHARE)/man/man8 $(INST_UNIT) $(dir $(INST_LIBEXEC)) \
	$(dir $(INST_DOC))
# The group that may read the config: belfry's, when it exists.
INST_GROUP = $(shell getent group belfry >/dev/null 2>&1 && echo '-g belfry')

# An existing belfry.conf is never overwritten.
install: all
	install -d $(INST_BIN) $(INST_DATA)/icu $(INST_LIBEXEC) \
	  $(INST_SHARE)/man/man1 $(INST_SHARE)/man/man5 $(INST_SHARE)/man/man8 \
	  $(INST_DOC)/examples/workflows $(INST_DOC)/examples/schedules \
	  $(INST_UNIT)
	install -d $(INST_ETC)/workflows $(INST_ETC)/schedules
	install -m 755 $(B)/belfryd $(B)/belfryctl $(INST_BIN)/
	install -m 644 $(ICU_RES) $(INST_DATA)/icu/
	install -m 755 $(B)/belfry-tzgen $(INST_LIBEXEC)/
	sed -e 's#@LIBEXECDIR@#$(LIBEXECDIR)#' -e 's#@DATADIR@#$(DATADIR)#' \
	  tools/belfry-update-zones.sh > $(INST_LIBEXEC)/belfry-update-zones
	chmod 755 $(INST_LIBEXEC)/belfry-update-zones
	install -m 644 scheduler/belfryctl.1 $(INST_SHARE)/man/man1/
	install -m 644 scheduler/belfry.conf.5 $(INST_SHARE)/man/man5/
	install -m 644 scheduler/belfryd.8 $(INST_SHARE)/man/man8/
	install -m 644 docs/operations.md $(INST_DOC)/
	sed -e 's#/usr/local/bin#$(PREFIX)/bin#' \
	  -e 's#/etc/systemd/system#$(UNITDIR)#' \
	  -e 's#/etc/belfry#$(SYSCONFDIR)#' configs/belfry.service \
	  > $(INST_UNIT)/belfry.service
	chmod 644 $(INST_UNIT)/belfry.service
	for f in $(INST_EXAMPLES); do \
	  install -m 644 $$f $(INST_DOC)/examples/$${f#configs/}; done
	test -e $(INST_ETC)/belfry.conf || install -m 640 $(INST_GROUP) \
	  configs/production/belfry.conf $(INST_ETC)/belfry.conf

# The config is removed only while it is as installed.
uninstall:
	rm -f $(INST_FILES)
	for f in $(INST_EXAMPLES); do \
	  rm -f $(INST_DOC)/examples/$${f#configs/}; done
	@if cmp -s configs/production/belfry.conf $(INST_ETC)/belfry.conf; then \
	  rm -f $(INST_ETC)/belfry.conf; \
	elif [ -e $(INST_ETC)/belfry.conf ]; then \
	  echo "kept $(INST_ETC)/belfry.conf: changed since make install"; fi
	@for d in $(INST_OWN_DIRS); do rmdir $$d 2>/dev/null || true; done
	@top='$(DESTDIR)'; if [ -n "$$top" ]; then \
	  for d in $(INST_SHARED_DIRS) $(INST_SHARE) $(DESTDIR)/etc; do \
	    d=$${d%/}; \
	    while [ $${#d} -gt $${#top} ] && rmdir $$d 2>/dev/null; do \
	      d=$${d%/*}; done; done; fi

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(B) -name '*.d' 2>/dev/null)
