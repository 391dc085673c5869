# belfry -- build, install, test.  See README.md.
#
#   make          build everything into build/
#   make run      install missing Debian packages, build, run the example
#   make test     install missing Debian packages, build, run every test
#   make bench    benchmarks (figures beside a raw baseline from the same run)
#   make asan     every test under AddressSanitizer + UBSan

PREFIX   ?= /usr/local
DESTDIR  ?=
B        ?= build
CC       ?= cc

# Debian 12 packages the build and the tests need (apt-get names).
DEB_PKGS = gcc make pkg-config libevent-dev libical-dev libjansson-dev \
	libsqlite3-dev libicu-dev icu-devtools uuid-dev libcmocka-dev tzdata \
	python3 python3-dateutil curl libssl-dev libwslay-dev openssl chromium

PKG_LIBS = libical jansson icu-uc icu-i18n
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wundef \
	-Wold-style-definition -Wvla
ifeq ($(CI),true)
WARN    += -Werror
endif
OPT      ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -MMD -MP -I. \
	$(shell pkg-config --cflags $(PKG_LIBS) 2>/dev/null)
LDLIBS_TZ = $(shell pkg-config --libs $(PKG_LIBS) 2>/dev/null) -lm

TZ_SRCS  = tz/tz.c tz/recur.c tz/repeats.c tz/xmalloc.c
TZ_OBJS  = $(TZ_SRCS:%.c=$(B)/%.o)

ENG_SRCS = $(wildcard engine/*.c)
ENG_OBJS = $(ENG_SRCS:%.c=$(B)/%.o)

CTL_SRCS = scheduler/belfryctl.c scheduler/client.c
CTL_OBJS = $(CTL_SRCS:%.c=$(B)/%.o)

SCH_SRCS = scheduler/belfryd.c scheduler/log.c scheduler/server.c \
	scheduler/http.c scheduler/route.c scheduler/api.c \
	$(wildcard scheduler/api_*.c) scheduler/clock.c scheduler/txn.c \
	scheduler/webhook.c scheduler/notify.c scheduler/auth.c \
	scheduler/tls.c scheduler/ws.c
SCH_OBJS = $(SCH_SRCS:%.c=$(B)/%.o)
LDLIBS_D = $(shell pkg-config --libs libevent libevent_openssl jansson \
	libssl libcrypto 2>/dev/null) -lwslay -lsqlite3

ICU_RES  = $(B)/icu/zoneinfo64.res

UNIT_TESTS = $(B)/tests/unit/tz/test_tz $(B)/tests/unit/tz/test_recur \
	$(patsubst %.c,$(B)/%,$(wildcard tests/unit/engine/test_*.c)) \
	$(B)/tests/unit/scheduler/test_notify
TOOLS      = $(B)/tests/tools/tzdump $(B)/tests/bench/bench_recur \
	$(B)/tests/bench/bench_engine $(B)/tests/bench/bench_api \
	$(B)/tests/bench/bench_sqlite $(B)/tests/bench/bench_schedules
MAN        = scheduler/belfryd.8 scheduler/belfryctl.1 scheduler/belfry.conf.5

.SECONDARY:
.PHONY: all run test check unit integration bench asan clean deps install
all: $(B)/belfryd $(B)/belfryctl $(ICU_RES)

# Install whatever of DEB_PKGS is missing (needs root on a fresh machine).
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
	    || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libtz.a: $(TZ_OBJS)
	rm -f $@; ar rcs $@ $^

$(B)/libengine.a: $(ENG_OBJS)
	rm -f $@; ar rcs $@ $^

$(B)/belfryctl: $(CTL_OBJS) $(B)/libengine.a $(B)/libtz.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_TZ) -lsqlite3

$(B)/belfryd: $(SCH_OBJS) $(B)/libengine.a $(B)/libtz.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_TZ) $(LDLIBS_D)

# Zone rules: ICU's zoneinfo64 resource built from the system's tzdata.
$(B)/belfry-tzgen: $(B)/tz/tzgen.o
	$(CC) $(LDFLAGS) -o $@ $^

$(ICU_RES): $(B)/belfry-tzgen /usr/share/zoneinfo/tzdata.zi
	@mkdir -p $(B)/icu
	$(B)/belfry-tzgen /usr/share/zoneinfo > $(B)/icu/zoneinfo64.txt
	genrb -q -d $(B)/icu $(B)/icu/zoneinfo64.txt

$(B)/tests/unit/tz/%: $(B)/tests/unit/tz/%.o $(B)/libtz.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_TZ) -lcmocka

$(B)/tests/unit/engine/%: $(B)/tests/unit/engine/%.o $(B)/libengine.a $(B)/libtz.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_TZ) -lsqlite3 -lcmocka

$(B)/tests/unit/scheduler/test_notify: $(B)/tests/unit/scheduler/test_notify.o \
	$(B)/scheduler/notify.o $(B)/libtz.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_TZ) -lcmocka

$(B)/tests/tools/%: $(B)/tests/tools/%.o $(B)/libtz.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_TZ)

$(B)/tests/bench/%: $(B)/tests/bench/%.o $(B)/libengine.a $(B)/libtz.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_TZ) -lsqlite3

check: all $(UNIT_TESTS) $(TOOLS)
	tests/run $(B)

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

test: deps
	$(MAKE) check

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
	python3 tests/bench/bench_feed.py $(B)

# Sanitized binaries are slower: the 100 ms bound of preview answers is
# checked in the normal build; here it only catches hangs.
asan: deps
	BELFRY_PREVIEW_LIMIT_MS=2000 $(MAKE) B=build-asan OPT='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer' \
	  LDFLAGS='-fsanitize=address,undefined' check

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/belfry/icu \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	  $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)/etc/belfry/workflows \
	  $(DESTDIR)/etc/belfry/schedules \
	  $(DESTDIR)/lib/systemd/system
	install -m 755 $(B)/belfryd $(B)/belfryctl $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(ICU_RES) $(DESTDIR)$(PREFIX)/share/belfry/icu/
	install -m 644 scheduler/belfryctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 scheduler/belfry.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 scheduler/belfryd.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	sed 's#/usr/local/bin#$(PREFIX)/bin#' configs/belfry.service \
	  > $(DESTDIR)/lib/systemd/system/belfry.service
	test -e $(DESTDIR)/etc/belfry/belfry.conf || \
	  install -m 644 configs/belfry.conf $(DESTDIR)/etc/belfry/
	for f in configs/workflows/*.json configs/schedules/*.json; do \
	  d=$(DESTDIR)/etc/belfry/$${f#configs/}; \
	  test -e $$d || install -D -m 644 $$f $$d; done

clean:
	rm -rf build build-asan

-include $(shell find $(B) -name '*.d' 2>/dev/null)
