"""mkdocs-macros adapter: exposes the handbook package's page renderers as macros.

Pages call ``export_block()``, ``step("id")``, ``steps("id", ...)``, ``catch_up()`` and
``diagram("name")``; the page's stage comes from its front matter (``stage: stage-1``).
"""

from __future__ import annotations

import logging
import time

from mkdocs.exceptions import PluginError

from handbook.diagrams import render_diagram
from handbook.errors import LabError
from handbook.lab import load_lab
from handbook.manifest_check import validate_manifests
from handbook.pages import PageRenderer

log = logging.getLogger("mkdocs.plugins.handbook")


def validate_before_build() -> None:
    """Every manifest, under both value sets, before any page renders; the build stops on a problem."""
    started = time.monotonic()
    try:
        lab = load_lab()
        problems = validate_manifests(lab)
    except LabError as exc:
        raise PluginError(f"the lab definition is invalid:\n{exc}") from exc
    if problems:
        raise PluginError("invalid manifests:\n" + "\n".join(f"  - {p}" for p in problems))
    log.info("handbook: %d manifest documents valid (%.2fs)", len(lab.documents()), time.monotonic() - started)


def define_env(env) -> None:  # noqa: ANN001 - the plugin's environment object
    validate_before_build()
    renderers: dict[str, PageRenderer] = {}

    def renderer() -> PageRenderer:
        page = env.page
        stage_id = page.meta.get("stage")
        if not stage_id:
            raise ValueError(f"{page.file.src_path}: add `stage: stage-N` to the front matter to use lab macros")
        key = page.file.src_path
        if key not in renderers or renderers[key].stage.id != stage_id:
            lab = load_lab()
            renderers[key] = PageRenderer(lab, lab.stage(stage_id), f"docs/{key}")
        return renderers[key]

    env.variables["lab"] = load_lab()

    @env.macro
    def export_block() -> str:
        return renderer().export_block()

    @env.macro
    def step(step_id: str) -> str:
        return renderer().step(step_id)

    @env.macro
    def platform_tabs(*step_ids: str) -> str:
        return renderer().platform_tabs(*step_ids)

    @env.macro
    def catch_up() -> str:
        return renderer().catch_up()

    @env.macro
    def diagram(name: str) -> str:
        r = renderer()
        return "```mermaid\n" + render_diagram(name, r.lab, r.stage) + "\n```\n"

    env.variables["_lab_renderers"] = renderers


def on_pre_page_macros(env) -> None:  # noqa: ANN001
    """A page is rendered afresh on every build: forget what an earlier build rendered for it."""
    env.variables["_lab_renderers"].pop(env.page.file.src_path, None)


def on_post_page_macros(env) -> None:  # noqa: ANN001
    """Refuse a stage page that skips or reorders steps."""
    r = env.variables["_lab_renderers"].get(env.page.file.src_path)
    if r is not None:
        r.finish()
    elif env.page.meta.get("stage"):
        raise ValueError(f"docs/{env.page.file.src_path}: a stage page must render its steps with step(\"id\")")
