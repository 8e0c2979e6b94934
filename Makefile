# Unshutter: the README's two commands.
#   make demo  - create .venv, install with the CPU runtime, build the native layer, run the sample job
#   make test  - the whole test suite (installs test requirements into the same .venv)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  := torch==2.13.0

.PHONY: demo test test-deps install install-test install-gpu native ofx bench clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel pybind11

$(VENV)/.installed: $(VENV)/bin/activate setup.py
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
	$(PIP) install -q --no-build-isolation -e '.[cpu,test]'
	@touch $@

install-test: $(VENV)/.installed-test

# Blender (Debian package) for the add-on's headless tests; nothing to do when it is on PATH.
test-deps:
	@command -v blender >/dev/null 2>&1 || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y blender; }

test: install-test native test-deps
	$(PY) -m pytest -q tests

# GPU users: swap the CPU runtime for onnxruntime-gpu and CuPy (they cannot coexist).
install-gpu: install
	$(PIP) uninstall -y onnxruntime
	$(PIP) install --no-build-isolation -e '.[gpu]'

ofx:
	$(MAKE) -C ofx_bridge

clean:
	rm -rf build dist *.egg-info plugin/*.egg-info plugin/unshutter/_native*.so
