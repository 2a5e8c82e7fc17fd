# tend: one plain Makefile. `make` builds build/tend, the daeml link and the test programs,
# `make check` runs every test on the normal and the sanitizer build, `make bench` runs the
# benchmarks, `make demo` runs the supervisor on examples/.
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
VERSION := 0.1.0

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-missing-field-initializers
BASEFLAGS := -std=c11 -D_GNU_SOURCE -DTEND_VERSION='"$(VERSION)"' $(WARN) -Isrc -MMD -MP
CFLAGS  ?= -O2 -g
SANFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

SRC      := $(sort $(wildcard src/*.c src/util/*.c))
LIBSRC   := $(filter-out src/main.c,$(SRC))
UNITSRC  := $(sort $(wildcard tests/unit/test_*.c))
HELPSRC  := $(sort $(wildcard tests/helpers/*.c))
BENCHSRC := $(sort $(wildcard bench/*.c))
EXSRC    := $(sort $(wildcard examples/*.c))
# The files that print tend's version: built again with another version string for
# tend-next, a second build that the upgrade tests install over the first.
VERSIONED := $(shell grep -l TEND_VERSION $(SRC))

# The rules below are made by $(eval): without this, the first of them (build/tend alone)
# would be what a plain `make` builds.
.DEFAULT_GOAL := all

# Objects for one build directory ($1) with flags ($2).
define build_rules
$1/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASEFLAGS) $2 -c $$< -o $$@
$1/tend: $$(SRC:%.c=$1/obj/%.o)
	$$(CC) $2 $$^ -o $$@
$1/daeml: $1/tend
	ln -sf tend $$@
$1/next/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASEFLAGS) $2 -UTEND_VERSION -DTEND_VERSION='"$(VERSION)+next"' -c $$< -o $$@
$1/tend-next: $$(filter-out $$(VERSIONED:%.c=$1/obj/%.o),$$(SRC:%.c=$1/obj/%.o)) \
              $$(VERSIONED:%.c=$1/next/%.o)
	$$(CC) $2 $$^ -o $$@
$1/tests/%: $1/obj/tests/unit/%.o $$(LIBSRC:%.c=$1/obj/%.o)
	@mkdir -p $$(dir $$@)
	$$(CC) $2 $$^ -o $$@
$1/helpers/%: $1/obj/tests/helpers/%.o
	@mkdir -p $$(dir $$@)
	$$(CC) $2 $$^ -o $$@
$1/bench/%: $1/obj/bench/%.o
	@mkdir -p $$(dir $$@)
	$$(CC) $2 $$^ -o $$@
$1/examples/%: $1/obj/examples/%.o
	@mkdir -p $$(dir $$@)
	$$(CC) $2 $$^ -o $$@
$1-all: $1/tend $1/daeml $1/tend-next $$(UNITSRC:tests/unit/%.c=$1/tests/%) \
        $$(HELPSRC:tests/helpers/%.c=$1/helpers/%) $$(EXSRC:examples/%.c=$1/examples/%)
endef

$(eval $(call build_rules,build,$(CFLAGS)))
$(eval $(call build_rules,build/asan,$(SANFLAGS)))

.SECONDARY:
.PHONY: all asan check check-fast bench bench-compare demo deps deps-build deps-test install lint \
        clean build-all build/asan-all
all: build-all
asan: build/asan-all

# The Debian packages, by purpose (scripts/deps.sh --list SET shows each set).
deps:
	@sh scripts/deps.sh all
deps-build:
	@sh scripts/deps.sh build
deps-test:
	@sh scripts/deps.sh test

# The README's test command: installs what it needs, builds both flavours, runs everything.
check: deps
	@$(MAKE) --no-print-directory build-all build/asan-all
	@$(MAKE) --no-print-directory lint >build/lint.log 2>&1 || { cat build/lint.log; exit 1; }
	@echo "lint: cppcheck and clang-tidy clean"
	@bash tests/run.sh build build/asan

# Normal build only, for a quick loop while developing.
check-fast: deps-test build-all
	@bash tests/run.sh build

bench: deps-test build-all $(BENCHSRC:bench/%.c=build/bench/%)
	@bash bench/run.sh build

# tend beside supervisord, runit, s6 and daemontools (installs them from Debian, starts each
# by hand in a temporary directory; no system service is enabled).
bench-compare: deps-test build-all $(BENCHSRC:bench/%.c=build/bench/%)
	@bash bench/compare.sh build

# Only what building needs: the demo uses no linter and no test-only package.
demo: deps-build build-all
	@bash examples/demo.sh build

lint: build-all
	@cppcheck --quiet --error-exitcode=1 --enable=warning,portability --std=c11 \
	    --suppress=missingIncludeSystem -Isrc src tests/helpers
	@clang-tidy --quiet $(SRC) -- -std=c11 -D_GNU_SOURCE -DTEND_VERSION='"$(VERSION)"' -Isrc

install: build/tend
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 build/tend $(DESTDIR)$(PREFIX)/bin/tend
	ln -sf tend $(DESTDIR)$(PREFIX)/bin/daeml
	for m in man/*.[158]; do \
	    [ -f "$$m" ] || continue; \
	    install -m 0644 "$$m" $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/; \
	done

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
