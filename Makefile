# Two commands do all set-up on a fresh machine:
#   make demo   - a real joint HPO+NAS search on scikit-learn's digits, tracked in local MLflow
#   make test   - the test suite (what CI runs through .ci/run)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch. On a machine whose pip index serves CUDA builds, use e.g.
#   make TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.13.0

.PHONY: install demo test clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) pipelines/digits_search.py

test: install
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) mlflow.db mlartifacts
