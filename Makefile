# towerhook — see README.md. `make run` and `make test` are the whole set-up.
GO      ?= go
BIN     := bin/towerhook
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
PKGS    := ./...

.PHONY: all build run test bench bench-load bench-http lint fuzz validate-examples screenshots clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

run: build
	$(BIN) serve --dir examples/webhooks --secrets-dir examples/secrets \
		--listen :8080 --admin-listen 127.0.0.1:8081 --data ./data --log-format text

test:
	$(GO) vet $(PKGS)
	$(GO) test -race -timeout 20m $(PKGS)
	$(GO) run . validate examples/webhooks --secrets-dir examples/secrets
	$(GO) run . test examples/webhooks
	$(GO) run . test examples/run-as

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 -timeout 60m $(PKGS)

# Loopback load comparison of a bare net/http HMAC handler and towerhook:
# five interleaved runs of every row (the machine's speed drifts, so each
# row's %bare is taken against the bare handler of the same run).
bench-load:
	$(GO) test -c -o bin/daemon.test ./daemon/
	cd daemon && for i in 1 2 3 4 5; do \
		../bin/daemon.test -test.run '^$$' -test.bench 'Loopback' -test.benchtime 3s || exit 1; \
	done

# The same comparison measured by an external load generator (wrk, from the
# distribution's packages, installed here when missing): five interleaved
# rounds; each row's %bare and %fsync are taken within its own round.
bench-http:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y --no-install-recommends wrk; }
	$(GO) test -c -o bin/daemon.test ./daemon/
	cd daemon && for i in 1 2 3 4 5; do \
		../bin/daemon.test -test.run '^$$' -test.bench '^BenchmarkHTTP$$' -test.benchtime 1x || exit 1; \
	done

lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 60s ./definitions/
	$(GO) test -run '^$$' -fuzz FuzzDecodeTestFile -fuzztime 60s ./definitions/
	$(GO) test -run '^$$' -fuzz FuzzMaskSecrets -fuzztime 60s ./definitions/
	$(GO) test -run '^$$' -fuzz FuzzJSONBridge -fuzztime 60s ./lua/
	$(GO) test -run '^$$' -fuzz FuzzPayloadProjection -fuzztime 60s ./lua/
	$(GO) test -run '^$$' -fuzz FuzzPatternDiff -fuzztime 60s ./lua/
	$(GO) test -run '^$$' -fuzz FuzzValidJSON -fuzztime 60s ./logs/
	$(GO) test -run '^$$' -fuzz FuzzRedactPayload -fuzztime 60s ./logs/
	$(GO) test -run '^$$' -fuzz FuzzDecodeMeta -fuzztime 60s ./logs/
	$(GO) test -run '^$$' -fuzz FuzzDedupID -fuzztime 60s ./daemon/
	$(GO) test -run '^$$' -fuzz FuzzScanFrames -fuzztime 60s ./logs/
	$(GO) test -run '^$$' -fuzz FuzzCheckDamagedStore -fuzztime 60s ./logs/
	$(GO) test -run '^$$' -fuzz FuzzCheckFile -fuzztime 60s ./logs/
	$(GO) test -run '^$$' -fuzz FuzzCapRecord -fuzztime 60s ./daemon/
	$(GO) test -run '^$$' -fuzz FuzzSecretMasking -fuzztime 60s ./daemon/
	$(GO) test -run '^$$' -fuzz FuzzEachMatch -fuzztime 60s ./lua/
	$(GO) test -run '^$$' -fuzz FuzzAppendString -fuzztime 60s ./internal/jsonx/
	$(GO) test -run '^$$' -fuzz FuzzEncodedLen -fuzztime 60s ./internal/jsonx/
	$(GO) test -run '^$$' -fuzz FuzzConsoleCallPage -fuzztime 60s ./daemon/

# The README's console pictures, taken by the browser test (needs Chromium).
screenshots:
	TOWERHOOK_SCREENSHOTS=$(CURDIR)/docs $(GO) test -count=1 -run '^TestConsoleInBrowser$$' ./daemon/

validate-examples:
	$(GO) run . validate examples/webhooks --secrets-dir examples/secrets

clean:
	rm -rf bin
