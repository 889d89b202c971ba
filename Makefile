# The two commands a newcomer needs:
#   make serve   install everything into .venv/.tools/.cache and serve the handbook at http://127.0.0.1:8000
#   make test    install the same, then run every check and test
# and the loop for changing code, once `make setup` has run:
#   make check   ruff, and every test that needs neither chromium nor the local API server, in parallel
include tools/versions.env

VENV    := .venv
PY      := $(VENV)/bin/python
TOOLS   := $(CURDIR)/.tools/bin
PYTHON  ?= python3
export PATH := $(TOOLS):$(PATH)

# Extra CRD files for the validation: the Sail operator's and Kiali's CRDs, which no package registry
# serves here and which are never copied into the project. In CI the folder `shared` sits beside the
# clone; elsewhere set HANDBOOK_CRDS yourself (paths separated by ':'), or leave it unset: those kinds
# are then reported as "not validated".
SHARED_CRDS := $(abspath $(CURDIR)/../shared/crds)
ifneq ($(wildcard $(SHARED_CRDS)/*.yaml),)
HANDBOOK_CRDS ?= $(SHARED_CRDS)
endif
export HANDBOOK_CRDS

.PHONY: setup serve build test check check-tests lint lint-ja lint-ja-fix validate schemas fetch-assets browser-setup cluster-bin istio-bin e2e offline benchmark \
	lock clean

setup: $(VENV)/.installed $(TOOLS)/kubeconform $(TOOLS)/kindconfig schemas fetch-assets node_modules/.installed

# textlint and its rules for the Japanese text, exactly as pinned in package-lock.json (never committed).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(TOOLS)/kubeconform: tools/versions.env
	GOBIN=$(TOOLS) go install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
	touch $@

# The kind cluster config checker (kind's own Go types, tools/kindconfig/go.mod pins sigs.k8s.io/kind).
$(TOOLS)/kindconfig: tools/kindconfig/go.mod tools/kindconfig/go.sum tools/kindconfig/main.go
	cd tools/kindconfig && GOBIN=$(TOOLS) go install .

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

# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok (handbook/local_cluster), built from the
# pinned Go modules in tools/cluster/ and cached in .cache/cluster-bin (cold: about 8-14 minutes).
cluster-bin: $(VENV)/.installed
	$(PY) scripts/local_cluster.py build

# istioctl and the mesh test program (tools/istio/meshtest), built from the pinned istio.io/istio
# module in tools/istio/ and cached in .cache/istio-bin (cold: about 15-20 minutes on 2 busy cores).
istio-bin: $(VENV)/.installed
	$(PY) scripts/istio_tools.py build

e2e: setup cluster-bin
	$(PY) -m pytest -m e2e tests/e2e

# A copy of the site that works from file:// (for a USB stick).
offline: setup
	OFFLINE=true $(VENV)/bin/mkdocs build --strict -d site-offline

benchmark: setup browser-setup cluster-bin
	mkdir -p test-artifacts
	$(PY) scripts/benchmark.py --json test-artifacts/benchmark.json

serve: setup
	$(VENV)/bin/mkdocs serve -a 127.0.0.1:8000

build: setup
	$(VENV)/bin/mkdocs build --strict

validate: setup
	$(PY) scripts/validate.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

# textlint over docs/*.md and the Japanese comments and values of manifests/ (.textlintrc.json,
# tools/textlint/prh.yml); findings at file:line:column of the original. About 5 s.
lint-ja: $(VENV)/.installed node_modules/.installed
	$(PY) scripts/lint_ja.py

# textlint's automatic fixes (prh's terms and other fixable rules), written into docs/ and manifests/.
lint-ja-fix: $(VENV)/.installed node_modules/.installed
	$(PY) scripts/lint_ja.py --fix

# The tests that need neither chromium nor the local API server are independent: pytest-xdist runs
# them on every core. `make check` leaves out the tests marked `istio` (they need `make istio-bin`). The browser and end-to-end tests share one chromium and one cluster per session.
FAST_TESTS := -m "not browser and not e2e and not istio" -n auto

# Before `make setup` has built the schemas, the tests marked `schemas` are left out and the others
# inject a validator that checks nothing and says so (HANDBOOK_VALIDATOR=record:...).
# textlint runs beside the tests (its node process would otherwise add about 6 s before them).
check: $(VENV)/.installed lint
	@$(MAKE) --no-print-directory -j2 --output-sync=target lint-ja check-tests

check-tests: $(VENV)/.installed
	@if [ -f .cache/schemas/stamp.json ] && [ -x $(TOOLS)/kubeconform ]; then \
	  $(PY) -m pytest $(FAST_TESTS) -q; \
	else \
	  echo "make check: no schemas yet (run make setup): tests marked 'schemas' left out"; \
	  HANDBOOK_VALIDATOR=record:/dev/null $(PY) -m pytest -m "not browser and not e2e and not istio and not schemas" -n auto -q; \
	fi

test: setup lint lint-ja browser-setup cluster-bin istio-bin
	CI=$${CI:-true} $(PY) -m pytest -m "not browser and not e2e" -n auto
	CI=$${CI:-true} $(PY) -m pytest -m "browser or e2e"

lock: $(VENV)/.installed
	( echo '# Full pinned set (pip freeze of a working .venv). Regenerate with `make lock`.'; \
	  $(PY) -m pip freeze --exclude-editable ) > constraints.txt

clean:
	rm -rf site .cache .pytest_cache
