# Keeper network: every command a developer runs often. `make help` lists them.
# Everything installs into git-ignored folders of this repo (contracts/node_modules, target/);
# nothing comes from anywhere but the package registries.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CONTRACTS := contracts
NODE_MODULES := $(CONTRACTS)/node_modules
TOOLCHAIN_STAMP := $(NODE_MODULES)/.keeper-toolchain
FORGE := $(abspath $(NODE_MODULES)/@foundry-rs/forge-linux-amd64/bin/forge)
ANVIL := $(abspath $(NODE_MODULES)/@foundry-rs/anvil-linux-amd64/bin/anvil)
CAST := $(abspath $(NODE_MODULES)/@foundry-rs/cast-linux-amd64/bin/cast)
# Contracts whose ABI and bytecode the Rust crates bind to (shared/artifacts/).
BINDINGS := BlsBatchVerifier EmptyContract PauserRegistry ERC20Strategy DevnetStrategyFactory StakeToken \
            TransparentUpgradeableProxy ProxyAdmin UpgradeableBeacon KeeperServiceManager BlsKeyRegistry \
            JobManager TaskManager \
            SampleCounter SampleLiquidationBook SampleVault SampleVaultResolver SampleOracle SamplePriceMirror
ARTIFACTS := shared/artifacts
# Tools from Debian's packages, unpacked into .tools/ (git-ignored) by scripts/deb-tool.sh, never
# installed system-wide: `$(TOOLS)/<name>/.installed` is each one's stamp, `.tools/bin/` its wrappers.
TOOLS := .tools
DEB_TOOLS := $(TOOLS)/prometheus/.installed $(TOOLS)/tmux/.installed
export KEEPER_PROMETHEUS := $(abspath $(TOOLS)/bin/prometheus)
export KEEPER_PROMTOOL := $(abspath $(TOOLS)/bin/promtool)
# tmux drives `keeperctl tui` in a real terminal (tui/tests/console_tmux.rs).
export KEEPER_TMUX := $(abspath $(TOOLS)/bin/tmux)

# The AssemblyScript SDK for script jobs (npm `assemblyscript`, pinned by its lock) and its example modules,
# built into sdk/assemblyscript/build/ (git-ignored); the script tests and benchmarks run them.
SDK := sdk/assemblyscript
SDK_STAMP := $(SDK)/node_modules/.keeper-sdk
SDK_EXAMPLES := $(SDK)/build/.built

# CI runs on a fresh clone each time: keep the cargo target dir outside it so warm runs reuse it.
ifeq ($(CI),true)
export CARGO_TARGET_DIR ?= $(HOME)/.cache/keeper-network/target
endif
export KEEPER_ANVIL := $(ANVIL)
export CARGO_TERM_COLOR ?= never

.PHONY: help setup tools sdk contracts bindings bindings-check vectors build release demo load history bench-signatures test test-rust test-contracts \
        lint fmt fmt-check clippy gas clean p2p-netns

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: $(TOOLCHAIN_STAMP) tools sdk ## Install Foundry (forge, anvil, cast), solc-js, forge-std, OpenZeppelin from npm, the tools, the script SDK (idempotent)

tools: $(DEB_TOOLS) ## Install Prometheus, promtool and tmux from Debian's packages into .tools/ (idempotent)

# Recipes per tool: scripts/deb-tool.sh NAME BINARY[,BINARY...] [PACKAGE...] (extra packages: shared libraries).
$(TOOLS)/prometheus/.installed: scripts/deb-tool.sh
	scripts/deb-tool.sh prometheus prometheus,promtool
	@touch $@

# tmux 3.3a (bookworm) links libevent_core and libutempter besides libc and libtinfo (always there).
$(TOOLS)/tmux/.installed: scripts/deb-tool.sh
	scripts/deb-tool.sh tmux tmux tmux libevent-core-2.1-7 libutempter0
	@touch $@

$(TOOLCHAIN_STAMP): $(CONTRACTS)/package.json $(CONTRACTS)/package-lock.json
	@command -v npm >/dev/null || { echo "setup: npm (Node.js 20+) is required" >&2; exit 1; }
	cd $(CONTRACTS) && npm ci --no-audit --no-fund --loglevel=error
	@"$(FORGE)" --version | head -1
	@"$(ANVIL)" --version | head -1
	@touch $@

sdk: $(SDK_EXAMPLES) ## Install the AssemblyScript script SDK from npm and build its examples (idempotent)

$(SDK_STAMP): $(SDK)/package.json $(SDK)/package-lock.json
	@command -v npm >/dev/null || { echo "setup: npm (Node.js 20+) is required" >&2; exit 1; }
	cd $(SDK) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(SDK_EXAMPLES): $(SDK_STAMP) $(SDK)/build.mjs $(wildcard $(SDK)/assembly/*.ts $(SDK)/examples/*.ts)
	cd $(SDK) && node build.mjs
	@touch $@

contracts: setup ## Compile the contracts (offline, solc-js)
	cd $(CONTRACTS) && "$(FORGE)" build

bindings: contracts ## Regenerate shared/artifacts/ (Rust bindings) from forge's build output
	node $(CONTRACTS)/tools/export-artifacts.js $(CONTRACTS)/out $(ARTIFACTS) $(BINDINGS)

bindings-check: contracts ## Fail if shared/artifacts/ differs from what the contracts compile to
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	node $(CONTRACTS)/tools/export-artifacts.js $(CONTRACTS)/out "$$tmp" $(BINDINGS); \
	for name in $(BINDINGS); do \
	  cmp -s "$$tmp/$$name.json" "$(ARTIFACTS)/$$name.json" || { echo "bindings-check: $(ARTIFACTS)/$$name.json is stale: run 'make bindings' and commit" >&2; exit 1; }; \
	done; echo "bindings-check: shared/artifacts matches the contracts"

vectors: ## Regenerate contracts/test/vectors/ (Rust-made BLS vectors); check contracts/test/eigenlayer/ (core ABI + bytecode) against eigen-utils
	KEEPER_UPDATE_VECTORS=1 cargo test -p keeper-shared --test solidity_vectors
	cargo test -p keeperd --features eigen-utils --test eigenlayer_bytecode

build: setup ## Build keeperd and keeperctl
	cargo build --workspace --bins

# The commit `--version` names (keeper_shared::version): read at compile time by option_env!, not by a
# build script, so ordinary builds do not rebuild on every commit. Only `make release` sets it: set in
# the debug profile, each switch between `make build` and `cargo test` would rebuild every workspace crate.
RELEASE_BINS := keeperd keeperctl
RELEASE_DIR = $${CARGO_TARGET_DIR:-target}/release

release: ## Optimised keeperd and keeperctl (target/release), --version naming the commit; prints their sizes
	export KEEPER_GIT_COMMIT="$$(git rev-parse --short HEAD)$$(git diff --quiet HEAD 2>/dev/null || echo -dirty)"; \
	cargo build --release $(addprefix -p ,$(RELEASE_BINS)) --bins
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	mib() { awk -v b="$$(stat -c %s "$$1")" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }; \
	for bin in $(RELEASE_BINS); do \
	  path="$(RELEASE_DIR)/$$bin"; stripped=""; \
	  if command -v strip >/dev/null; then strip -o "$$tmp/$$bin" "$$path" && stripped=", $$(mib "$$tmp/$$bin") stripped"; fi; \
	  echo "release: $$path: $$(mib "$$path")$$stripped; $$("$$path" --version)"; \
	done

# The devnet harness (keeper-devnet) runs the keeperd built beside it: both are built first.
DEVNET_BINS := cargo build --quiet -p keeperd --bin keeperd && cargo run --quiet -p keeper-devnet --

demo: setup ## Local devnet: EigenLayer + the AVS on anvil, three keeper daemons performing sample jobs (Ctrl-C stops)
	$(DEVNET_BINS) run $(ARGS)

load: setup ## Load benchmark (debug build, ~8 min): 1,000 interval jobs at 60 s, 4 keepers, 1-s blocks, 5-min window (ARGS="--transport p2p")
	$(DEVNET_BINS) bench-load --dir .devnet/load --report .devnet/load/report.json $(ARGS)

history: setup ## Long-history measurement (debug build, ~15 min, ~5 GB for anvil): 10,000 jobs over 1,000,000 blocks, a first start, GET /v1/operators, a reorg, keeperctl job list --rpc-url
	cargo test -p keeperd --test pipeline_e2e long_history_first_start_measured -- --ignored --nocapture

bench-signatures: ## Criterion benchmark of the aggregator's signature path (release build: ~15 min the first time), on one core
	cargo bench -p keeperd --bench signature_path --no-run
	taskset -c 0 cargo bench -p keeperd --bench signature_path

test: setup fmt-check bindings-check test-contracts clippy test-rust ## Everything: fmt, bindings, forge tests, clippy, cargo tests

test-contracts: setup ## forge tests (with gas report of the verifier)
	cd $(CONTRACTS) && "$(FORGE)" test

test-rust: setup ## cargo tests (unit, vectors, anvil end-to-end)
	# End-to-end tests run the real keeperctl, keeperd and keeper-devnet, each built with its own
	# package's features (keeper_devnet::binaries); built here first so that compiling them never
	# competes with a running end-to-end test for the CPU.
	cargo build -p keeperctl --bin keeperctl
	cargo build -p keeperd --bin keeperd
	cargo build -p keeper-devnet --bin keeper-devnet
	cargo test --workspace --all-targets

p2p-netns: setup ## The operators' network across network namespaces: two bare nodes, then four keeperds (root; prints SKIPPED otherwise)
	cargo test -p keeper-p2p --test netns -- --nocapture
	cargo test -p keeperd --test p2p_netns -- --nocapture

lint: fmt-check clippy ## fmt and clippy checks

fmt: setup ## Format Rust and Solidity
	cargo fmt --all
	cd $(CONTRACTS) && "$(FORGE)" fmt

fmt-check: setup
	cargo fmt --all -- --check
	cd $(CONTRACTS) && "$(FORGE)" fmt --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

gas: setup ## forge gas report of the BLS verifier and batch digest
	cd $(CONTRACTS) && "$(FORGE)" test --gas-report

clean: ## Remove build output (keeps the installed toolchain)
	cargo clean
	rm -rf $(CONTRACTS)/out $(CONTRACTS)/cache
