"""Core of the Sock Shop service-mesh handbook.

Everything that knows the lab's format lives here, so that the site (``macros/``)
and the runner (``scripts/apply.py``) stay thin adapters over one model:

- ``platforms``  the platforms, their cluster CLIs, labels and the default
- ``variables``  the ${VAR} catalogue, its patterns and how values are resolved
- ``steps``      the step kinds and the command each one stands for
- ``stages``     loading ``manifests/stage-N-*/stage.yaml`` into ``Stage`` objects
- ``lab_schema`` the JSON Schemas of stage.yaml and variables.yaml, and their messages
- ``manifests``  manifest files, their documents, rendering and lint
- ``lab``        the whole lab: stages + variables + call graph, loaded and checked
- ``plan``       what a run does (catch-up steps, reader steps, reset commands), pure
- ``replay``     the one model of what the cluster holds after each step of a plan
- ``authz``      which application may call which, by the AuthorizationPolicies
- ``shell``      a command as the text a reader pastes into bash
- ``blocks``     the reader-visible blocks (pages and ``--dry-run`` share them)
- ``validation`` kubeconform (and a Python fallback) over rendered manifests, cached by content
- ``schemas``    the schema tree kubeconform reads (``schema_build`` writes it at setup time,
                 ``crd_schema`` converts CRDs for both)
- ``manifest_check`` the lab's manifests under two value sets, through a ``validation.Validator``
- ``yaml_load``  libyaml-backed safe loading
- ``execute``    running a plan against a cluster through a CLI
- ``pages``      Markdown for the macros
- ``stage_map``  the home page's map of the stages
- ``reader_form`` the data of the reader's "your values" form
- ``diagrams``   Mermaid generated from the replayed objects (``tables``: Markdown tables)
"""
