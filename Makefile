SHELL := /bin/bash
NODE_MODULES := node_modules/.package-lock.json
TAP := npx tap --disable-coverage --reporter=tap --timeout=240 --jobs=2
# The failover runs: serial, since each file runs a whole broker cluster.
CLUSTER_TAP := npx tap --disable-coverage --reporter=tap --timeout=420 --jobs=1 'build/test-cluster/*.test.js'

.PHONY: all build test run bench clean certs

all: build

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# Both tsconfigs keep a record in build/tsc/ and check again only the files an edit can affect.
# tsc does not look for the outputs a record names, so the record of dist/ goes when dist/ has.
build: $(NODE_MODULES)
	@[ -e dist/cli.js ] || rm -f build/tsc/src.tsbuildinfo
	npx tsc -p tsconfig.json
	npx tsc -p tsconfig.test.json
	@node scripts/prune-build.mjs

# The plugin API as a plugin in its own package sees it: the declarations under strict
# (test/types, each @ts-expect-error a mistake they must refuse), and the example plugin built
# against this package and run through the contract kit. The example's dependency on this
# package is a link, as npm makes for its `file:../..`: nothing is downloaded.
EXAMPLE := examples/jsonl-recorder
.PHONY: test-plugin-api example-link
test-plugin-api: build example-link
	npx tsc -p test/types/tsconfig.json
	npx tsc -p $(EXAMPLE)
	node --test $(EXAMPLE)/dist/test/

example-link:
	mkdir -p $(EXAMPLE)/node_modules && ln -sfn ../../.. $(EXAMPLE)/node_modules/fleet-telemetry

# Lint: ESLint with type information (eslint.config.js), which reads the example plugin and
# test/types through the emitted declarations as their own packages do; then Prettier.
.PHONY: lint format check
lint: build example-link
	npx eslint .
	npx prettier --check .

# Rewrites what ESLint can fix, then formats; fails when ESLint findings remain.
format: build example-link
	@status=0; npx eslint --fix . || status=$$?; npx prettier --write --log-level warn . && exit $$status

# The edit-test loop: types (both tsconfigs), lint, and the tests that need no outside service and
# start no process (scripts/fast-tests.mjs), as plain node processes without tap's runner, in two
# lanes for two cores (scripts/check.sh). Every step runs even when one before it fails.
# ESLint keeps a cache here: a file is linted again when it changes, so a type change elsewhere
# can hide a finding until `make lint`.
check: $(NODE_MODULES) example-link
	@bash scripts/check.sh

# Every test, then the failover runs on RabbitMQ and NATS clusters (about 4 minutes more).
test: lint build test-plugin-api
	@bash scripts/test-deps.sh rabbitmq-server
	@set -o pipefail; $(TAP) 'build/test/**/*.test.js' | node scripts/tap-summary.mjs
	@set -o pipefail; $(CLUSTER_TAP) | node scripts/tap-summary.mjs

dev-certs/ca.pem: | build
	node dist/cli.js certs --out dev-certs

certs: dev-certs/ca.pem

# The server on the embedded broker with development certificates: nothing else to install.
run: build dev-certs/ca.pem
	node dist/cli.js serve --config config.example.json

clean:
	rm -rf dist build .tap $(EXAMPLE)/dist

# Micro-benchmark of the per-frame hot path, no network (bench/README.md).
.PHONY: bench-micro
bench-micro: build
	node build/bench/decode-plan.js

# Bytes of JS heap allocated per frame by each step of the hot path (issue #22, bench/README.md).
.PHONY: bench-alloc
bench-alloc: build
	node --expose-gc --max-semi-space-size=256 --min-semi-space-size=256 build/bench/alloc.js

# Broker restarted every 10 s for 60 s under resending vehicles; prints its counts.
.PHONY: chaos
chaos: build
	node build/bench/chaos.js

# End-to-end benchmark (issue #14): stock mosquitto + the real server + vehicles, then mqtt.js and
# batched-publisher baselines on the same broker (bench/README.md). Flags: make bench ARGS='--qos 0'
bench: build
	node build/bench/e2e.js $(ARGS)
	$(MAKE) --no-print-directory bench-sparse

# Sparse traffic (issue #22): 1 vehicle sending its next frame on each ack, and 100 vehicles at
# 2 frames/s each (200/s in all), one frame in flight at a time, on the
# same stock mosquitto setup; the latency a lone car feels. Flags: make bench-sparse SPARSE_ARGS='--qos 2'
.PHONY: bench-sparse
bench-sparse: build
	node build/bench/e2e.js --vehicles 1 --window 1 --no-half --no-baselines --seconds 5 $(SPARSE_ARGS)
	node build/bench/e2e.js --vehicles 100 --window 1 --rate 200 --no-baselines --seconds 5 $(SPARSE_ARGS)

# Idle mTLS vehicles up to 10,000; the soft fd limit is raised to the hard one first (bench/README.md).
.PHONY: bench-scale
bench-scale: build
	ulimit -n "$$(ulimit -Hn)" 2>/dev/null || true; node build/bench/scale.js $(ARGS)

# What an idle WebSocket connection costs in a bare Node https + ws server, no code of ours: the
# floor under bench-scale's RSS per vehicle (bench/README.md).
.PHONY: bench-tls-floor
bench-tls-floor: build
	ulimit -n "$$(ulimit -Hn)" 2>/dev/null || true; node build/bench/tls-floor.js $(ARGS)

# One vehicle pipelining N frames beside paced vehicles: their ack latency, the burst's acked/s and
# the server's peak RSS; ARGS='--hung-broker-seconds 15' stops mosquitto mid-run (bench/README.md).
.PHONY: bench-burst
bench-burst: build
	node build/bench/burst.js $(ARGS)

# Seeded hostile frames (names with control characters, / + # . spaces, over 256 bytes, bit flips)
# through the real server to a real mosquitto; exit 1 on a broker disconnect or an escaped topic.
# Flags: make fuzz ARGS='--frames 20000 --seed 7' (bench/README.md).
.PHONY: fuzz
fuzz: build
	node build/bench/fuzz-broker.js $(ARGS)

# Heap of the fleet view's latest values at 10,000 vehicles × 50 fields, and their per-field cost (bench/README.md).
.PHONY: bench-fleet
bench-fleet: build
	node --expose-gc build/bench/fleet-memory.js $(ARGS)

# Failover runs (issue #21): 3-node RabbitMQ and NATS clusters from deploy/, 2 servers behind
# deploy/haproxy.cfg, resending vehicles, kill -9 of a broker node then of a server. Serial: each
# file runs a whole cluster. `make test` ends with them; this runs them alone.
.PHONY: test-cluster
test-cluster: build
	@bash scripts/test-deps.sh rabbitmq-server
	@set -o pipefail; $(CLUSTER_TAP) | node scripts/tap-summary.mjs

# The whole suite with every server a test starts running `workers: 2` (test/helpers/server.ts).
.PHONY: test-workers
test-workers: build
	@bash scripts/test-deps.sh
	@set -o pipefail; FT_TEST_WORKERS=2 $(TAP) 'build/test/**/*.test.js' | node scripts/tap-summary.mjs

# Idle memory per vehicle with mTLS ended at the server and at nginx / haproxy in front (tls.proxy
# mode), the server and the proxy each (issue #31, bench/README.md). Flags: ARGS='--vehicles 2000'
.PHONY: bench-proxy-memory
bench-proxy-memory: build
	@bash scripts/test-deps.sh
	ulimit -n "$$(ulimit -Hn)" 2>/dev/null || true; node build/bench/proxy-memory.js $(ARGS)

# Reconnect storm (issue #21): N idle mTLS vehicles (default 10,000), kill -9 of the server and a
# restart on the same port; time until all reconnected and acked, with 1 and 2 workers. The soft
# fd limit is raised to the hard one first. Flags: make bench-storm ARGS='--vehicles 2000'
.PHONY: bench-storm
bench-storm: build
	ulimit -n "$$(ulimit -Hn)" 2>/dev/null || true; node build/bench/storm.js $(ARGS)

# The fleet page at 10,000 vehicles in Chromium: first view, JS heap, live updates with every
# connected vehicle sending, and the size of the events (bench/README.md). Flags: ARGS='--vehicles 20000'
.PHONY: bench-fleet-page
bench-fleet-page: build
	@bash scripts/test-deps.sh
	node build/bench/fleet-page.js $(ARGS)

# The same vehicles through the server to mosquitto, a Kafka cluster (librdkafka's mock),
# kinesalite, redis-server and a zmq subscriber, one after the other: fields/s and server CPU per
# record (bench/README.md).
.PHONY: bench-dispatch
bench-dispatch: build
	@bash scripts/test-deps.sh
	node build/bench/dispatch.js $(ARGS)
