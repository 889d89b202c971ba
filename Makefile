# The two commands a newcomer needs:
#   make serve   install everything into .venv/.tools/.cache and serve the handbook at http://127.0.0.1:8000
#   make test    install the same, then run every check and test
include tools/versions.env

VENV    := .venv
PY      := $(VENV)/bin/python
TOOLS   := $(CURDIR)/.tools/bin
PYTHON  ?= python3
export PATH := $(TOOLS):$(PATH)

.PHONY: setup serve build test lint validate schemas lock clean

setup: $(VENV)/.installed $(TOOLS)/kubeconform schemas

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(TOOLS)/kubeconform: tools/versions.env
	GOBIN=$(TOOLS) go install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
	touch $@

schemas: $(VENV)/.installed
	$(PY) scripts/build_schemas.py

serve: setup
	$(VENV)/bin/mkdocs serve -a 127.0.0.1:8000

build: setup
	$(VENV)/bin/mkdocs build --strict

validate: setup
	$(PY) scripts/validate.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

test: setup lint
	$(PY) -m pytest

lock: $(VENV)/.installed
	( echo '# Full pinned set (pip freeze of a working .venv). Regenerate with `make lock`.'; \
	  $(PY) -m pip freeze --exclude-editable ) > constraints.txt

clean:
	rm -rf site .cache .pytest_cache
