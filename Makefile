# The two commands of the README: `make dev` runs the whole system,
# `make test` runs every test.

.PHONY: dev test build bench image

# Runs leadwheel on this machine: installs nats-server when missing, builds,
# and starts `leadwheel dev` (Ctrl-C stops everything). `cargo run` finds the
# binary wherever cargo builds it (CARGO_TARGET_DIR or ./target), and execs
# it, so Ctrl-C reaches `leadwheel dev` itself. Extra options: DEV_ARGS, e.g.
# `make dev DEV_ARGS="--window-secs 2"`.
dev:
	@LEADWHEEL_NATS_SERVER="$$(scripts/ensure-nats-server.sh)" && export LEADWHEEL_NATS_SERVER && \
	  cargo build -p leadwheel -p leadctl && \
	  cargo run --quiet -p leadwheel --bin leadwheel -- dev $(DEV_ARGS)

# Every test: unit, property, integration (per service, real NATS and
# stores) and end-to-end (the five binaries as processes). The Postgres
# variants run against TEST_POSTGRES_URL, or, when it is unset, against the
# local server scripts/ensure-postgres.sh starts; LEADWHEEL_SKIP_POSTGRES=1
# skips them instead (without either, they fail).
test:
	@LEADWHEEL_NATS_SERVER="$$(scripts/ensure-nats-server.sh)" && export LEADWHEEL_NATS_SERVER && \
	  if [ -z "$${TEST_POSTGRES_URL:-}" ] && [ "$${LEADWHEEL_SKIP_POSTGRES:-}" != 1 ]; then \
	    TEST_POSTGRES_URL="$$(scripts/ensure-postgres.sh)" || { \
	      echo "make test: no Postgres for the Postgres variants; set TEST_POSTGRES_URL, or LEADWHEEL_SKIP_POSTGRES=1 to skip them" >&2; exit 1; }; \
	    export TEST_POSTGRES_URL; \
	  fi && \
	  scripts/ensure-test-tools.sh && \
	  cargo build --workspace --bins && \
	  cargo test --workspace

build:
	cargo build --workspace --bins

# Benchmarks of the wheel (docs/benchmarks.md): starts its own nats-server
# and the release wheel on SQLite; `--quick` sizes take about two minutes.
# Full sizes: `make bench BENCH_ARGS="all --window 300s"`. `cargo run` finds
# the binaries wherever cargo builds them (CARGO_TARGET_DIR or ./target).
BENCH_ARGS ?= all --quick
bench:
	@LEADWHEEL_NATS_SERVER="$$(scripts/ensure-nats-server.sh)" && export LEADWHEEL_NATS_SERVER && \
	  cargo build --release -p leadwheel-wheel -p leadwheel-intake -p leadwheel-bench && \
	  cargo run --release --quiet -p leadwheel-bench -- $(BENCH_ARGS)

# The container image (docs/deploy.md): builds the release binary, then the
# image FROM scratch over a root file system made here (no image is pulled):
# with `docker build` when a Docker engine answers, else as an OCI tar in
# deploy/.build/leadwheel-image.tar. LEADWHEEL_BIN=path skips the build;
# IMAGE=name:tag, IMAGE_PROFILE=dev, IMAGE_ENGINE=docker|none.
image:
	deploy/image/build.sh
