"""mkdocs-macros adapter: exposes the handbook package's page renderers as macros.

Pages call ``stage_intro()``, ``export_block()``, ``step("id")``, ``steps("id", ...)``, ``catch_up()``,
``stage_outro()``,
``step_link("id", "words")`` and ``diagram("name")``; the page's stage comes from its front matter (``stage: stage-1``).
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

from mkdocs.exceptions import PluginError

from handbook import blocks
from handbook.diagrams import render_diagram
from handbook.errors import LabError
from handbook.frame_pages import intro_markdown, outro_markdown, placement_problem
from handbook.lab import load_lab
from handbook.lab_images import markdown as images_markdown
from handbook.lab_images import per_stage
from handbook.lab_resources import lab_lines
from handbook.lab_resources import markdown as resources_markdown
from handbook.manifest_check import notice_lines, validate_manifests
from handbook.pages import PageRenderer, block_markdown, content_tabs, step_link_markdown
from handbook.pages import variables_table as pages_variables_table
from handbook.plan import reset_stages
from handbook.platforms import DEFAULT_PLATFORM, PLATFORMS
from handbook.stage_map import render_stage_map, stage_pages
from handbook.tables import render_table
from handbook.validation import FallbackWarning, Validator
from handbook.validation.engine import RecordingWarning

log = logging.getLogger("mkdocs.plugins.handbook")


def validate_before_build(validator: Validator | None = None) -> None:
    """Every manifest, under both value sets, before any page renders; the build stops on a problem.

    ``validator`` defaults to the one HANDBOOK_VALIDATOR names (kubeconform, with the CRDs of
    HANDBOOK_CRDS); an unchanged lab is served from the validation cache without running kubeconform.
    """
    started = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FallbackWarning)
        warnings.simplefilter("always", RecordingWarning)
        try:
            lab = load_lab()
            report = validate_manifests(lab, validator=validator)
        except LabError as exc:
            raise PluginError(f"the lab definition or its manifests are invalid:\n{exc}") from exc
    for warning in caught:
        # The test double (HANDBOOK_VALIDATOR=record:...) is chosen on purpose: said, but no warning for --strict.
        # The fallback is loud (a strict build stops on it): `make serve` works without kubeconform.
        (log.info if issubclass(warning.category, RecordingWarning) else log.warning)("handbook: %s", warning.message)
    if report.problems:
        raise PluginError("invalid manifests:\n" + "\n".join(f"  - {p}" for p in report.problems))
    for line in notice_lines(report):
        log.info("handbook: %s", line)
    log.info("handbook: %d manifest documents checked (%.2fs)", len(lab.documents()), time.monotonic() - started)
    if report.cached:
        log.info("handbook: nothing changed since the last validation: kubeconform's verdict came from the cache")


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
    def steps(*step_ids: str, title: str | None = None) -> str:
        """Consecutive steps as one block: ``steps("a", "b", ..., title="...")`` (the title names a folded group)."""
        return renderer().steps(*step_ids, title=title)

    @env.macro
    def platform_tabs(*step_ids: str) -> str:
        return renderer().platform_tabs(*step_ids)

    @env.macro
    def step_link(ref: str, words: str) -> str:
        """A link to a step's block: ``step_link("id", "words")`` on the stage's page, or
        ``step_link("stage-2/id", "words")`` to another stage's page."""
        page = f"docs/{env.page.file.src_path}"
        stage_id, _, step_id = ref.rpartition("/")
        lab = load_lab()
        if not stage_id:
            return renderer().link(step_id, words)
        pages = stage_pages(Path(env.conf["docs_dir"]))
        if stage_id not in pages:
            raise ValueError(f"{page}: step_link({ref!r}): no page shows {stage_id}")
        target = "" if stage_id == env.page.meta.get("stage") else f"{pages[stage_id]}"
        return step_link_markdown(lab.stage(stage_id), step_id, words, page, target)

    @env.macro
    def catch_up() -> str:
        return renderer().catch_up()

    @env.macro
    def variables_table() -> str:
        return pages_variables_table(load_lab())

    @env.macro
    def table(name: str) -> str:
        r = renderer()
        return render_table(name, r.lab, r.stage) + "\n"

    @env.macro
    def lab_resources(platform: str = "kubernetes") -> str:
        """CPU and memory the whole lab requests for one learner (handbook/lab_resources.py)."""
        return resources_markdown(lab_lines(load_lab(), platform))

    @env.macro
    def lab_images(platform: str = "kubernetes") -> str:
        """The images each stage pulls first (handbook/lab_images.py)."""
        return images_markdown(per_stage(load_lab(), platform))

    @env.macro
    def reset_block(from_stage: str = "stage-1", keep: tuple[str, ...] = (), delete_namespaces: bool = False) -> str:
        """The clean-up commands; the same text as `apply.py reset [stage-N] [--keep ...] [--delete-namespaces]
        --dry-run`."""
        lab = load_lab()
        stages = reset_stages(lab.stages, lab.stage(from_stage), [lab.stage(k) for k in keep])
        block = blocks.reset_block(stages, DEFAULT_PLATFORM, delete_namespaces=delete_namespaces)
        return block_markdown(block)

    @env.macro
    def learner_cleanup() -> str:
        """The learner's short clean-up (blocks.learner_cleanup_block), one tab per platform."""
        lab = load_lab()
        return content_tabs([(p, block_markdown(blocks.learner_cleanup_block(lab, p), in_tab=True)) for p in PLATFORMS])

    @env.macro
    def diagram(name: str, after: str | None = None) -> str:
        """The diagram of the cluster at the end of the page's stage, or right after its step ``after``."""
        r = renderer()
        return "```mermaid\n" + render_diagram(name, r.lab, r.stage, after) + "\n```\n"

    @env.macro
    def stage_map() -> str:
        """The home page's map of every stage, from manifests/stage-*/stage.yaml and the pages' front matter."""
        pages = stage_pages(Path(env.conf["docs_dir"]))
        return render_stage_map(load_lab(), pages, env.page.file.src_path)

    frames: dict[str, dict[str, str]] = {}  # page -> {"stage_intro": its text, "stage_outro": its text}

    def framed(name: str, text: str) -> str:
        shown = frames.setdefault(env.page.file.src_path, {})
        if name in shown:
            raise ValueError(f"docs/{env.page.file.src_path}: {{{{ {name}() }}}} appears twice")
        shown[name] = text
        return text

    @env.macro
    def stage_intro() -> str:
        """The goal box (goal, time, stages to do first, outcome, core or optional), right after the H1."""
        r = renderer()
        pages = stage_pages(Path(env.conf["docs_dir"]))
        return framed("stage_intro", intro_markdown(r.lab, r.stage, pages, env.page.file.src_path, r.link))

    @env.macro
    def stage_outro() -> str:
        """まとめ, 確認問題, やってみよう and うまくいかないとき: the last line of a stage page."""
        r = renderer()
        return framed("stage_outro", outro_markdown(r.lab, r.stage, r.link))

    env.variables["_lab_renderers"] = renderers
    env.variables["_lab_frames"] = frames


def on_pre_page_macros(env) -> None:  # noqa: ANN001
    """A page is rendered afresh on every build: forget what an earlier build rendered for it."""
    env.variables["_lab_renderers"].pop(env.page.file.src_path, None)
    env.variables["_lab_frames"].pop(env.page.file.src_path, None)


def on_post_page_macros(env) -> None:  # noqa: ANN001
    """Refuse a stage page that skips or reorders steps."""
    r = env.variables["_lab_renderers"].get(env.page.file.src_path)
    if r is not None:
        r.finish()
        shown = env.variables["_lab_frames"].get(env.page.file.src_path, {})
        page = f"docs/{env.page.file.src_path}"
        if problem := placement_problem(page, env.markdown, shown.get("stage_intro"), shown.get("stage_outro")):
            raise ValueError(problem)
    elif env.page.meta.get("stage"):
        raise ValueError(f"docs/{env.page.file.src_path}: a stage page must render its steps with step(\"id\")")
