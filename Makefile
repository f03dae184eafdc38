# tern — top-level build.
#
#   make          vendor libraries (once), then build/tern (static, stripped)
#   make run      build, then serve with data in ./data
#   make test     install test tools, unit tests under ASan/UBSan, protocol tests
#                 against build/tern, then against build/tern-asan
#   make proto    the protocol tests against build/tern
#   make proto-asan  the protocol tests against build/tern-asan (glibc, ASan/UBSan)
#   make proto-tsan  the same against build/tern-tsan (ThreadSanitizer)
#   make fuzz     build and run each libFuzzer target for FUZZ_SECONDS
#   make bench    benchmarks against Postfix/Dovecot (not tests)
#   make image    docker build (where a Docker engine exists)

VENDOR      := vendor/out
MUSL        := $(VENDOR)/musl
HOST        := $(VENDOR)/host
CC_MUSL     ?= musl-gcc
CC_HOST     ?= gcc
CLANG       ?= clang
WARN        := -Wall -Wextra -Wformat=2 -Wshadow -Wno-unused-parameter -Werror
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -Iapp -Ibuild $(WARN) -g
CFLAGS_MUSL := $(CFLAGS_COMMON) -O2 -fstack-protector-strong -I$(MUSL)/include
# mimalloc replaces musl's malloc family (vendor/manifest says why): whole
# archive, so it is linked even if only a library calls malloc.
LIBS_MUSL   := -L$(MUSL)/lib -Wl,--whole-archive -lmimalloc -Wl,--no-whole-archive \
               -lmicrohttpd -lcares -llmdb -lbearssl -lsodium -lcrypto -lz -lzxcvbn -lpthread -lm -Wl,--gc-sections
# Debian's libbearssl-dev keeps the headers but bearssl.h in include/bearssl/.
HOST_INC    := -I$(HOST)/include -isystem /usr/include/bearssl
CFLAGS_TEST := $(CFLAGS_COMMON) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined $(HOST_INC) -Itests/unit
# The test builds' libraries but libzxcvbn are Debian's own packages,
# shared (vendor/build.sh's HOST_DEBS): only the product's are built here.
# -no-pie: Debian's libzxcvbn.a (vendor/manifest: pinned as a binary
# package) is built without -fPIC, and gcc and clang here make PIE by
# default; the static musl link is not PIE anyway.
LIBS_HOST   := -no-pie -L$(HOST)/lib -llmdb -lbearssl -lsodium -lcrypto -lz -lzxcvbn -lpthread -lm
# build/tern-asan: the whole server, linked against glibc with ASan and UBSan,
# for running the protocol tests (real clients) against instrumented code.
# Not the product: dynamically linked, unstripped, several times slower.
CFLAGS_ASAN := $(CFLAGS_COMMON) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined $(HOST_INC)
LIBS_ASAN   := -no-pie -L$(HOST)/lib -lmicrohttpd -lcares -llmdb -lbearssl -lsodium -lcrypto -lz -lzxcvbn -lpthread -lm
# build/tern-tsan: the same under ThreadSanitizer, for make proto-tsan. Not
# part of make test: it would add another 4-5 minutes to the suite.
CFLAGS_TSAN := $(CFLAGS_COMMON) -O1 -fno-omit-frame-pointer -fsanitize=thread $(HOST_INC)

APP_SRCS    := $(sort $(wildcard app/*/*.c))
MAIN_SRC    := app/cli/main.c
# Unit and fuzz builds link tests/dns_stub.c in place of app/dns/dns.c
# (the c-ares resolver); build/tern-asan has the real one.
ARES_SRCS   := app/dns/dns.c app/dns/dns_query.c
DNS_STUB    := tests/dns_stub.c
LIB_SRCS    := $(filter-out $(MAIN_SRC) $(ARES_SRCS),$(APP_SRCS))
# build/tern embeds the UI bundle (generated table); unit and fuzz builds link
# a small fixed table instead, so they need no npm (app/web/web_assets_table.h).
WEB_GEN_OBJ := build/obj/build/gen/web_assets.o
WEB_FIXTURE := tests/web_assets_fixture.c
# The trust anchors (net/anchors_table.h): generated from vendor/out's
# certdata.txt by a host tool, linked into every build of the code.
ANCHORS_SRC := build/gen/anchors_table.c
# The Public Suffix List (dns/psl_table.h): generated from vendor/out's
# public_suffix_list.dat by a host tool that links core/punycode.c.
PSL_SRC     := build/gen/psl_table.c
# The look-alike skeletons (spam/confusable_table.h): generated from
# vendor/out's confusables.txt and UnicodeData.txt (Debian's icu source).
CONF_SRC    := build/gen/confusable_table.c
# Unicode's simple lowercase mapping (core/ucase.h): from the same
# UnicodeData.txt, by the same tool.
UCASE_SRC   := build/gen/ucase_table.c
# Unicode's full case folding (core/ufold.h): from CaseFolding.txt of the
# same icu source.
UFOLD_SRC   := build/gen/ufold_table.c
# Unicode's NFC (core/unorm.h): from UnicodeData.txt and
# DerivedNormalizationProps.txt of the same icu source.
UNORM_SRC   := build/gen/unorm_table.c
GEN_SRCS    := $(ANCHORS_SRC) $(PSL_SRC) $(CONF_SRC) $(UCASE_SRC) $(UFOLD_SRC) $(UNORM_SRC)
OBJS        := $(APP_SRCS:%.c=build/obj/%.o) $(WEB_GEN_OBJ) $(GEN_SRCS:%.c=build/obj/%.o)
# The host (unit, fuzz) builds have no libmicrohttpd or c-ares: they link
# the HTTP layer's pure parts (json.c, http_parse.c, dns_check_compare.c, ws_frame.c,
# and the push feeds over the store: push_feed.c, push_follow.c) and
# tests/http_stub.c for the rest.
HOST_PURE   := app/http/json.c app/http/http_parse.c app/http/dns_check_compare.c app/http/ws_frame.c \
               app/http/push_feed.c app/http/push_follow.c
HOST_SKIP   := $(filter-out $(HOST_PURE),$(wildcard app/http/*.c))
HOST_SRCS   := $(filter-out $(HOST_SKIP),$(LIB_SRCS)) tests/http_stub.c $(DNS_STUB)
# The unit tests link the same ASan/UBSan objects as build/tern-asan (the
# flags are the same): the code is compiled once for both. Only the stubs
# and the fixture that stand in for the server's HTTP, DNS and UI are the
# unit build's own, and the version (fixed at "test", so a commit does not
# relink every unit test).
TEST_ONLY   := tests/http_stub.c $(DNS_STUB) $(WEB_FIXTURE) app/core/version.c
TEST_OBJS   := $(patsubst %.c,build/asan-obj/%.o,$(filter-out $(TEST_ONLY),$(HOST_SRCS)) $(GEN_SRCS)) \
               $(TEST_ONLY:%.c=build/test-obj/%.o)
ASAN_OBJS   := $(APP_SRCS:%.c=build/asan-obj/%.o) build/asan-obj/build/gen/web_assets.o \
               $(GEN_SRCS:%.c=build/asan-obj/%.o)
TSAN_OBJS   := $(APP_SRCS:%.c=build/tsan-obj/%.o) build/tsan-obj/build/gen/web_assets.o \
               $(GEN_SRCS:%.c=build/tsan-obj/%.o)
UNIT_SRCS   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=build/unit/%)
FUZZ_SRCS   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS   := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)
FUZZ_OBJS   := $(HOST_SRCS:%.c=build/fuzz-obj/%.o) $(WEB_FIXTURE:%.c=build/fuzz-obj/%.o) \
               $(GEN_SRCS:%.c=build/fuzz-obj/%.o)
# make fuzz-check replays the corpora through one gcc ASan/UBSan program
# (tests/fuzz/replay.c says how), not the clang fuzzers above.
FUZZ_NAMES  := $(FUZZ_SRCS:tests/fuzz/%.c=%)
REPLAY_OBJS := $(FUZZ_SRCS:%.c=build/test-obj/%.o) build/test-obj/tests/fuzz/replay.o
FUZZ_SECONDS ?= 30
comma       := ,
JOBS        := $(shell nproc 2>/dev/null || echo 2)
VERSION     := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

.PHONY: FORCE all vendor run test unit sievesuite proto proto-asan proto-tsan fuzz fuzz-check bench soak image clean
# Keep objects that pattern chains would treat as intermediate.
.SECONDARY:

all: build/tern

vendor: $(VENDOR)/.done

# The vendor script is idempotent and fast when nothing changed; the stamp
# only saves make from calling it at all.
$(VENDOR)/.done: vendor/manifest vendor/build.sh
	vendor/build.sh
	touch $@

build/obj/%.o: %.c $(VENDOR)/.done
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC_MUSL) $(CFLAGS_MUSL) -DTERN_VERSION='"$(VERSION)"' -MMD -MP -c $< -o $@

# ---- web UI (web/, Vite) -> build/web/ -> build/gen/web_assets.c
# npm runs only when the lockfile changed (npm writes the hidden lockfile
# node_modules/.package-lock.json); vite only when a UI source changed.
WEB_SRCS := web/package.json web/package-lock.json web/index.html web/vite.config.js \
            $(shell find web/src web/public -type f 2>/dev/null)

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

build/web.stamp: $(WEB_SRCS) web/node_modules/.package-lock.json
	@mkdir -p build
	cd web && node_modules/.bin/vite build --logLevel warn
	@touch $@

build/gen/web_assets.c: build/web.stamp scripts/gen-web-assets.mjs
	node scripts/gen-web-assets.mjs build/web $@

build/gen-anchors: scripts/gen-anchors.c $(VENDOR)/.done
	@mkdir -p build
	@echo "CC (host tool) $<"
	@$(CC_HOST) -O1 $(WARN) $(HOST_INC) -o $@ $< -L$(HOST)/lib -lbearssl

$(ANCHORS_SRC): build/gen-anchors $(VENDOR)/.done
	@mkdir -p $(dir $@)
	build/gen-anchors $(HOST)/share/certdata.txt $(HOST)/share/blacklist.txt $@

PSL_TOOL_SRCS := scripts/gen-psl.c app/core/punycode.c app/core/utf8.c
build/gen-psl: $(PSL_TOOL_SRCS) app/core/punycode.h app/core/utf8.h app/dns/psl_table.h
	@mkdir -p build
	@echo "CC (host tool) $<"
	@$(CC_HOST) -O1 $(WARN) -Iapp -o $@ $(PSL_TOOL_SRCS)

$(PSL_SRC): build/gen-psl $(VENDOR)/.done
	@mkdir -p $(dir $@)
	build/gen-psl $(HOST)/share/public_suffix_list.dat $@

CONF_TOOL_SRCS := scripts/gen-confusables.c app/core/utf8.c
build/gen-confusables: $(CONF_TOOL_SRCS) app/core/utf8.h app/core/ucase.h app/spam/confusable_table.h
	@mkdir -p build
	@echo "CC (host tool) $<"
	@$(CC_HOST) -O1 $(WARN) -Iapp -o $@ $(CONF_TOOL_SRCS)

$(CONF_SRC): build/gen-confusables $(VENDOR)/.done
	@mkdir -p $(dir $@)
	build/gen-confusables $(HOST)/share/confusables.txt $(HOST)/share/UnicodeData.txt $@

$(UCASE_SRC): build/gen-confusables $(VENDOR)/.done
	@mkdir -p $(dir $@)
	build/gen-confusables --lower $(HOST)/share/UnicodeData.txt $@

UFOLD_TOOL_SRCS := scripts/gen-ufold.c app/core/utf8.c
build/gen-ufold: $(UFOLD_TOOL_SRCS) app/core/utf8.h app/core/ufold.h
	@mkdir -p build
	@echo "CC (host tool) $<"
	@$(CC_HOST) -O1 $(WARN) -Iapp -o $@ $(UFOLD_TOOL_SRCS)

$(UFOLD_SRC): build/gen-ufold $(VENDOR)/.done
	@mkdir -p $(dir $@)
	build/gen-ufold $(HOST)/share/CaseFolding.txt $@

build/gen-unorm: scripts/gen-unorm.c app/core/unorm.h
	@mkdir -p build
	@echo "CC (host tool) $<"
	@$(CC_HOST) -O1 $(WARN) -Iapp -o $@ scripts/gen-unorm.c

$(UNORM_SRC): build/gen-unorm $(VENDOR)/.done
	@mkdir -p $(dir $@)
	build/gen-unorm $(HOST)/share/UnicodeData.txt $(HOST)/share/DerivedNormalizationProps.txt $@

# Every TERN_* name the sources mention, as C strings: the names a
# misspelled variable is compared with (config_unknown_vars). Rewritten
# only when the list changes, so config.o is rebuilt only then.
build/gen/config_vars.h: $(APP_SRCS)
	@mkdir -p $(dir $@)
	@{ printf '#define CONFIG_VARS \\\n'; grep -ohE '"TERN_[A-Z0-9_]+"' $(APP_SRCS) | sort -u | \
	  sed 's/$$/, \\/'; printf '\n'; } > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(foreach d,obj test-obj asan-obj tsan-obj fuzz-obj,build/$(d)/app/core/config.o): build/gen/config_vars.h

# The version string lives in its own object; build/version.txt changes
# only when `git describe` does, and rebuilding that one object is all a
# new commit needs for `tern version` to tell the truth.
build/version.txt: FORCE
	@mkdir -p build
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@

build/obj/app/core/version.o: build/version.txt

FORCE:

build/tern: $(OBJS)
	@echo "LD $@"
	@$(CC_MUSL) -static -o $@ $(OBJS) $(LIBS_MUSL)
	@strip $@
	@printf 'build/tern: %s bytes, %s\n' "$$(stat -c %s $@)" "$$(file -b $@ | grep -o 'statically linked' || echo 'NOT STATIC')"

build/test-obj/%.o: %.c $(VENDOR)/.done
	@mkdir -p $(dir $@)
	@echo "CC (test) $<"
	@$(CC_HOST) $(CFLAGS_TEST) -DTERN_VERSION='"test"' -MMD -MP -c $< -o $@

# Unit tests and fuzzers link the code from an archive, so each takes only
# the objects it needs: building test_core (its source compiled, then
# linked) took 3.6 s with all 356 objects named (a 29 MB binary) and 2.1 s
# from the archive (2 MB), times 89 tests and 84 fuzzers. The archive is
# made anew each time, so no member outlives its source.
build/libtern-test.a: $(TEST_OBJS)
	@rm -f $@
	@ar rcs $@ $^

build/libtern-fuzz.a: $(FUZZ_OBJS)
	@rm -f $@
	@ar rcs $@ $^

# A unit test's own link flags: test_json counts the JSON code's calls
# into buf_append and utf8_seq through the linker's --wrap.
LDFLAGS_test_json := -Wl,--wrap=buf_append -Wl,--wrap=utf8_seq

build/unit/%: tests/unit/%.c build/libtern-test.a
	@mkdir -p $(dir $@)
	@echo "LD $@"
	@$(CC_HOST) $(CFLAGS_TEST) -o $@ $< build/libtern-test.a $(LDFLAGS_$*) $(LIBS_HOST)

# build/sievesuite runs Pigeonhole's Sieve test suite (tests/sievesuite/):
# it links its own copy of the Sieve engine, compiled with SIEVE_TESTSUITE
# (the hook its vnd.dovecot.testsuite commands plug into); those objects
# come before the archive, so the archive's plain ones are not taken.
SIEVESUITE_OBJS := $(patsubst %.c,build/sievesuite-obj/%.o,$(wildcard app/sieve/sieve_*.c))

build/sievesuite-obj/%.o: %.c $(VENDOR)/.done
	@mkdir -p $(dir $@)
	@echo "CC (sievesuite) $<"
	@$(CC_HOST) $(CFLAGS_TEST) -DSIEVE_TESTSUITE -MMD -MP -c $< -o $@

build/sievesuite: tests/sievesuite/sievesuite.c $(SIEVESUITE_OBJS) build/libtern-test.a
	@echo "LD $@"
	@$(CC_HOST) $(CFLAGS_TEST) -DSIEVE_TESTSUITE -o $@ $< $(SIEVESUITE_OBJS) build/libtern-test.a $(LIBS_HOST)

# The suite's files listed in tests/sievesuite/passing.txt must all pass.
sievesuite: build/sievesuite
	tests/sievesuite/run.sh

# Each fuzz target's entry points renamed after it, so that all of them
# link into build/fuzz-replay beside tests/fuzz/replay.c; its table of them
# is rewritten only when the list of targets changes.
build/gen/fuzz_targets.h: FORCE
	@mkdir -p $(dir $@)
	@printf 'FUZZ_TARGET(%s)\n' $(FUZZ_NAMES) > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

build/test-obj/tests/fuzz/%.o: tests/fuzz/%.c $(VENDOR)/.done
	@mkdir -p $(dir $@)
	@echo "CC (fuzz-replay) $<"
	@$(CC_HOST) $(CFLAGS_TEST) -DLLVMFuzzerTestOneInput=$*_one -DLLVMFuzzerInitialize=$*_init \
	  -MMD -MP -c $< -o $@
build/test-obj/tests/fuzz/replay.o: build/gen/fuzz_targets.h

build/fuzz-replay: $(REPLAY_OBJS) build/libtern-test.a
	@echo "LD $@"
	@$(CC_HOST) $(CFLAGS_TEST) -o $@ $(REPLAY_OBJS) build/libtern-test.a $(LIBS_HOST)

# The spam classifier's cross-validation on a corpus (scripts/spam-cv.c).
build/spam-cv: scripts/spam-cv.c build/libtern-test.a
	@echo "LD $@"
	@$(CC_HOST) $(CFLAGS_TEST) -o $@ $< build/libtern-test.a $(LIBS_HOST)

# The sanitized servers: $(1) asan or tsan, $(2) compile flags, $(3) link
# flags, $(4) the objects.
define SANITIZED_SERVER
build/$(1)-obj/%.o: %.c $$(VENDOR)/.done
	@mkdir -p $$(dir $$@)
	@echo "CC ($(1)) $$<"
	@$$(CC_HOST) $(2) -DTERN_VERSION='"$$(VERSION)"' -MMD -MP -c $$< -o $$@

build/$(1)-obj/app/core/version.o: build/version.txt

build/tern-$(1): $(4)
	@echo "LD $$@"
	@$$(CC_HOST) $(3) -o $$@ $$^ $$(LIBS_ASAN)
endef
$(eval $(call SANITIZED_SERVER,asan,$(CFLAGS_ASAN),-fsanitize=address$(comma)undefined,$(ASAN_OBJS)))
$(eval $(call SANITIZED_SERVER,tsan,$(CFLAGS_TSAN),-fsanitize=thread,$(TSAN_OBJS)))

# The unit tests run side by side (each makes its own temporary files and
# listens on ports the kernel picks): one after the other they left a core
# idle for 46 s. Each one's output is printed whole, in order, after all
# ran; the failures last.
unit: $(UNIT_BINS)
	@rm -rf build/unit-logs; mkdir -p build/unit-logs
	@printf '%s\n' $(UNIT_BINS) | xargs -P$$(( $(JOBS) + 1 )) -I{} sh -c \
	  'n=$$(basename {}); ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	   {} >build/unit-logs/$$n.log 2>&1 || touch build/unit-logs/$$n.failed'
	@for t in $(UNIT_BINS); do n=$$(basename $$t); \
	  [ -e build/unit-logs/$$n.failed ] || cat build/unit-logs/$$n.log; done
	@failed=0; for t in $(UNIT_BINS); do n=$$(basename $$t); \
	  if [ -e build/unit-logs/$$n.failed ]; then failed=1; \
	    echo "---- FAILED $$t ----"; cat build/unit-logs/$$n.log; fi; done; \
	  exit $$failed

# PROTO=substring runs only the tests whose module:function contains it.
# run.py sets each sanitized build's options and empties its report
# directory (build/asan-logs, build/tsan-logs); any report there fails the
# run, even if no test noticed.
proto: build/tern
	python3 tests/proto/run.py $(PROTO)

proto-asan: build/tern-asan
	python3 tests/proto/run.py --build asan $(PROTO)

proto-tsan: build/tern-tsan
	python3 tests/proto/run.py --build tsan $(PROTO)

# The test tools install (scripts/install-test-deps: apt, npm) while the
# vendored libraries compile: after vendor/build.sh --fetch has done the
# vendor's own apt steps, the two share nothing, and on a fresh machine
# each takes minutes. Then everything the suite runs is built, on every
# core (the compiles are independent; the sub-makes after it find them
# built).
test:
	vendor/build.sh --fetch
	@mkdir -p build
	@echo "scripts/install-test-deps, beside the vendored libraries' build (its output after)"
	@scripts/install-test-deps >build/install-test-deps.log 2>&1 & deps=$$!; \
	  $(MAKE) vendor; rc=$$?; \
	  wait $$deps; drc=$$?; cat build/install-test-deps.log; \
	  [ $$rc -eq 0 ] && [ $$drc -eq 0 ]
	@echo "make -j$(JOBS): the unit tests, build/fuzz-replay, build/tern and build/tern-asan"
	@$(MAKE) -j$(JOBS) $(UNIT_BINS) build/fuzz-replay build/sievesuite build/tern build/tern-asan
	$(MAKE) unit
	$(MAKE) sievesuite
	$(MAKE) fuzz-check
	$(MAKE) proto
	$(MAKE) proto-asan

build/fuzz-obj/%.o: %.c $(VENDOR)/.done
	@mkdir -p $(dir $@)
	@echo "CC (fuzz) $<"
	@$(CLANG) $(CFLAGS_COMMON) -O1 -fsanitize=fuzzer-no-link,address,undefined $(HOST_INC) -MMD -MP -c $< -o $@

build/fuzz/%: tests/fuzz/%.c build/libtern-fuzz.a
	@mkdir -p $(dir $@)
	@echo "LD $@"
	@$(CLANG) $(CFLAGS_COMMON) -O1 -fsanitize=fuzzer,address,undefined $(HOST_INC) -MMD -MP -MF $@.d -o $@ $< build/libtern-fuzz.a $(LIBS_HOST)

fuzz: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do n=$$(basename $$f); \
	  mkdir -p build/fuzz/corpus-$$n; \
	  dict=""; [ -f tests/fuzz/$$n.dict ] && dict="-dict=tests/fuzz/$$n.dict"; \
	  echo "fuzz $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -artifact_prefix=build/fuzz/$$n- $$dict build/fuzz/corpus-$$n tests/fuzz/corpus/$$n 2>build/fuzz/$$n.log \
	    || { tail -40 build/fuzz/$$n.log; exit 1; }; \
	  grep -E '^Done|#[0-9]+.*DONE' build/fuzz/$$n.log | tail -1; done

# Every fuzz target replays its committed corpus once under ASan and UBSan:
# a regression check, not a fuzzing run (that is make fuzz). A failing
# input is the last one its log names (build/fuzz/TARGET.check.log).
fuzz-check: build/fuzz-replay
	@mkdir -p build/fuzz
	@set -e; for n in $(FUZZ_NAMES); do \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  build/fuzz-replay $$n tests/fuzz/corpus/$$n >build/fuzz/$$n.check.log 2>&1 \
	    || { tail -40 build/fuzz/$$n.check.log; exit 1; }; \
	  echo "fuzz-check $$(tail -1 build/fuzz/$$n.check.log)"; done

run: build/tern
	@mkdir -p data
	TERN_DATA_DIR=$${TERN_DATA_DIR:-./data} build/tern serve

bench: build/tern
	@set -e; for b in scripts/bench-*; do echo "== $$b"; $$b; done

# The long runs, with the latency bounds make test leaves out: a minute of
# mixed abuse in which every operation of a legitimate user is answered
# within a second, and five minutes of the IMAP stress model.
soak: build/tern
	TERN_SOAK_STRICT=1 python3 tests/proto/run.py test_soak_abuse
	TERN_STRESS_SECONDS=300 TERN_STRESS_STEPS=1000000 python3 tests/proto/run.py test_imap_stress_model

image:
	docker build --build-arg TERN_VERSION=$(VERSION) -t tern .

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(TSAN_OBJS:.o=.d) \
         $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:=.d) $(REPLAY_OBJS:.o=.d) $(SIEVESUITE_OBJS:.o=.d)
