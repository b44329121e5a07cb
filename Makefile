# keras-rnn: the two commands a newcomer runs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: bench-peers demo test test-slow test-browser test-gpu browser lint bench bench-layers bench-trainer bench-serving tutorials clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The main job on offline defaults: train both predictors, export, serve, answer a prediction.
demo: $(STAMP)
	$(BIN)/keras-rnn demo

## Set up, then run the default test suite (about 6 minutes on 2 CPU cores).
## Two pytest-xdist workers, a test file each at a time (its module fixtures stay in one
## process): one worker alone keeps about one core busy, waiting on subprocesses and servers.
TEST_WORKERS ?= 2
test: $(STAMP) browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

## A headless Chromium for the web page's browser tests (Debian packages; skipped where apt is unavailable).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "browser: could not install chromium; browser tests will be skipped"; \
	  else echo "browser: no chromium and no apt-get as root; browser tests will be skipped"; fi; }

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

test-browser: $(STAMP) browser
	$(BIN)/python -m pytest -m browser

test-gpu: $(STAMP)
	$(BIN)/python -m pytest -m gpu

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: bench-layers bench-trainer bench-serving

bench-layers: $(STAMP)
	$(BIN)/python -m bench.layers

bench-trainer: $(STAMP)
	$(BIN)/python -m bench.trainer

## Peers (MLServer, LitServe, KServe), each in its own venv: they pin other FastAPI versions.
PEERS     := mlserver litserve kserve
PEER_DIR  := bench/.peers
PEER_STAMPS := $(PEERS:%=$(PEER_DIR)/%/.installed)

$(PEER_DIR)/%/.installed: bench/peers/%.txt
	rm -rf $(PEER_DIR)/$*
	$(PYTHON) -m venv $(PEER_DIR)/$*
	$(PEER_DIR)/$*/bin/pip install --quiet --upgrade pip
	@# A peer that cannot install is reported by the bench (bench/.peers/NAME/install.log), not fatal.
	$(PEER_DIR)/$*/bin/pip install --quiet -r bench/peers/$*.txt > $(PEER_DIR)/$*/install.log 2>&1 \
	  && touch $@ || echo "bench: peer $* did not install; see $(PEER_DIR)/$*/install.log"

bench-peers: $(PEER_STAMPS)

bench-serving: $(STAMP)
	-$(MAKE) --no-print-directory -k bench-peers
	$(BIN)/python -m bench.serving

## Every tutorial in full mode (slow); figures go to docs/tutorials.md.
tutorials: $(STAMP)
	$(BIN)/python -m pytest -m slow tests/tutorials

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
