# tern: `make run` starts the relay, `make test` runs every test. Both install what is missing.
SWIFT ?= swift
APT_PACKAGES := libsecp256k1-dev liblmdb-dev libssl-dev zlib1g-dev pkg-config
## What only the tests need: the browser the status page is tested in, systemd-analyze, which
## checks the unit `make install` installs, and PostgreSQL, which the tests start themselves.
TEST_APT_PACKAGES := chromium systemd postgresql
## Python packages of the interop tests (Tests/interop): rust-nostr's nostr-sdk from PyPI.
PY_PACKAGES := nostr-sdk==0.45.1
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
LISTEN ?= 127.0.0.1:7447
DATA ?= ./tern-data

.PHONY: cluster deps test-deps py-deps interop apt-install install static binary-size build release run test test-sanitize format lint clean benchmarks benchmark-check benchmark-thresholds fuzz fuzz-build
FUZZ_SECONDS ?= 60

## Install the system libraries tern links against, when missing (Debian/Ubuntu).
deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

test-deps: py-deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(TEST_APT_PACKAGES)"

py-deps:
	@python3 -c "import nostr_sdk" 2>/dev/null || python3 -m pip install --quiet $(PY_PACKAGES) \
		|| python3 -m pip install --quiet --break-system-packages $(PY_PACKAGES)

## Other implementations against the real `tern` (once, not under the sanitizers): nostr-sdk
## syncs with it over NIP-77 and counts with NIP-45.
interop: py-deps
	TERN=$$($(SWIFT) build $(PG_TRAITS) --show-bin-path)/tern python3 Tests/interop/test_nostr_sdk.py

apt-install:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## Install the release binary, the systemd unit, an example configuration (an existing one is
## kept) and the `tern` system user. PREFIX (default /usr/local) and DESTDIR (staging) apply.
PREFIX ?= /usr/local
install: release
	install -D -m 0755 "$$($(SWIFT) build -c release --show-bin-path)/tern" "$(DESTDIR)$(PREFIX)/bin/tern"
	install -D -m 0644 deploy/tern.service "$(DESTDIR)/etc/systemd/system/tern.service"
	sed -i "s|/usr/local/bin/tern|$(PREFIX)/bin/tern|; s|/usr/local/share/doc/tern|$(PREFIX)/share/doc/tern|" \
		"$(DESTDIR)/etc/systemd/system/tern.service"
	[ -e "$(DESTDIR)/etc/tern/tern.toml" ] || install -D -m 0640 deploy/tern.toml "$(DESTDIR)/etc/tern/tern.toml"
	install -D -m 0644 docs/OPERATING.md "$(DESTDIR)$(PREFIX)/share/doc/tern/OPERATING.md"
	if [ -z "$(DESTDIR)" ]; then \
		id -u tern >/dev/null 2>&1 || $(SUDO) useradd --system --home-dir /var/lib/tern --shell /usr/sbin/nologin tern; \
		chgrp tern /etc/tern/tern.toml; \
		command -v systemctl >/dev/null && $(SUDO) systemctl daemon-reload || true; \
		echo "installed; start it with: sudo systemctl enable --now tern"; \
	fi

## A fully static, stripped `tern` (Swift runtime, C libraries and libc linked in) for machines
## without the toolchain: .build-static/tern-static. `make binary-size` checks it against the budget.
STATIC_FLAGS = -c release --product tern --static-swift-stdlib --scratch-path .build-static \
	-Xswiftc -static-executable -Xswiftc -Osize -Xswiftc -use-ld=lld -Xlinker --icf=all
static: deps
	$(SWIFT) build $(STATIC_FLAGS)
	strip -o .build-static/tern-static .build-static/release/tern
	@ls -l .build-static/tern-static

## Fails when the static binary is over BUDGET_MB (default 15 MiB); prints what it is made of.
binary-size: static
	scripts/binary-size.sh

## Start the relay on its embedded LMDB store.
run: release
	exec $$($(SWIFT) build -c release --show-bin-path)/tern serve --listen $(LISTEN) --data $(DATA)

## A local PostgreSQL (from Debian's packages, in a temporary folder) and two tern nodes on it:
## prints their URLs; Ctrl-C stops everything (docs/SCALING.md).
cluster: deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="postgresql"
	$(SWIFT) build -c release --traits Postgres --product tern
	scripts/cluster.sh

## Build once (with the PostgreSQL backend: the `Postgres` trait), then run every test, replay
## the fuzz corpus, fuzz briefly, check the malloc-count gate of the benchmarks, and run the
## tests again under TSan and ASan on the default build (without PostgreSQL), which also checks
## that the default `tern` links no PostgreSQL client.
PG_TRAITS = --traits Postgres
test: deps test-deps lint
	$(SWIFT) build --build-tests $(PG_TRAITS)
	$(SWIFT) test --skip-build $(PG_TRAITS)
	$(MAKE) interop
	$$($(SWIFT) build $(PG_TRAITS) --show-bin-path)/FuzzRelayInput Fuzz/corpus
	$(MAKE) fuzz FUZZ_SECONDS=30
	scripts/benchmark-check.sh
	$(MAKE) test-sanitize

## The whole test suite (and the `tern` processes it starts) under ThreadSanitizer, then under
## AddressSanitizer with LeakSanitizer; any report fails the run. Each has its own build folder.
## LeakSanitizer checks the relay processes the tests start, not the XCTest process itself:
## Swift keeps weak-reference side tables where LSan cannot see them, so XCTest's own objects
## read as leaked (see RelayProcess.environment).
## SANITIZER_UNDER_TEST (not TERN_*: `tern` refuses unknown TERN_ names, and it inherits the
## environment) tells the flood test that shadow memory inflates RSS (it then checks
## behaviour, not the 150 MB bound). scripts/tsan.supp names the one known false report
## (Swift's continuation hand-off, which TSan cannot see into).
## The browser test runs once, in the plain run: Chromium is not under test. The slowest suites
## run under one sanitizer each, the one that can find something in them, to keep `make test`
## within its time: the differential tests (single-threaded matching, hundreds of random rounds)
## and the flood test (memory under hostile load) under ASan only; the read-fairness tests
## (the reader pool's scheduling, across threads) and the log's crash tests (the writer and the
## checkpoint thread at each fault point) under TSan only.
SANITIZER_SKIP = --skip StatusPageBrowserTests
TSAN_SKIP = $(SANITIZER_SKIP) --skip DifferentialTests --skip StorageProtocolTests.testQueriesAgreeWithTheNaiveReference \
	--skip FloodMemoryTests
ASAN_SKIP = $(SANITIZER_SKIP) --skip ReadFairnessTests --skip LogCrashTests
SYMBOLIZER = $$(dirname $$(readlink -f $$(command -v $(SWIFT))))/llvm-symbolizer
test-sanitize: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	scripts/lean-check.sh .build-tsan/debug/tern
	SANITIZER_UNDER_TEST=thread TSAN_SYMBOLIZER_PATH=$(SYMBOLIZER) \
		TSAN_OPTIONS=suppressions=$(CURDIR)/scripts/tsan.supp \
		$(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan $(TSAN_SKIP)
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	SANITIZER_UNDER_TEST=address ASAN_OPTIONS=detect_leaks=0 RELAY_ASAN_OPTIONS=detect_leaks=1 \
		ASAN_SYMBOLIZER_PATH=$(SYMBOLIZER) \
		$(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan $(ASAN_SKIP)

## libFuzzer build of Fuzz/FuzzRelayInput (its own build folder: everything is instrumented).
fuzz-build: deps
	$(SWIFT) build -c release --product FuzzRelayInput --scratch-path .build-fuzz \
		-Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xswiftc -use-ld=lld

## A bounded fuzz run (FUZZ_SECONDS, default 60) from the committed corpus; a crash fails it.
fuzz: fuzz-build
	scripts/fuzz.sh $(FUZZ_SECONDS)

## All micro-benchmarks, time and mallocs per operation (TERN_BENCH_STORE_EVENTS sizes the query store).
benchmarks: deps
	$(SWIFT) package --allow-writing-to-package-directory benchmark

## Fails when a change raises a benchmark's malloc count.
benchmark-check: deps
	scripts/benchmark-check.sh

## Records today's malloc counts as the thresholds (commit Benchmarks/Thresholds after).
benchmark-thresholds: deps
	TERN_BENCH_STORE_EVENTS=100000 $(SWIFT) package --allow-writing-to-package-directory benchmark thresholds update \
		--path Benchmarks/Thresholds --metric mallocCountTotal --no-progress

format:
	$(SWIFT) format format --in-place --recursive Sources Tests Benchmarks Fuzz Package.swift

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Benchmarks Fuzz Package.swift

clean:
	rm -rf .build
