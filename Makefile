# serflow: `make demo` runs the whole chain on built-in synthetic data; `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv browser demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --progress-bar on --upgrade pip
	@echo "installing serflow and its dependencies into $(VENV) (a few minutes on first use)"
	$(BIN)/python -m pip install --progress-bar on -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/serflow demo

# The report's browser test needs Debian's Chromium; without root or apt it skips and says why.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { command -v apt-get >/dev/null && SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ) && \
	    $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; }; } || \
	  echo "chromium could not be installed: the report's browser test will skip"

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/features.py

clean:
	rm -rf serflow-store demo-data
