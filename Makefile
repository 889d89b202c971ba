# The two commands a newcomer needs:
#   make serve   install everything into .venv/.tools/.cache and serve the handbook at http://127.0.0.1:8000
#   make test    install the same, then run every check and test
include tools/versions.env

VENV    := .venv
PY      := $(VENV)/bin/python
TOOLS   := $(CURDIR)/.tools/bin
PYTHON  ?= python3
export PATH := $(TOOLS):$(PATH)

.PHONY: setup serve build test lint validate schemas fetch-assets browser-setup cluster-bin istio-bin e2e offline benchmark \
	lock clean

setup: $(VENV)/.installed $(TOOLS)/kubeconform schemas fetch-assets

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

# Mermaid (and the offline build's iframe-worker shim) from the npm registry, pinned by hash, never committed.
fetch-assets: $(VENV)/.installed
	$(PY) scripts/fetch_assets.py

# Debian's chromium for the browser tests (Playwright's own browser download does not work here),
# and a Japanese font so that screenshots are readable.
browser-setup: $(VENV)/.installed
	@if [ ! -x /usr/bin/chromium ] || ! fc-list :lang=ja 2>/dev/null | grep -q .; then \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-ipafont-gothic; fi

# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok, built from the
# pinned Go modules in tools/cluster/ and cached in .cache/cluster-bin (cold: about 8-14 minutes).
cluster-bin:
	$(PYTHON) scripts/local_cluster.py build

# istioctl and the mesh test program (tools/istio/meshtest), built from the pinned istio.io/istio
# module in tools/istio/ and cached in .cache/istio-bin (cold: about 15-20 minutes on 2 busy cores).
istio-bin:
	$(PYTHON) scripts/istio_tools.py build

e2e: setup cluster-bin
	$(PY) -m pytest -m e2e tests/e2e

# A copy of the site that works from file:// (for a USB stick).
offline: setup
	OFFLINE=true $(VENV)/bin/mkdocs build --strict -d site-offline

benchmark: setup browser-setup
	$(PY) scripts/benchmark.py --json test-artifacts/benchmark.json

serve: setup
	$(VENV)/bin/mkdocs serve -a 127.0.0.1:8000

build: setup
	$(VENV)/bin/mkdocs build --strict

validate: setup
	$(PY) scripts/validate.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

test: setup lint browser-setup cluster-bin istio-bin
	CI=$${CI:-true} $(PY) -m pytest

lock: $(VENV)/.installed
	( echo '# Full pinned set (pip freeze of a working .venv). Regenerate with `make lock`.'; \
	  $(PY) -m pip freeze --exclude-editable ) > constraints.txt

clean:
	rm -rf site .cache .pytest_cache
