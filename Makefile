# Quarterdeck — `make` (or `make help`) lists the targets.
#
# `make run` and `make test` need only Go. Code generation and linting install their tools at pinned
# versions into .tools/ (git-ignored); nothing global is assumed or changed.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
# The version every binary reports (--version, logs, telemetry), from git when there is a checkout.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -ldflags "-X main.version=$(VERSION)"
TOOLS     := $(CURDIR)/.tools
TOOLBIN   := $(TOOLS)/bin
BIN       := $(CURDIR)/bin
export PATH := $(TOOLBIN):$(PATH)

# Pinned tool versions (see docs/development.md before changing one).
BUF_VERSION            := 1.75.0
PROTOC_GEN_GO_VERSION  := v1.36.12
PROTOC_GEN_GRPC_VERSION:= v1.6.2
GRPC_GATEWAY_VERSION   := v2.33.0
STATICCHECK_VERSION    := v0.8.2
REDOCLY_VERSION        := 2.77.0
ASYNCAPI_PARSER_VERSION:= 3.6.3
# The OpenAPI document's other checks (make lint-openapi): Spectral's own rule set, and a TypeScript
# client generated from the document, type-checked with the portal example (examples/portal).
SPECTRAL_VERSION       := 6.16.3
OPENAPI_TS_VERSION     := 7.13.0
OPENAPI_FETCH_VERSION  := 0.17.0
TYPESCRIPT_VERSION     := 5.9.3
OPENAPI_TOOLS          := $(TOOLS)/openapi/node_modules/.bin
NATS_SERVER_VERSION    := v2.15.3
GOTESTSUM_VERSION      := v1.13.0

# The API reference page (/docs): Swagger UI from npm, pinned by version and by the sha512 of the
# package tarball as the registry published it (`npm view swagger-ui-dist@<v> dist.integrity`).
# `make vendor-apiref` copies APIREF_FILES into gateway/apiref/dist, which is committed.
APIREF_PACKAGE   := swagger-ui-dist
APIREF_VERSION   := 5.35.0
APIREF_INTEGRITY := sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
APIREF_FILES     := swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt
APIREF_DIR       := gateway/apiref/dist

# The web console (/console) draws its charts with Chart.js from npm, pinned by version and by the
# sha512 of the package tarball (`npm view chart.js@<v> dist.integrity`). `make vendor-console`
# copies CONSOLE_FILES into gateway/console/dist, which is committed; the console's own pages are
# plain JavaScript modules with no build step.
CONSOLE_PACKAGE   := chart.js
CONSOLE_VERSION   := 4.6.1
CONSOLE_INTEGRITY := sha512-hJyniucsFmq//EvXYvJ6c6mahPoI3kaxdjVH8awTaJ/fDNWeSqqqArixMJWkWNN6fcYvPU3HneSANFNYtRi61g==
CONSOLE_FILES     := dist/chart.umd.js LICENSE.md
CONSOLE_DIR       := gateway/console/dist

# The Go modules of the workspace (go.work) and their packages.
MODULES := proto services/platform services/briefing services/budget services/vendors services/risk services/talent gateway deploy/standalone test examples/automation test/browser
PKGS    := $(foreach m,$(MODULES),./$(m)/...)
# The console's browser test (test/browser, headless Chromium) runs once, in its own target, not
# with every test run.
TEST_PKGS := $(filter-out ./test/browser/...,$(PKGS))

# The tests run through gotestsum: go test's own output, then every skipped test with its reason,
# every failure, and one line counting tests, skips and failures.
GOTESTSUM := $(TOOLBIN)/gotestsum --format standard-quiet --format-hide-empty-pkg
# Test flags: `make test RACE=1` adds the race detector (needs cgo and a C compiler).
TESTFLAGS ?=
ifeq ($(RACE),1)
TESTFLAGS += -race
endif

OPENAPI   := gateway/openapi/openapi.json
ASYNCAPI  := gateway/asyncapi/asyncapi.json
GENERATED := proto/gen $(OPENAPI) $(ASYNCAPI) docs/catalogue

##@ Everyday

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo

.PHONY: run
run: ## Run the whole platform on embedded defaults (NATS in-process, SQLite under ./data).
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck ./deploy/standalone
	$(BIN)/quarterdeck

.PHONY: demo
demo: ## Load the demo company into the platform `make run` started (QUARTERDECK_API_KEY: its admin key; DEMOFLAGS=--small for a smaller one).
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck ./deploy/standalone
	$(BIN)/quarterdeck demo $(DEMOFLAGS)

.PHONY: test
test: $(TOOLS)/.gotestsum-$(GOTESTSUM_VERSION) ## Run all tests (SQLite + embedded NATS; PostgreSQL/NATS too when QUARTERDECK_TEST_* are set).
	$(GOTESTSUM) -- -count=1 $(TESTFLAGS) $(TEST_PKGS)

.PHONY: test-browser
test-browser: $(TOOLS)/.gotestsum-$(GOTESTSUM_VERSION) ## The web console in headless Chromium: the demo company loaded, every page opened at 1280 and 390 px, screenshots in test/browser/screenshots (skips without Chromium).
	$(GOTESTSUM) -- -count=1 -v ./test/browser/...

.PHONY: build
build: ## Build the binaries into ./bin: quarterdeck (standalone), quarterdeck-budget, quarterdeck-vendors, quarterdeck-risk, quarterdeck-talent, quarterdeck-briefing, quarterdeck-gateway.
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck ./deploy/standalone
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck-budget ./services/budget/cmd/quarterdeck-budget
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck-vendors ./services/vendors/cmd/quarterdeck-vendors
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck-risk ./services/risk/cmd/quarterdeck-risk
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck-talent ./services/talent/cmd/quarterdeck-talent
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck-briefing ./services/briefing/cmd/quarterdeck-briefing
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck-gateway ./gateway/cmd/quarterdeck-gateway

.PHONY: image
image: ## Build the container image with every binary (needs Docker): quarterdeck:$(VERSION).
	docker build --build-arg VERSION=$(VERSION) -t quarterdeck:$(VERSION) .

##@ Deployment

# The chart's checks live in a Go module of their own (not in go.work), so that Helm's and
# Kubernetes' dependencies stay out of the services' modules.
CHART_MODULE := deploy/helm

.PHONY: chart
chart: $(TOOLS)/.gotestsum-$(GOTESTSUM_VERSION) ## Render the Helm chart for values/{minimal,production,external}.yaml, decode every manifest strictly into the Kubernetes API types, helm lint.
	@unformatted=$$(gofmt -l $(CHART_MODULE)); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	cd $(CHART_MODULE) && GOWORK=off $(GO) vet ./...
	cd $(CHART_MODULE) && GOWORK=off $(GOTESTSUM) -- -count=1 ./...

##@ API contract

.PHONY: generate
generate: tools-gen ## Regenerate Go code, the OpenAPI and AsyncAPI documents and the event catalogue from proto/ (idempotent).
	buf generate
	buf build -o .build/api.binpb
	mkdir -p $(dir $(OPENAPI))
	@# The merge takes the document's info and servers from its first input: budget_service.proto
	@# carries them (its openapiv3_document option), so its document goes first.
	openapiv3-merge $$(find .build/openapi -name 'budget_service.openapi.json') \
		$$(find .build/openapi -name '*.openapi.json' ! -name 'budget_service.openapi.json' | LC_ALL=C sort) \
		| $(GO) run ./gateway/openapi/normalize -descriptors .build/api.binpb > $(OPENAPI).tmp
	mv $(OPENAPI).tmp $(OPENAPI)
	cp .build/asyncapi/asyncapi.json $(ASYNCAPI)

.PHONY: check-generated
check-generated: generate ## Fail when the committed generated code differs from a fresh `make generate`.
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
		echo "Generated code is out of date; run 'make generate' and commit the result:"; \
		git status --porcelain -- $(GENERATED); git --no-pager diff --stat -- $(GENERATED); exit 1; \
	fi
	@echo "generated code is up to date"

.PHONY: vendor-apiref
vendor-apiref: ## Fetch the pinned API reference page package, check its sha512, copy it into gateway/apiref/dist.
	rm -rf .build/apiref && mkdir -p .build/apiref
	cd .build/apiref && npm pack --silent $(APIREF_PACKAGE)@$(APIREF_VERSION) >/dev/null
	got="sha512-$$(openssl dgst -sha512 -binary .build/apiref/$(APIREF_PACKAGE)-$(APIREF_VERSION).tgz | base64 -w0)"; \
	if [ "$$got" != "$(APIREF_INTEGRITY)" ]; then \
		echo "$(APIREF_PACKAGE)@$(APIREF_VERSION): sha512 $$got, want $(APIREF_INTEGRITY)"; exit 1; fi
	tar -xzf .build/apiref/$(APIREF_PACKAGE)-$(APIREF_VERSION).tgz -C .build/apiref
	rm -rf $(APIREF_DIR) && mkdir -p $(APIREF_DIR)
	for f in $(APIREF_FILES); do cp .build/apiref/package/$$f $(APIREF_DIR)/; done
	echo "$(APIREF_PACKAGE)@$(APIREF_VERSION) $(APIREF_INTEGRITY)" > $(APIREF_DIR)/VERSION

.PHONY: check-apiref
check-apiref: vendor-apiref ## Fail when gateway/apiref/dist differs from the pinned package.
	@if [ -n "$$(git status --porcelain -- $(APIREF_DIR))" ]; then \
		echo "gateway/apiref/dist does not match $(APIREF_PACKAGE)@$(APIREF_VERSION); run 'make vendor-apiref' and commit:"; \
		git status --porcelain -- $(APIREF_DIR); exit 1; \
	fi
	@echo "gateway/apiref/dist matches $(APIREF_PACKAGE)@$(APIREF_VERSION)"

.PHONY: vendor-console
vendor-console: ## Fetch the pinned charting package of the web console, check its sha512, copy it into gateway/console/dist.
	rm -rf .build/console && mkdir -p .build/console
	cd .build/console && npm pack --silent $(CONSOLE_PACKAGE)@$(CONSOLE_VERSION) >/dev/null
	got="sha512-$$(openssl dgst -sha512 -binary .build/console/$(CONSOLE_PACKAGE)-$(CONSOLE_VERSION).tgz | base64 -w0)"; \
	if [ "$$got" != "$(CONSOLE_INTEGRITY)" ]; then \
		echo "$(CONSOLE_PACKAGE)@$(CONSOLE_VERSION): sha512 $$got, want $(CONSOLE_INTEGRITY)"; exit 1; fi
	tar -xzf .build/console/$(CONSOLE_PACKAGE)-$(CONSOLE_VERSION).tgz -C .build/console
	rm -rf $(CONSOLE_DIR) && mkdir -p $(CONSOLE_DIR)
	for f in $(CONSOLE_FILES); do cp .build/console/package/$$f $(CONSOLE_DIR)/; done
	echo "$(CONSOLE_PACKAGE)@$(CONSOLE_VERSION) $(CONSOLE_INTEGRITY)" > $(CONSOLE_DIR)/VERSION

.PHONY: check-console
check-console: vendor-console ## Fail when gateway/console/dist differs from the pinned package.
	@if [ -n "$$(git status --porcelain -- $(CONSOLE_DIR))" ]; then \
		echo "gateway/console/dist does not match $(CONSOLE_PACKAGE)@$(CONSOLE_VERSION); run 'make vendor-console' and commit:"; \
		git status --porcelain -- $(CONSOLE_DIR); exit 1; \
	fi
	@echo "gateway/console/dist matches $(CONSOLE_PACKAGE)@$(CONSOLE_VERSION)"

##@ Proofs

# FAULTSFLAGS passes options to the fault program, e.g. FAULTSFLAGS='-creates 1000 -keep'.
FAULTSFLAGS ?=

.PHONY: proofs
proofs: ## The long correctness proofs, without the race detector: 10,000 actuals on one budget line summed to the cent.
	QUARTERDECK_TEST_LONG=1 $(GO) test -count=1 -run 'TestManyActualsSumToTheCent' ./services/budget/

.PHONY: faults
faults: $(TOOLS)/.nats-server-$(NATS_SERVER_VERSION) ## Kill -9 the relay and NATS during 10,000 creates; fail on any lost or duplicate event (needs QUARTERDECK_TEST_POSTGRES_DSN).
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck-budget ./services/budget/cmd/quarterdeck-budget
	$(GO) run ./test/faults -budget-bin $(BIN)/quarterdeck-budget -nats-server $(TOOLBIN)/nats-server $(FAULTSFLAGS)

# SCHEDPROOFFLAGS passes options to the scheduler proof, e.g. SCHEDPROOFFLAGS='-engine sqlite -keep'.
SCHEDPROOFFLAGS ?=

.PHONY: schedproof
schedproof: ## Kill -9 the active scheduler worker twice while 10,000 items come due within a minute; fail on any item fired twice, early or never (PostgreSQL with QUARTERDECK_TEST_POSTGRES_DSN, then SQLite).
	$(GO) run ./test/schedproof $(SCHEDPROOFFLAGS)

# CLUSTERPROOFFLAGS passes options to the cluster proof, e.g. CLUSTERPROOFFLAGS='-short -keep'.
CLUSTERPROOFFLAGS ?=

.PHONY: cluster-proof
cluster-proof: $(TOOLS)/.nats-server-$(NATS_SERVER_VERSION) ## 3 NATS nodes, 2 replicas of everything under load: kill -9 a NATS node and a replica of each service, roll the gateways, stop PostgreSQL 10 s; fail on any write lost, doubled or failed (CI: CLUSTERPROOFFLAGS=-short).
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck-budget ./services/budget/cmd/quarterdeck-budget
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck-vendors ./services/vendors/cmd/quarterdeck-vendors
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck-risk ./services/risk/cmd/quarterdeck-risk
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck-talent ./services/talent/cmd/quarterdeck-talent
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck-briefing ./services/briefing/cmd/quarterdeck-briefing
	$(GO) build $(LDFLAGS) -o $(BIN)/quarterdeck-gateway ./gateway/cmd/quarterdeck-gateway
	$(GO) run ./test/clusterproof -bin-dir $(BIN) -nats-server $(TOOLBIN)/nats-server $(CLUSTERPROOFFLAGS)

.PHONY: bench
bench: build $(TOOLS)/.nats-server-$(NATS_SERVER_VERSION) ## The load harness: both set-ups at fixed rates, rate searches, event path, baselines (needs QUARTERDECK_TEST_POSTGRES_DSN; BENCHFLAGS=-h lists options).
	$(GO) run ./test/load -bin-dir $(BIN) -nats-server $(TOOLBIN)/nats-server $(BENCHFLAGS)

##@ Quality

.PHONY: lint
lint: tools-lint ## gofmt, go vet, staticcheck, buf lint, the AsyncAPI parser, and the OpenAPI document's checks (lint-openapi).
	@unformatted=$$(gofmt -l $(MODULES)); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	staticcheck $(PKGS)
	buf lint
	NODE_PATH=$(TOOLS)/asyncapi/node_modules node gateway/asyncapi/validate.cjs $(ASYNCAPI)
	$(MAKE) lint-openapi

.PHONY: lint-openapi
lint-openapi: tools-lint ## The OpenAPI document: Redocly's and Spectral's recommended rules without a warning, and a generated TypeScript client type-checked (--strict) with examples/portal.
	@out=$$($(TOOLS)/npm/node_modules/.bin/redocly lint --config gateway/openapi/redocly.yaml $(OPENAPI) 2>&1) || { echo "$$out"; exit 1; }; \
	echo "$$out" | grep -v '^ *[║╔╚]'; \
	if grep -Eq 'You have [0-9]+ warning' <<<"$$out"; then echo "redocly: warnings are failures here"; exit 1; fi
	$(OPENAPI_TOOLS)/spectral lint --fail-severity=hint --ruleset gateway/openapi/spectral.yaml $(OPENAPI)
	mkdir -p .build/typescript
	$(OPENAPI_TOOLS)/openapi-typescript $(OPENAPI) -o .build/typescript/quarterdeck.d.ts
	$(OPENAPI_TOOLS)/tsc --version
	$(OPENAPI_TOOLS)/tsc --strict -p examples/portal/tsconfig.json
	@echo "examples/portal type-checks against the generated client"

.PHONY: test-embedded
test-embedded: $(TOOLS)/.gotestsum-$(GOTESTSUM_VERSION) ## Run all tests on the embedded defaults only (SQLite, in-process NATS), ignoring QUARTERDECK_TEST_*.
	QUARTERDECK_TEST_POSTGRES_DSN= QUARTERDECK_TEST_NATS_URL= $(GOTESTSUM) -- -count=1 $(TESTFLAGS) $(TEST_PKGS)

.PHONY: breaking
breaking: tools-gen ## Fail when the protos break compatibility with the main branch (API and events).
	@if git rev-parse --verify -q main >/dev/null; then buf breaking --against '.git#branch=main'; \
	else echo "no local main branch to compare with; skipped"; fi

# The embedded run in CI is there for the in-process NATS server and SQLite alone: the race
# detector ran over the same code in the run on the configured servers, and so did the load
# harness's smoke test, whose standalone set-up is the same single process on the same embedded
# servers. Without them the second run takes a fraction of the first's time.
EMBEDDED_CI_FLAGS := -skip TestHarnessSmoke

.PHONY: ci
ci: ## What CI runs: lint, breaking-change and drift checks (generated code, vendored /docs page and console charts), the Helm chart's checks, race tests on the configured servers and the tests again on the embedded ones, the console in a browser, the long proofs, the cluster proof shortened.
	$(MAKE) lint
	$(MAKE) breaking
	$(MAKE) check-generated
	$(MAKE) check-apiref
	$(MAKE) check-console
	$(MAKE) chart
	$(MAKE) test RACE=1
	$(MAKE) test-browser
	$(MAKE) proofs
	$(MAKE) cluster-proof CLUSTERPROOFFLAGS=-short
ifneq ($(QUARTERDECK_TEST_POSTGRES_DSN)$(QUARTERDECK_TEST_NATS_URL),)
	$(MAKE) test-embedded TESTFLAGS='$(EMBEDDED_CI_FLAGS)'
endif

##@ Tools

.PHONY: tools
tools: tools-gen tools-lint ## Install every pinned tool into .tools/.

.PHONY: tools-gen
tools-gen: $(TOOLS)/.buf-$(BUF_VERSION) $(TOOLS)/.go-plugins-$(GRPC_GATEWAY_VERSION)-$(PROTOC_GEN_GO_VERSION)-$(PROTOC_GEN_GRPC_VERSION)

.PHONY: tools-lint
tools-lint: tools-gen $(TOOLS)/.staticcheck-$(STATICCHECK_VERSION) $(TOOLS)/.redocly-$(REDOCLY_VERSION) \
	$(TOOLS)/.asyncapi-parser-$(ASYNCAPI_PARSER_VERSION) \
	$(TOOLS)/.openapi-$(SPECTRAL_VERSION)-$(OPENAPI_TS_VERSION)-$(OPENAPI_FETCH_VERSION)-$(TYPESCRIPT_VERSION)

# buf: the npm package ships the prebuilt binary (seconds); without npm, build it with Go (minutes).
$(TOOLS)/.buf-$(BUF_VERSION):
	mkdir -p $(TOOLBIN)
	if command -v npm >/dev/null; then \
		npm install --silent --no-audit --no-fund --prefix $(TOOLS)/buf @bufbuild/buf@$(BUF_VERSION); \
		ln -sf $(TOOLS)/buf/node_modules/.bin/buf $(TOOLBIN)/buf; \
	else \
		GOBIN=$(TOOLBIN) $(GO) install github.com/bufbuild/buf/cmd/buf@v$(BUF_VERSION); \
	fi
	buf --version
	touch $@

$(TOOLS)/.go-plugins-$(GRPC_GATEWAY_VERSION)-$(PROTOC_GEN_GO_VERSION)-$(PROTOC_GEN_GRPC_VERSION):
	mkdir -p $(TOOLBIN)
	GOBIN=$(TOOLBIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(TOOLBIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GRPC_VERSION)
	GOBIN=$(TOOLBIN) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
	GOBIN=$(TOOLBIN) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv3@$(GRPC_GATEWAY_VERSION)
	GOBIN=$(TOOLBIN) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/openapiv3-merge@$(GRPC_GATEWAY_VERSION)
	touch $@

$(TOOLS)/.staticcheck-$(STATICCHECK_VERSION):
	mkdir -p $(TOOLBIN)
	GOBIN=$(TOOLBIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	touch $@

$(TOOLS)/.gotestsum-$(GOTESTSUM_VERSION):
	mkdir -p $(TOOLBIN)
	GOBIN=$(TOOLBIN) $(GO) install gotest.tools/gotestsum@$(GOTESTSUM_VERSION)
	touch $@

# The nats-server the fault program kills: the same version as the library the services embed.
$(TOOLS)/.nats-server-$(NATS_SERVER_VERSION):
	mkdir -p $(TOOLBIN)
	GOBIN=$(TOOLBIN) $(GO) install github.com/nats-io/nats-server/v2@$(NATS_SERVER_VERSION)
	touch $@

$(TOOLS)/.redocly-$(REDOCLY_VERSION):
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/npm @redocly/cli@$(REDOCLY_VERSION)
	touch $@

# The AsyncAPI project's own parser validates the AsyncAPI document (gateway/asyncapi/validate.cjs).
$(TOOLS)/.asyncapi-parser-$(ASYNCAPI_PARSER_VERSION):
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/asyncapi @asyncapi/parser@$(ASYNCAPI_PARSER_VERSION)
	touch $@

$(TOOLS)/.openapi-$(SPECTRAL_VERSION)-$(OPENAPI_TS_VERSION)-$(OPENAPI_FETCH_VERSION)-$(TYPESCRIPT_VERSION):
	npm install --silent --no-audit --no-fund --save-exact --prefix $(TOOLS)/openapi \
		@stoplight/spectral-cli@$(SPECTRAL_VERSION) openapi-typescript@$(OPENAPI_TS_VERSION) \
		openapi-fetch@$(OPENAPI_FETCH_VERSION) typescript@$(TYPESCRIPT_VERSION)
	touch $@

.PHONY: clean
clean: ## Remove build outputs (keeps ./data and .tools).
	rm -rf $(BIN) .build
