# Two commands do all set-up on a fresh machine:
#   make demo   - a real joint HPO+NAS search on scikit-learn's digits, tracked in local MLflow
#   make test   - the test suite (what CI runs through .ci/run)
# then `make ui` shows the demo's runs in MLflow. Nothing needs activating.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torch: auto (default) installs the CUDA build when `nvidia-smi -L` lists a GPU, else the CPU
# build; cpu or cuda forces one; anything else is handed to pip as is (TORCH="torch==2.13.0 ...").
TORCH ?= auto
TORCH_VERSION ?= 2.13.0
# PyTorch's index of CPU-only wheels. PyPI's Linux torch is the CUDA build (plus ~17 nvidia-*
# packages, several GB); this index serves the same release as 2.13.0+cpu (~190 MB).
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
# Seconds to wait for TORCH_CPU_INDEX before using pip's other sources (see install-torch).
TORCH_INDEX_TIMEOUT ?= 10
MLFLOW_PORT ?= 5000

.PHONY: install install-torch demo test ui ui-stop clean

$(VENV)/.installed: pyproject.toml constraints.txt
	@echo "== [1/3] virtual environment $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)
	@$(MAKE) --no-print-directory install-torch
	@echo "== [3/3] automl_nas and its dependencies (numpy, pandas, scikit-learn, optuna, lightgbm, tabm, rtdl_num_embeddings, mlflow, dev tools): about 2 minutes"
	$(PIP) install -c constraints.txt -e ".[dev]"
	@$(PY) -c "import lightgbm" 2>/dev/null || { echo "== lightgbm does not load: its Linux wheel needs the system's OpenMP runtime libgomp.so.1 (Debian/Ubuntu: apt-get install -y libgomp1), then run make again"; exit 1; }
	@echo "== installed: $$(du -sh $(VENV) | cut -f1) in $(VENV); torch $$($(PY) -c 'import torch; print(torch.__version__, f"(CUDA {torch.version.cuda} build)" if torch.version.cuda else "(CPU build)")')"
	touch $@

install: $(VENV)/.installed

# The torch build for this machine, first and on its own so that the project's `torch>=2.4`
# finds it installed. The CPU index is asked only when it answers: pip retries an unreachable
# index for over a minute, then goes on with its other sources anyway.
install-torch:
	@set -e; choice="$(TORCH)"; \
	if [ "$$choice" = auto ]; then \
		if nvidia-smi -L >/dev/null 2>&1; then choice=cuda; else choice=cpu; fi; \
	fi; \
	case "$$choice" in \
	cuda) echo "== [2/3] torch: the CUDA build, torch==$(TORCH_VERSION) from PyPI (about 2.7 GB to download with triton and its nvidia-* packages, several GB installed; make TORCH=cpu for the CPU build)"; \
		$(PIP) install torch==$(TORCH_VERSION) ;; \
	cpu) if $(PY) -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=$(TORCH_INDEX_TIMEOUT))" "$(TORCH_CPU_INDEX)/torch/" >/dev/null 2>&1; then \
			echo "== [2/3] torch: no NVIDIA GPU: the CPU build, torch==$(TORCH_VERSION)+cpu from $(TORCH_CPU_INDEX) (about 190 MB to download; make TORCH=cuda for the CUDA build)"; \
			$(PIP) install torch==$(TORCH_VERSION) --extra-index-url $(TORCH_CPU_INDEX); \
		else \
			echo "== [2/3] torch: no NVIDIA GPU, but $(TORCH_CPU_INDEX) does not answer: torch==$(TORCH_VERSION) from pip's own sources, which give the CPU build only if they hold a +cpu wheel (a find-links folder or a mirror); PyPI alone gives the CUDA build (several GB)"; \
			$(PIP) install torch==$(TORCH_VERSION); \
		fi ;; \
	*) echo "== [2/3] torch: pip install $(TORCH)"; $(PIP) install $(TORCH) ;; \
	esac

demo: install
	$(PY) pipelines/digits_search.py

test: install
	@echo "== tests: about 7 minutes on 2 cores, one pytest-xdist worker per core (pytest prints a dot per test)."
	@if [ "$$(id -u)" = 0 ]; then echo "== as root, the PostgreSQL tests install Debian's postgresql with apt-get if it is missing, and run a throwaway server on 127.0.0.1 as user postgres"; \
	else echo "== not root: the PostgreSQL tests are skipped unless PostgreSQL (initdb, pg_ctl) is installed"; fi
	$(PY) -m pytest

# MLflow's UI on the demo's store, with the light server settings of mlflow/start_server.sh
# (one worker, no job runner): ready in seconds rather than half a minute on a small machine.
ui: install
	MLFLOW_BIN=$(VENV)/bin/mlflow PYTHON=$(PY) MLFLOW_BACKEND_STORE_URI=sqlite:///$(CURDIR)/mlflow.db \
		mlflow/start_server.sh $(CURDIR)/mlflow-server $(MLFLOW_PORT)
	@echo "== open http://127.0.0.1:$(MLFLOW_PORT); stop it with 'make ui-stop'"

ui-stop:
	mlflow/stop_server.sh $(CURDIR)/mlflow-server

# Back to the tree as cloned: what .gitignore lists, at the top (its patterns with a /) or at
# any depth (those without); tests/test_makefile.py checks that nothing it ignores is left.
CLEAN_TOP := $(VENV) build dist mlflow-server automl_nas_artifacts .whl .gl benchmarks/.venv-peers
CLEAN_ANYWHERE := __pycache__ '*.pyc' '*.egg-info' mlflow.db mlflow.db-shm mlflow.db-wal mlflow.db.lock mlruns \
	mlartifacts .pytest_cache .ruff_cache .mypy_cache .grimp_cache

clean:
	@if [ -f mlflow-server/server.pid ]; then mlflow/stop_server.sh $(CURDIR)/mlflow-server || true; fi
	rm -rf $(CLEAN_TOP)
	find . -path ./.git -prune -o \( $(foreach name,$(CLEAN_ANYWHERE),-name $(name) -o) -false \) \
		-prune -exec rm -rf {} +
