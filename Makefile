# The two commands a new machine needs: `make run` and `make test` (see README.md).
GO ?= go

.PHONY: run test test-go test-sdk webclient-deps fuzz soak bench

run:
	$(GO) run ./cmd/glint serve --dev

# Everything: Go tests with the race detector (including the real-Chromium tests, which
# need the web client's playwright-core); every fuzz target runs its seed corpus here, and
# `make fuzz` fuzzes for longer.
test: webclient-deps test-sdk test-go

# The JS/TS SDK: its committed build (embedded in the binary) must be what its source
# builds, within its size budget, and its unit tests pass (node's test runner).
test-sdk: webclient-deps
	cd webclient && node sdk/build.mjs --check && node --test sdk/test/

# -p 1: one package at a time. The real-browser and many-peer tests measure media flowing
# in real time; on a 2-core machine two such packages at once starve each other.
test-go:
	$(GO) test -race -count=1 -p 1 -timeout 20m ./...

webclient-deps: webclient/node_modules/.package-lock.json

webclient/node_modules/.package-lock.json: webclient/package-lock.json
	cd webclient && npm ci --no-audit --no-fund

# Longer fuzzing, for when a parser changes: make fuzz FUZZTIME=5m. Every Fuzz target of
# every package is found with `go test -list`, so a new target cannot be left out.
FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# Thirty minutes of 100 WebRTC viewers and chat at 20 msg/s against one server, sampling its
# RSS, goroutines and fds every 30 s (not in CI; results in docs/RELIABILITY.md).
soak:
	scripts/soak --duration 30m --viewers 100 --chat-rate 20

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./sfu/ ./simulcast/ ./datachannel/ ./ingest/transcode/
