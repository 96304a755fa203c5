# omnibase-infra. `make run` and `make test` install what they need on a fresh Debian machine.
SHELL := /bin/bash
GO ?= go
BIN := bin/omni
# VERSION is what omni version and omni_build_info say: git describe of the tree built.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
export TESTCONTAINERS_RYUK_DISABLED := true

.PHONY: run build test test-short test-race bench lint images image compose-images docker migrate clean postgres-binaries

## run: the whole loop on this machine with embedded defaults (omni dev)
run: postgres-binaries build
	./$(BIN) dev

## build: the static omni binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.version=$(VERSION) -X main.revision=$(REVISION)" -o $(BIN) ./cmd/omni

## test: the whole suite, the testcontainers integration tests included
test: images
	$(GO) test -count=1 -timeout 45m ./...

## test-short: unit tests of the pure parts only (no Docker)
test-short:
	$(GO) test -count=1 -short ./events/... ./projections/... ./sagas/...

## test-race: the whole suite under the race detector
test-race: images
	$(GO) test -count=1 -race -timeout 60m ./...

## bench: throughput against raw baselines (outbox, relay, projection, replay), end-to-end latency
## and one process's memory, measured in one run; every figure is also written to bench-results.json
bench: images
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 6x -timeout 30m ./tests/bench/

## lint: gofmt, go vet, staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## images: the local images the suite runs (built only when missing; tagged by recipe hash)
images: docker
	$(GO) run ./tests/images/cmd/build-images

## image: the omni image from deploy/Dockerfile, as omnibase-infra/omni:dev (IMAGE=NAME:TAG for another)
IMAGE ?= omnibase-infra/omni:dev
image: docker
	bash deploy/build.sh $(IMAGE)

## compose-images: every image deploy/compose.yaml runs, tagged :dev (built only when missing)
compose-images: docker
	$(GO) run ./tests/images/cmd/build-images -tag dev

## docker: make a Docker engine answer (installs and starts one when none does)
docker:
	bash tests/docker-up.sh

## migrate: apply the migrations to DATABASE_URL
migrate: build
	./$(BIN) migrate up

## postgres-binaries: PostgreSQL's server binaries for omni dev's throwaway database
postgres-binaries:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing PostgreSQL server binaries"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null; \
	fi

clean:
	rm -rf bin
