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
	python3 python3-dateutil curl

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

CTL_SRCS = scheduler/belfryctl.c
CTL_OBJS = $(CTL_SRCS:%.c=$(B)/%.o)

ICU_RES  = $(B)/icu/zoneinfo64.res

UNIT_TESTS = $(B)/tests/unit/tz/test_tz $(B)/tests/unit/tz/test_recur
TOOLS      = $(B)/tests/tools/tzdump $(B)/tests/bench/bench_recur

.SECONDARY:
.PHONY: all run test check unit integration bench asan clean deps install
all: $(B)/belfryctl $(ICU_RES)

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

$(B)/belfryctl: $(CTL_OBJS) $(B)/libtz.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_TZ)

# Zone rules: ICU's zoneinfo64 resource built from the system's tzdata.
$(B)/belfry-tzgen: $(B)/tz/tzgen.o
	$(CC) $(LDFLAGS) -o $@ $^

$(ICU_RES): $(B)/belfry-tzgen /usr/share/zoneinfo/tzdata.zi
	@mkdir -p $(B)/icu
	$(B)/belfry-tzgen /usr/share/zoneinfo > $(B)/icu/zoneinfo64.txt
	genrb -q -d $(B)/icu $(B)/icu/zoneinfo64.txt

$(B)/tests/unit/tz/%: $(B)/tests/unit/tz/%.o $(B)/libtz.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_TZ) -lcmocka

$(B)/tests/tools/%: $(B)/tests/tools/%.o $(B)/libtz.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_TZ)

$(B)/tests/bench/%: $(B)/tests/bench/%.o $(B)/libtz.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_TZ)

check: all $(UNIT_TESTS) $(TOOLS)
	tests/run $(B)

run: deps
	$(MAKE) all
	$(B)/belfryctl tzinfo
	$(B)/belfryctl preview --rrule 'FREQ=DAILY;BYHOUR=9' \
	  --dtstart 2026-03-01T09:00:00 --tz America/New_York --count 10

test: deps
	$(MAKE) check

bench: deps
	$(MAKE) all $(TOOLS)
	$(B)/tests/bench/bench_recur

asan: deps
	$(MAKE) B=build-asan OPT='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer' \
	  LDFLAGS='-fsanitize=address,undefined' check

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/belfry/icu
	install -m 755 $(B)/belfryctl $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(ICU_RES) $(DESTDIR)$(PREFIX)/share/belfry/icu/

clean:
	rm -rf build build-asan

-include $(shell find $(B) -name '*.d' 2>/dev/null)
