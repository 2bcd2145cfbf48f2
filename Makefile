# sparse: build, test and benchmark. `make help` lists the targets.

GO ?= go
BIN := bin

# Micro-benchmarks beside the code run this long each (go test -benchtime).
BENCHTIME ?= 200ms
# Each fuzz target runs this long (go test -fuzztime).
FUZZTIME ?= 20s
# Length of `make soak`.
SOAK ?= 60s

# Protobuf code generation: every .proto under api/proto. Generated files land where
# their go_package option says (module mode), under PROTO_OUT. The Go plugins are pinned
# here and installed into ./bin.
MODULE := github.com/sparsestream/sparse
PROTO_DIR := api/proto
PROTO_OUT ?= .
PROTO_FILES := $(shell find $(PROTO_DIR) -name '*.proto' 2>/dev/null | sort)
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
# golangci-lint, pinned like the protoc plugins and installed into ./bin by `make lint`.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(BIN)/golangci-lint

.PHONY: help build test bench bench-scale soak ui-screenshots demo demo-local proto lint fuzz clean

help:
	@echo "make demo    build, then run wordcount on a one-node cluster (nimbusd, supervisord) for 20s"
	@echo "make demo-local   the same example in local mode, in one process"
	@echo "make test    the full test suite: Go with the race detector, and the Python client's"
	@echo "make build   every command under cmd/ and the wordcount example into ./$(BIN)"
	@echo "make bench   micro-benchmarks, then the BENCH lines of sparse-bench"
	@echo "make bench-scale   the control plane at 1,000 simulated nodes (SCALE_ARGS=... passes sparse-bench -scale-* flags)"
	@echo "make ui-screenshots   docs/images/ui-*.png, from the web UI's browser test (needs chromium)"
	@echo "make soak    sparse-bench -soak $(SOAK)"
	@echo "make lint    gofmt, go vet and golangci-lint (.golangci.yml; installed at a pinned version)"
	@echo "make fuzz    every fuzz target for $(FUZZTIME)"
	@echo "make proto   regenerate the Go code of the .proto files under $(PROTO_DIR)"
	@echo "make clean   remove ./$(BIN)"

build:
	$(GO) build -o $(BIN)/ ./cmd/...
	$(GO) build -o $(BIN)/wordcount ./examples/wordcount
	$(GO) build -o $(BIN)/wordcount-python ./examples/wordcount-python
	$(GO) build -o $(BIN)/kafka-wordcount ./examples/kafka-wordcount

test:
	bash scripts/test-deps.sh
	$(GO) test -race -count=1 ./...
	python3 -m unittest discover -s python/tests -t python

# The BENCH lines of sparse-bench are the last lines this target prints.
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./pkg/... ./internal/...
	$(GO) run ./cmd/sparse-bench

# The control plane at 1,000 nodes, simulated: real etcd and nimbusd, simulated
# supervisors and workers (docs/benchmarks.md). Its BENCH line is the last it prints.
bench-scale:
	$(GO) run ./cmd/sparse-bench -scale $(SCALE_ARGS)

soak:
	$(GO) run ./cmd/sparse-bench -soak $(SOAK)

# The screenshots of docs/ui.md, taken by the web UI's browser test.
ui-screenshots:
	SPARSE_UI_SCREENSHOTS=$(CURDIR)/docs/images $(GO) test -count=1 -run 'TestWebUI$$' ./test/e2e

# A one-node cluster: nimbusd with its embedded etcd, one supervisord with 4 slots, the
# wordcount example on 2 workers; then everything is shut down.
demo: build
	BIN=$(BIN) bash scripts/demo.sh

# The same example in local mode: every component in one process.
demo-local: build
	$(BIN)/sparsectl run ./$(BIN)/wordcount --time 15s --stats-every 3s

proto:
ifeq ($(strip $(PROTO_FILES)),)
	@echo "proto: no .proto files under $(PROTO_DIR); nothing to generate"
else
	@command -v protoc >/dev/null 2>&1 || { \
		echo "proto: protoc is not installed; install it with: apt-get install protobuf-compiler" >&2; exit 1; }
	GOBIN=$(CURDIR)/$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(CURDIR)/$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	protoc --proto_path=$(PROTO_DIR) \
		--plugin=protoc-gen-go=$(BIN)/protoc-gen-go \
		--plugin=protoc-gen-go-grpc=$(BIN)/protoc-gen-go-grpc \
		--go_out=$(PROTO_OUT) --go_opt=module=$(MODULE) \
		--go-grpc_out=$(PROTO_OUT) --go-grpc_opt=module=$(MODULE) \
		$(PROTO_FILES)
endif

lint: $(GOLANGCI_LINT)
	@files=$$(gofmt -l .); if [ -n "$$files" ]; then \
		echo "gofmt: these files are not formatted (run gofmt -w on them):"; echo "$$files"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

# Reinstalled when the pinned version changes: the stamp file names it.
$(GOLANGCI_LINT): $(BIN)/.golangci-lint-$(GOLANGCI_LINT_VERSION)
$(BIN)/.golangci-lint-$(GOLANGCI_LINT_VERSION):
	GOBIN=$(CURDIR)/$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	@rm -f $(BIN)/.golangci-lint-*; touch $@

# Finds every `func FuzzXxx` in a _test.go file and fuzzes it in its package.
fuzz:
	@targets=$$(grep -rn --include='*_test.go' --exclude-dir=.git '^func Fuzz' . \
		| sed -E 's#^(.*)/[^/]*_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#' | sort -u); \
	if [ -z "$$targets" ]; then echo "fuzz: no fuzz targets"; exit 0; fi; \
	echo "$$targets" | while read -r dir name; do \
		echo "fuzz: $$name in $$dir for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) "$$dir" || exit 1; \
	done

clean:
	rm -rf $(BIN)
