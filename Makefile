# tend: one plain Makefile. `make` builds build/tend, the daeml link and the test programs,
# `make check` runs every test on the normal and the sanitizer build, `make bench` runs the
# benchmarks, `make demo` runs the supervisor on examples/.
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
VERSION := 0.1.0

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-missing-field-initializers
BASEFLAGS := -std=c11 -D_GNU_SOURCE -DTEND_VERSION='"$(VERSION)"' -Isrc -MMD -MP
# CPPFLAGS, CFLAGS and LDFLAGS from the environment or the command line (Debian's hardening
# flags through dpkg-buildflags) apply to the normal build; the project's warnings come after
# CFLAGS so that a -Wformat there cannot lower -Wformat=2, and -Werror stays on.
CFLAGS  ?= -O2 -g
CPPFLAGS ?=
LDFLAGS ?=
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
# tend-web, the HTTP front: its own executable, so that tend and its CLI never load HTTP code.
WEBSRC   := $(sort $(wildcard src/web/*.c))
WEBASSETS := src/web/index.html src/web/app.js src/web/app.css
WEBLIBS  := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd) \
            $(shell pkg-config --libs expat 2>/dev/null || echo -lexpat) -pthread

# liburing (Debian's liburing-dev): fdring.c holds capture pipes past the descriptor limit
# in an io_uring's table of registered files.
LIBS     := $(shell pkg-config --libs liburing 2>/dev/null || echo -luring)

# The rules below are made by $(eval): without this, the first of them (build/tend alone)
# would be what a plain `make` builds.
.DEFAULT_GOAL := all

# Objects for one build directory ($1) with compiler flags ($2) and link flags ($3); the
# keeper's program with its own compiler ($4) and link flags ($5).
define build_rules
$1/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASEFLAGS) $2 $$(WARN) -c $$< -o $$@
$1/tend: $$(SRC:%.c=$1/obj/%.o)
	$$(CC) $2 $3 $$^ -o $$@ $(LIBS)
$1/daeml: $1/tend
	ln -sf tend $$@
$1/keeper-obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$4 $$(BASEFLAGS) $2 $$(WARN) -c $$< -o $$@
$1/tend-keeper: $1/keeper-obj/src/keeperbin/main.o $1/keeper-obj/src/keeper.o
	$4 $2 $3 $5 $$^ -o $$@
$1/next/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASEFLAGS) $2 -UTEND_VERSION -DTEND_VERSION='"$(VERSION)+next"' -c $$< -o $$@
$1/tend-next: $$(filter-out $$(VERSIONED:%.c=$1/obj/%.o),$$(SRC:%.c=$1/obj/%.o)) \
              $$(VERSIONED:%.c=$1/next/%.o)
	$$(CC) $2 $3 $$^ -o $$@ $(LIBS)
$1/tests/%: $1/obj/tests/unit/%.o $$(LIBSRC:%.c=$1/obj/%.o)
	@mkdir -p $$(dir $$@)
	$$(CC) $2 $3 $$^ -o $$@ $(LIBS)
$1/helpers/%: $1/obj/tests/helpers/%.o
	@mkdir -p $$(dir $$@)
	$$(CC) $2 $3 $$^ -o $$@
$1/bench/%: $1/obj/bench/%.o
	@mkdir -p $$(dir $$@)
	$$(CC) $2 $3 $$^ -o $$@
$1/examples/%: $1/obj/examples/%.o
	@mkdir -p $$(dir $$@)
	$$(CC) $2 $3 $$^ -o $$@
$1/gen/web_assets.c: $(WEBASSETS) scripts/embed.sh
	@mkdir -p $$(dir $$@)
	sh scripts/embed.sh $(WEBASSETS) >$$@.tmp && mv $$@.tmp $$@
$1/obj/gen/web_assets.o: $1/gen/web_assets.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASEFLAGS) $2 -c $$< -o $$@
# tend's modules as an archive: tend-web takes only those it uses (the protocol codec and
# the status formatter), not the supervisor.
$1/libtend.a: $$(LIBSRC:%.c=$1/obj/%.o)
	rm -f $$@ && ar rcs $$@ $$^
$1/tend-web: $$(WEBSRC:%.c=$1/obj/%.o) $1/obj/gen/web_assets.o $1/libtend.a
	$$(CC) $2 $3 $$^ -o $$@ $(WEBLIBS)
$1-all: $1/tend $1/daeml $1/tend-keeper $1/tend-next $1/tend-web $$(UNITSRC:tests/unit/%.c=$1/tests/%) \
        $$(HELPSRC:tests/helpers/%.c=$1/helpers/%) $$(EXSRC:examples/%.c=$1/examples/%)
endef

# tend-keeper, the process that lives as long as tend, is linked statically with musl (from
# Debian's musl-tools) except under the sanitizers: about 0.1 MiB resident, where glibc's
# static libc alone maps 0.7 MiB and a keeper inside tend 1.8 MiB (bench/keeper.sh).
MUSLCC      ?= musl-gcc
$(eval $(call build_rules,build,$(CPPFLAGS) $(CFLAGS),$(LDFLAGS),$(MUSLCC),-static))
$(eval $(call build_rules,build/asan,$(SANFLAGS),,$(CC),))

.SECONDARY:
.PHONY: all asan check check-fast bench bench-compare demo deps deps-build deps-test install lint \
        clean build-all build/asan-all static deb
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
	@$(MAKE) --no-print-directory build-all build/asan-all static
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
	@clang-tidy --quiet $(SRC) $(WEBSRC) src/keeperbin/main.c -- -std=c11 -D_GNU_SOURCE -DTEND_VERSION='"$(VERSION)"' -Isrc

# daeml's page is in section 8 (system administration), so daeml goes where section 8
# programs go: a link in sbin to the one binary in bin.
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
install: build/tend build/tend-keeper build/tend-web
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR) \
	    $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0755 build/tend $(DESTDIR)$(BINDIR)/tend
	install -m 0755 build/tend-keeper $(DESTDIR)$(BINDIR)/tend-keeper
	install -m 0755 build/tend-web $(DESTDIR)$(BINDIR)/tend-web
	ln -sf $$(realpath -m --relative-to=$(SBINDIR) $(BINDIR)/tend) $(DESTDIR)$(SBINDIR)/daeml
	for m in man/*.[158]; do \
	    [ -f "$$m" ] || continue; \
	    install -m 0644 "$$m" $(DESTDIR)$(MANDIR)/man$${m##*.}/; \
	done
	install -m 0644 completion/tend.bash $(DESTDIR)$(BASHCOMPDIR)/tend
	ln -sf tend $(DESTDIR)$(BASHCOMPDIR)/daeml
	install -m 0644 completion/_tend $(DESTDIR)$(ZSHCOMPDIR)/_tend

# A static binary for containers (musl from Debian's musl-tools): one file, no NSS, no
# shared libraries. Stripped, as it is shipped as it is; its size is printed. Debian has no
# liburing for musl: this build holds no pipe in an io_uring (fdring.h, TEND_NO_IO_URING).
STATICFLAGS := -O2 -DTEND_NO_IO_URING
build/static/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(MUSLCC) $(BASEFLAGS) $(STATICFLAGS) $(WARN) -c $< -o $@
build/static/tend: $(SRC:%.c=build/static/obj/%.o)
	$(MUSLCC) -static -s $(STATICFLAGS) $^ -o $@
build/static/daeml: build/static/tend
	ln -sf tend $@
static: build/static/tend build/static/daeml
	@echo "static: build/static/tend, $$(stat -c %s build/static/tend) bytes, statically linked, stripped"

# The Debian package, built by dpkg-buildpackage from a clean copy of the tree (only the
# files git knows, or everything but build/ outside a git checkout) in build/deb/.
deb:
	@sh scripts/deb.sh

clean:
	rm -rf build

-include $(shell find build -path build/deb -prune -o -type f -name '*.d' -print 2>/dev/null)
