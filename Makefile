# DeepGrad: `make lab` to learn, `make instructor` to grade, `make test` to check everything. All create .venv on first use.
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

# The student's own copy of the lessons and assignments, where `make lab` opens (see README).
WORK   ?= work
# Jupyter configuration of the two labs (labs/README.md): common/ keeps the terminal to the URL to open.
STUDENT_CONFIG    := $(CURDIR)/labs/student:$(CURDIR)/labs/common
# The instructor's course folder (`deepgrad new-course DIR` makes one; this repository is one too).
COURSE ?= $(CURDIR)
INSTRUCTOR_CONFIG := $(CURDIR)/labs/common:$(abspath $(COURSE))/autograder

.PHONY: install lab instructor test test-fast figures bench grade verify assign clean

install: $(VENV)/.installed

# Quiet: one line says what is happening. setuptools' note on editable installs ("be careful with folders
# ... same name as your package") is for packagers, not students. overrides.json: the lab's defaults
# (no news pop-up, Markdown opens rendered), for both labs.
$(VENV)/.installed: pyproject.toml labs/overrides.json
	@echo "Installing DeepGrad and its dependencies into $(VENV) (the first time takes a few minutes)..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@PYTHONWARNINGS="ignore:::setuptools.command.editable_wheel" $(PY) -m pip install --quiet -e ".[dev]"
	@$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@$(VENV)/bin/jupyter labextension list >/dev/null 2>&1 || true
	@mkdir -p $(VENV)/share/jupyter/lab/settings/overrides.d
	@cp labs/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.d/deepgrad.json
	@touch $@

# The student's lab: their copy of the lessons and assignments, nbgrader's instructor screens off.
# One BLAS thread in its kernels, as in `make test`: the lessons' arrays are small, and on a busy laptop a second
# thread waiting for a core made lessons several times slower (labs/README.md has the figures).
lab: install
	@$(PY) labs/copy_work.py $(WORK)
	@$(ONE_THREAD) JUPYTER_CONFIG_PATH=$(STUDENT_CONFIG) $(VENV)/bin/jupyter lab --notebook-dir=$(WORK) --port=$(PORT) $(LAB_FLAGS)

# The instructor's lab: the course folder (COURSE=DIR, default this repository), with nbgrader's formgrader on
# its autograder/nbgrader_config.py: its gradebook.db and autograded/, the ones `deepgrad grade` writes.
# The venv's bin first on PATH: nbgrader asks its `alembic` command for the revision of a gradebook it makes,
# and without it the formgrader's first visit leaves one that `nbgrader db upgrade` cannot upgrade.
instructor: install
	@test -f "$(COURSE)/autograder/nbgrader_config.py" || { echo "COURSE=$(COURSE) is not a course folder (no autograder/nbgrader_config.py): make one with .venv/bin/deepgrad new-course DIR"; exit 2; }
	@mkdir -p "$(COURSE)/exchange"
	@PATH="$(abspath $(VENV))/bin:$$PATH" JUPYTER_CONFIG_PATH=$(INSTRUCTOR_CONFIG) DEEPGRAD_COURSE_DIR="$(abspath $(COURSE))" \
		$(VENV)/bin/jupyter lab --notebook-dir="$(COURSE)" --port=$(PORT) $(LAB_FLAGS)

test: install
	$(VENV)/bin/ruff check lib autograder tests bench && \
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
