# The two commands a new machine needs: `make run` and `make test` (see README.md).
GO ?= go

.PHONY: run test test-go webclient-deps fuzz bench

run:
	$(GO) run ./cmd/glint serve --dev

# Everything: Go tests with the race detector (including the real-Chromium tests, which
# need the web client's playwright-core); every fuzz target runs its seed corpus here, and
# `make fuzz` fuzzes for longer.
test: webclient-deps test-go

# -p 1: one package at a time. The real-browser and many-peer tests measure media flowing
# in real time; on a 2-core machine two such packages at once starve each other.
test-go:
	$(GO) test -race -count=1 -p 1 -timeout 20m ./...

webclient-deps: webclient/node_modules/.package-lock.json

webclient/node_modules/.package-lock.json: webclient/package-lock.json
	cd webclient && npm ci --no-audit --no-fund

# Longer fuzzing, for when a parser changes: make fuzz FUZZTIME=5m
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzCheckOffer -fuzztime $(FUZZTIME) ./sfu/
	$(GO) test -run '^$$' -fuzz FuzzParseFragment -fuzztime $(FUZZTIME) ./signaling/
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime $(FUZZTIME) ./signaling/auth/
	$(GO) test -run '^$$' -fuzz FuzzBearerToken -fuzztime $(FUZZTIME) ./signaling/auth/
	$(GO) test -run '^$$' -fuzz FuzzIsKeyframeStart -fuzztime $(FUZZTIME) ./simulcast/
	$(GO) test -run '^$$' -fuzz FuzzMunger -fuzztime $(FUZZTIME) ./simulcast/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./datachannel/
	$(GO) test -run '^$$' -fuzz FuzzReceive -fuzztime $(FUZZTIME) ./datachannel/
	$(GO) test -run '^$$' -fuzz FuzzToken -fuzztime $(FUZZTIME) ./datachannel/bus/
	$(GO) test -run '^$$' -fuzz FuzzRungs -fuzztime $(FUZZTIME) ./ingest/transcode/
	$(GO) test -run '^$$' -fuzz FuzzParamsApply -fuzztime $(FUZZTIME) ./ingest/transcode/
	$(GO) test -run '^$$' -fuzz FuzzMunger -fuzztime $(FUZZTIME) ./ingest/transcode/
	$(GO) test -run '^$$' -fuzz FuzzParseTarget -fuzztime $(FUZZTIME) ./ingest/rtmp/
	$(GO) test -run '^$$' -fuzz FuzzMetadata -fuzztime $(FUZZTIME) ./ingest/rtmp/
	$(GO) test -run '^$$' -fuzz FuzzProbe -fuzztime $(FUZZTIME) ./ingest/rtmp/
	$(GO) test -run '^$$' -fuzz FuzzWithParameterSets -fuzztime $(FUZZTIME) ./ingest/rtmp/

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./sfu/ ./simulcast/ ./datachannel/ ./ingest/transcode/
