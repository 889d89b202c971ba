"""The data behind the reader's "your values" form (docs/assets/javascripts/handbook.js).

Every variable's pattern, default and derivation from ``manifests/variables.yaml``, so the browser
validates a value exactly as ``apply.py --set`` does, and rewrites a page's export block exactly as
``apply.py --dry-run --set`` prints it. mkdocs.yml puts it into ``extra.reader_values``.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import DefinitionError, LabError
from .paths import MANIFESTS_DIR
from .platforms import DEFAULT_PLATFORM, PLATFORM_LABELS, PLATFORMS
from .shell import _SAFE, quote_word
from .variables import VariableCatalog

# The variables a reader sets once in the form, with the form's label; every other variable is derived
# or left at its default.
FORM_VARIABLES = {"LAB_USER": "利用者名", "APPS_DOMAIN": "アプリのドメイン"}


def reader_values(catalog: VariableCatalog | None = None) -> dict[str, Any]:
    """The form's data: platforms, the form's variables, and every variable's rule and derivation.

    ``default_text``/``discover_text`` are the right-hand sides that ``handbook.blocks.export_block``
    writes when the reader has not set a value, quoted by the same ``quote_word``.
    """
    if catalog is None:
        catalog = VariableCatalog.load(MANIFESTS_DIR / "variables.yaml")
    missing = [name for name in FORM_VARIABLES if name not in catalog]
    if missing:
        raise DefinitionError(
            [f"{catalog.source}: variables.{name} is missing; the reader's form (handbook/reader_form.py "
             "FORM_VARIABLES) sets it" for name in missing]
        )
    variables = []
    for name in catalog.closure(catalog.variables):
        variable = catalog.variables[name]
        variables.append(
            {
                "name": name,
                "description": variable.description,
                "pattern": variable.pattern,
                "max_length": variable.max_length,
                "help": variable.pattern_help,
                "default": variable.default,
                "default_text": None if variable.default is None else quote_word(variable.default),
                "derive": variable.derive,
                "discover_text": {
                    platform: "$(" + " ".join(quote_word(w) for w in argv) + ")"
                    for platform, argv in variable.discover.items()
                },
                "in_form": name in FORM_VARIABLES,
                # What replaces default and derive on a platform (same keys), e.g. SHOP_HOST on Kubernetes.
                "on_platform": {
                    platform: {"default": default, "derive": derive,
                               "default_text": None if default is None else quote_word(default)}
                    for platform, (default, derive) in variable.on_platform.items()
                },
            }
        )
    return {
        "form": list(FORM_VARIABLES),
        "labels": dict(FORM_VARIABLES),
        "variables": variables,
        "platforms": [{"id": p, "label": PLATFORM_LABELS[p]} for p in PLATFORMS],
        "page_platform": DEFAULT_PLATFORM,
        "safe_word": _SAFE.pattern,
    }


def mkdocs_reader_values() -> dict[str, Any]:
    """For mkdocs.yml (``!!python/object/apply``): the data, read afresh on every config load.

    A problem becomes a YAML error, which MkDocs reports as a configuration error without a traceback.
    """
    try:
        return reader_values()
    except LabError as exc:
        raise yaml.YAMLError(f"extra.reader_values (handbook/reader_form.py) could not be built:\n{exc}") from exc
