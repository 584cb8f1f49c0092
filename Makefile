# towerhook — see README.md. `make run` and `make test` are the whole set-up.
GO      ?= go
BIN     := bin/towerhook
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BUILD_TIME ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.buildTime=$(BUILD_TIME)
PKGS    := ./...

.PHONY: all build run test bench bench-load bench-http lint fuzz validate-examples screenshots clean static image image-test install uninstall dist

all: build

build:
	$(GO) build -trimpath -buildvcs=auto -ldflags '$(LDFLAGS)' -o $(BIN) .

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

# The console pictures of docs/console.md, taken by the browser test (needs Chromium).
screenshots:
	TOWERHOOK_SCREENSHOTS=$(CURDIR)/docs $(GO) test -count=1 -run '^TestConsoleInBrowser$$' ./daemon/

validate-examples:
	$(GO) run . validate examples/webhooks --secrets-dir examples/secrets

# Container image (Containerfile): a static binary built here, the CA
# certificates and a passwd naming the non-root user (65532) in bin/image,
# built with docker (when its daemon answers), podman or buildah.
IMAGE   ?= towerhook
TAG     ?= $(VERSION)
CA_CERTS ?= /etc/ssl/certs/ca-certificates.crt
IMAGE_TOOL ?= $(shell if docker info >/dev/null 2>&1; then echo docker; \
	elif command -v podman >/dev/null; then echo podman; \
	elif command -v buildah >/dev/null; then echo buildah; fi)
IMAGE_BUILD_FLAGS ?=

static:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -ldflags '$(LDFLAGS)' -o $(BIN)-static .

image: static
	@test -n "$(IMAGE_TOOL)" || { echo "make image: needs docker, podman or buildah" >&2; exit 1; }
	@test -r "$(CA_CERTS)" || { echo "make image: no CA bundle at $(CA_CERTS) (install ca-certificates or set CA_CERTS)" >&2; exit 1; }
	rm -rf bin/image
	install -d bin/image/rootfs/usr/local/bin bin/image/rootfs/etc/ssl/certs bin/image/rootfs/etc/towerhook/webhooks bin/image/data
	install -d -m 1777 bin/image/rootfs/tmp
	install -m 0755 $(BIN)-static bin/image/rootfs/usr/local/bin/towerhook
	install -m 0644 $(CA_CERTS) bin/image/rootfs/etc/ssl/certs/ca-certificates.crt
	printf 'root:x:0:0:root:/:/sbin/nologin\ntowerhook:x:65532:65532:towerhook:/data:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' > bin/image/rootfs/etc/passwd
	printf 'root:x:0:\ntowerhook:x:65532:\nnobody:x:65534:\n' > bin/image/rootfs/etc/group
	$(IMAGE_TOOL) $(if $(filter buildah,$(IMAGE_TOOL)),bud,build) $(IMAGE_BUILD_FLAGS) -f Containerfile -t $(IMAGE):$(TAG) bin/image

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the systemd unit
# (pointing at the installed binary), shell completions, the man page and
# the README with docs/. Completions and the man page come from the binary itself.
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
DATADIR := $(PREFIX)/share

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DATADIR)/man/man1 \
		$(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(DATADIR)/zsh/site-functions \
		$(DESTDIR)$(DATADIR)/fish/vendor_completions.d $(DESTDIR)$(DATADIR)/doc/towerhook/docs
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/towerhook
	sed -e 's|/usr/local/bin/towerhook|$(BINDIR)/towerhook|g' -e 's|/usr/local/share/doc/towerhook|$(DATADIR)/doc/towerhook|g' \
		examples/deploy/systemd/towerhook.service > $(DESTDIR)$(UNITDIR)/towerhook.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/towerhook.service
	$(BIN) man > $(DESTDIR)$(DATADIR)/man/man1/towerhook.1
	$(BIN) completion bash > $(DESTDIR)$(DATADIR)/bash-completion/completions/towerhook
	$(BIN) completion zsh > $(DESTDIR)$(DATADIR)/zsh/site-functions/_towerhook
	$(BIN) completion fish > $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/towerhook.fish
	install -m 0644 README.md $(DESTDIR)$(DATADIR)/doc/towerhook/README.md
	install -m 0644 docs/*.md docs/*.png $(DESTDIR)$(DATADIR)/doc/towerhook/docs/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/towerhook $(DESTDIR)$(UNITDIR)/towerhook.service \
		$(DESTDIR)$(DATADIR)/man/man1/towerhook.1 $(DESTDIR)$(DATADIR)/bash-completion/completions/towerhook \
		$(DESTDIR)$(DATADIR)/zsh/site-functions/_towerhook $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/towerhook.fish
	rm -rf $(DESTDIR)$(DATADIR)/doc/towerhook

# make dist: static archives bin/dist/towerhook-VERSION.linux-ARCH.tar.gz
# (binary, README, docs, examples, systemd unit, completions, man page) and
# bin/dist/sha256sums.txt (check with: sha256sum -c sha256sums.txt).
DIST_PLATFORMS ?= linux/amd64 linux/arm64

dist: build
	rm -rf bin/dist && mkdir -p bin/dist
	set -e; for p in $(DIST_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; d=towerhook-$(VERSION).$$os-$$arch; r=bin/dist/$$d; \
		mkdir -p $$r/completions; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -buildvcs=auto -ldflags '$(LDFLAGS)' -o $$r/towerhook .; \
		cp -r README.md docs examples $$r/; cp examples/deploy/systemd/towerhook.service $$r/; \
		$(BIN) man > $$r/towerhook.1; \
		$(BIN) completion bash > $$r/completions/towerhook.bash; \
		$(BIN) completion zsh > $$r/completions/_towerhook; \
		$(BIN) completion fish > $$r/completions/towerhook.fish; \
		tar -C bin/dist --sort=name --owner=0 --group=0 --numeric-owner --mtime='$(BUILD_TIME)' -czf $$r.tar.gz $$d; \
		rm -rf $$r; \
	done
	cd bin/dist && sha256sum *.tar.gz > sha256sums.txt && cat sha256sums.txt

# Builds the image with buildah (vfs storage, no daemon; root) and runs
# `towerhook version` and `validate` of the examples inside it.
image-test:
	bash .ci/image-test

clean:
	rm -rf bin
