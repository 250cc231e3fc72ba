# Discret's build entry points. `make` (or `make help`) lists them.

GO ?= go

.DEFAULT_GOAL := help

.PHONY: help build test race fuzz generate check bench bench-quick

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/discret
	$(GO) build -o bin/discret ./cmd/discret

test: ## run every test (the README's test command)
	$(GO) test ./...

race: ## run every test under the race detector
	$(GO) test -race ./...

FUZZTIME ?= 10s

fuzz: ## run every fuzz target (parsers, decoders, codecs) for FUZZTIME each (default 10s; new failures land in testdata/fuzz)
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s $$pkg; \
		done; \
	done

generate: ## regenerate the API code and OpenAPI document (serve/api) from the .proto
	$(GO) generate ./serve/api/...

check: generate ## regenerate, then fail if generated files differ from the commit
	@git diff --exit-code --stat || { echo 'generated files are stale: run "make generate" and commit the result'; exit 1; }
	@untracked=$$(git status --porcelain --untracked-files=all | grep '^??' || true); \
	if [ -n "$$untracked" ]; then echo "untracked files after generation:"; echo "$$untracked"; exit 1; fi

BENCH_OUT ?= bench/out
# The public datasets (ml-100k/, ml-1m/, online-retail/); DISCRET_DATA_DIR
# is the deprecated former name.
DATASETS := $(or $(DISCRET_DATASETS),$(DISCRET_DATA_DIR))

bench: build ## the quick benchmark set (< 10 min on 2 cores): hot path, memory bandwidth, sampler, training, quality; results in bench/out/
	@mkdir -p $(BENCH_OUT)
	@if [ -z "$(DISCRET_DATASETS)" ] && [ -n "$(DISCRET_DATA_DIR)" ]; then echo "warning: DISCRET_DATA_DIR is deprecated; use DISCRET_DATASETS"; fi
	@awk '{ if ($$1 > 0.5) print "warning: load average " $$1 " — figures from a busy machine are not comparable (see BENCHMARKS.md)" }' /proc/loadavg 2>/dev/null || true
	$(GO) test -run='^$$' -bench='Score|HotPath|RoundTrip|MemoryBandwidth|ConsentLookup' -benchtime=300ms -count=6 -short ./bench | tee $(BENCH_OUT)/bench.txt
	$(GO) test -run='^$$' -bench='DiscreteGaussian/sigma=1.37|Pseudonymize|FoldIn/factors=64|Iteration/factors=64|AppendEvents$$|CustomerEvents|Recommend|TopK|PurchasedFilter' -benchtime=300ms -count=6 ./privacy/dp ./privacy/pseudonym ./model/als ./features/store ./serve/recommend | tee $(BENCH_OUT)/micro.txt
	@if [ -n "$(DATASETS)" ]; then \
		bin/discret bench train --factors 64 --threads 1,2 --epsilon inf,1 --runs 3 $(DATASETS)/ml-1m/ratings_pairs.csv.gz | tee $(BENCH_OUT)/train-ml-1m.txt && \
		bin/discret bench quality --datasets $(DATASETS) --seeds 3 --epsilon 1,5,10,inf --out $(BENCH_OUT)/quality-ml-100k.md --plot $(BENCH_OUT)/quality-ml-100k.png ml-100k; \
	else \
		echo "DISCRET_DATASETS is not set: training on a synthetic dataset, no quality figures"; \
		bin/discret gen --out $(BENCH_OUT)/synth --customers 6040 --items 3706 --events 1000000 > /dev/null && \
		bin/discret bench train --factors 64 --threads 1,2 --epsilon inf,1 --runs 3 $(BENCH_OUT)/synth/events.jsonl | tee $(BENCH_OUT)/train-synth.txt; \
	fi
	@echo "results in $(BENCH_OUT)/ (compare runs with benchstat)"

bench-quick: ## run every Go benchmark once, as CI does (~1-2 min)
	$(GO) test -run='^$$' -bench=. -benchtime=1x -short ./...
