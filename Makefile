# DeepGrad: `make lab` to learn, `make test` to check everything. Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8888
# Two workers: the CI machine has two cores, and notebooks spend most of their time in their own kernels.
PYTEST_ARGS ?= -n 2
# One BLAS thread per process: two workers already fill two cores, and more threads only fight each other.
ONE_THREAD := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

# Open a browser only where there is a display to show it on.
ifeq ($(strip $(DISPLAY)$(WAYLAND_DISPLAY)),)
  LAB_FLAGS := --no-browser
endif
# Containers and cloud machines often log in as root, where JupyterLab refuses to start without this.
ifeq ($(shell id -u),0)
  LAB_FLAGS += --allow-root
endif

.PHONY: install lab test test-fast figures bench grade verify assign clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	$(VENV)/bin/jupyter labextension list >/dev/null 2>&1 || true
	touch $@

lab: install
	$(VENV)/bin/jupyter lab --notebook-dir=course --port=$(PORT) $(LAB_FLAGS)

test: install
	$(VENV)/bin/ruff check lib/deepgrad --extend-exclude lib/deepgrad/viz,lib/deepgrad/widgets $(addprefix tests/test_,$(addsuffix .py,autograd checks data devices doctests edges forward_mode gpu init layering layers layers_vs_autograd linear losses nn ops_table optim train)) && \
	$(ONE_THREAD) DEEPGRAD_FAST=1 $(PY) -m pytest $(PYTEST_ARGS)

figures: install
	$(PY) -m deepgrad.widgets.render figures

bench: install
	$(PY) bench/run_all.py

assign: install
	$(VENV)/bin/deepgrad assign $(A)

verify: install
	$(VENV)/bin/deepgrad verify

clean:
	rm -rf $(VENV) figures test-artifacts .pytest_cache
