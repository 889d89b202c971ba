"""The teaching frame read from stage.yaml (handbook/frame.py), rendered (handbook/frame_pages.py), and the
exercise solutions checked on paper (handbook/replay.py): each must leave the stage's end state."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from support.apply_cli import FIXTURE_LAB, REPO

from handbook.errors import DefinitionError
from handbook.frame import FRAME_FIELDS, LookStep, look_problem
from handbook.frame_pages import intro_markdown, outro_markdown, placement_problem
from handbook.lab import Lab
from handbook.plan import exercise_plan, reader_steps
from handbook.platforms import PLATFORMS
from handbook.replay import end_state, step_moves
from handbook.stage_map import stage_pages
from handbook.stages import Stage
from handbook.steps import ApplyStep, CheckStep, RunStep


def no_links(step_id: str, words: str) -> str:
    return f"[{words}](#step-{step_id})"


# --- completeness: the real lab -------------------------------------------------------------


def test_every_stage_has_the_frame() -> None:
    """Every stage.yaml gives goal, outcome, core, recap, questions, exercise and troubleshooting."""
    lab = Lab.load()
    missing = {stage.definition: stage.frame.missing() for stage in lab.stages if stage.frame.missing()}
    assert missing == {}, "stages without their teaching frame:\n" + "\n".join(
        f"  {definition}: add {', '.join(fields)}" for definition, fields in missing.items()
    )


def test_every_stage_page_calls_the_frame_macros() -> None:
    """`{{ stage_intro() }}` right after the H1 and `{{ stage_outro() }}` as the last line, once each."""
    pages = stage_pages(REPO / "docs")
    assert len(pages) == len(Lab.load().stages)
    for page in pages.values():
        text = (REPO / "docs" / page).read_text(encoding="utf-8")
        lines = [line for line in text.split("---\n", 2)[2].splitlines() if line.strip()]
        assert lines[0].startswith("# ") and lines[1] == "{{ stage_intro() }}", f"docs/{page}: intro after the H1"
        assert lines[-1] == "{{ stage_outro() }}", f"docs/{page}: stage_outro() is the last line"
        assert text.count("stage_intro()") == 1 and text.count("stage_outro()") == 1


# --- the model ------------------------------------------------------------------------------


def test_fixture_frame_is_read_into_steps_and_looks() -> None:
    stage = Lab.load(FIXTURE_LAB).stage("stage-1")
    frame = stage.frame
    assert frame.missing() == []
    assert frame.core is True and len(frame.recap) == 3 and len(frame.questions) == 2
    assert frame.exercise is not None and frame.exercise.title == "web にメモを付ける"
    kinds = [(type(s), s.ref) for s in frame.exercise.solution]
    assert kinds == [(ApplyStep, "stage-1/add-note"), (RunStep, "stage-1/label-web-noted"),
                     (CheckStep, "stage-1/web-noted"), (RunStep, "stage-1/unlabel-web"),
                     (RunStep, "stage-1/remove-note")]
    assert frame.exercise.solution[0].body.startswith("apiVersion: v1\nkind: ConfigMap")
    assert [(t.id, t.platforms) for t in frame.troubleshooting] == [("pod-pending", PLATFORMS),
                                                                   ("route-missing", ("openshift",))]
    assert all(isinstance(t.look, LookStep) and not t.look.executes for t in frame.troubleshooting)
    assert Lab.load(FIXTURE_LAB).stage("stage-2").frame.missing() == [
        f for f in FRAME_FIELDS if f != "core"]


def _lab_with(tmp_path: Path, old: str, new: str) -> Path:
    lab = tmp_path / "lab"
    shutil.copytree(FIXTURE_LAB, lab)
    stage = lab / "stage-1-demo" / "stage.yaml"
    text = stage.read_text(encoding="utf-8")
    assert old in text, old
    stage.write_text(text.replace(old, new, 1), encoding="utf-8")
    return lab


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    - id: add-note\n", "    - id: deploy-web\n",
         "stage-1-demo/stage.yaml: exercise.solution[0] (deploy-web).id: duplicate id 'deploy-web'"),
        ("  - id: pod-pending\n", "  - id: remove-note\n",
         "troubleshooting[0] (remove-note).id: duplicate id 'remove-note'"),
        ("apply: exercise-note.yaml", "apply: exercise-gone.yaml",
         "exercise.solution[0] (add-note).apply: "),  # then the path, absolute outside the repository
        ("apply: exercise-note.yaml", "apply: exercise-gone.yaml", "stage-1-demo/exercise-gone.yaml does not exist"),
        ("look: [oc, describe, pods,", "look: [oc, delete, pods,",
         "troubleshooting[0] (pod-pending).look: `oc delete` may change the cluster"),
        ("look: [oc, get, route, web,", "look: [oc, exec, deploy/web, --, rm, -rf, /tmp, web,",
         "troubleshooting[1] (route-missing).look: exec runs a tool that may change something"),
        ("      run: [oc, label, deployment/web, noted=yes,", "      run: [oc, label, deployment/web, \"${NOTE}\",",
         "stage-1-demo/stage.yaml: step label-web-noted: ${NOTE} is not declared in manifests/variables.yaml"),
        ("  - question: web の前に", "  - questionn: web の前に",
         "stage-1-demo/stage.yaml: questions[1].questionn"),
    ],
)
def test_a_broken_frame_names_file_field_and_fix(tmp_path: Path, old: str, new: str, expected: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        Lab.load(_lab_with(tmp_path, old, new))
    assert expected in str(caught.value)


@pytest.mark.parametrize(("argv", "read_only"), [
    (["oc", "get", "pods"], True), (["kubectl", "logs", "deploy/web", "-c", "istio-proxy"], True),
    (["oc", "auth", "can-i", "create", "pods"], True), (["oc", "describe", "pod", "x"], True),
    (["oc", "exec", "deploy/web", "--", "curl", "-s", "localhost:15000/clusters"], True),
    (["istioctl", "proxy-status"], True), (["curl", "-s", "-o", "/dev/null", "http://x"], True),
    (["oc", "delete", "pod", "x"], False), (["oc", "apply", "-f", "-"], False), (["oc", "auth", "reconcile"], False),
    (["oc", "exec", "deploy/web", "--", "curl", "-X", "POST", "localhost:15000/quitquitquit"], False),
    (["oc", "exec", "deploy/web", "--", "sh", "-c", "ls"], False), (["istioctl", "install"], False),
    (["rm", "-rf", "/"], False),
    (["oc", "exec", "deploy/gw", "-c", "istio-proxy", "--", "pilot-agent", "request", "GET", "stats"], True),
    (["oc", "exec", "deploy/gw", "-c", "istio-proxy", "--", "pilot-agent", "request", "POST", "quitquitquit"], False),
])
def test_look_commands_must_only_read(argv: list[str], read_only: bool) -> None:
    assert (look_problem(tuple(argv)) is None) is read_only


# --- rendering ------------------------------------------------------------------------------


def test_intro_and_outro_render_the_fixture_frame() -> None:
    lab = Lab.load(FIXTURE_LAB)
    one, two = lab.stage("stage-1"), lab.stage("stage-2")
    intro = intro_markdown(lab, two, {"stage-1": "stage-1.md"}, "stage-2.md", no_links)
    assert "**所要時間**: 約 5 分" in intro and "[ステージ 1: デモ](stage-1.md)" in intro
    assert "オプション" in intro and "**目標**" not in intro, "stage 2 has no goal yet: nothing invented"
    intro = intro_markdown(lab, one, {}, "stage-1.md", no_links)
    assert "**目標**: web を動かし" in intro and "**終わると**: ブラウザーで" in intro and "コア" in intro
    outro = outro_markdown(lab, one, no_links)
    heads = re.findall(r"^## (.+)$", outro, re.MULTILINE)
    assert heads == ["まとめ", "確認問題", "やってみよう: web にメモを付ける", "うまくいかないとき"]
    assert "- &lt;Route&gt; が外からの入り口です。" in outro, "text from stage.yaml is escaped"
    assert outro.count('??? note "答え"') == 2 and '??? tip "ヒント"' in outro and '??? example "解答例' in outro
    for ref in ("stage-1/add-note", "stage-1/add-note@kubernetes", "stage-1/pod-pending@kubernetes",
                "stage-1/route-missing"):
        assert f'data-ref="{ref}"' in outro
    assert 'data-ref="stage-1/route-missing@kubernetes"' not in outro, "an OpenShift-only look has no Kubernetes tab"
    assert outro_markdown(lab, two, no_links).count("## ") == 0, "no frame content: nothing but the marker"


def test_placement_problem_names_the_page_and_the_macro() -> None:
    page, intro, outro = "docs/stage-1.md", "<div>intro</div>\n", "<div>outro</div>\n"
    good = f"# Title\n\n{intro}\ntext\n\n{outro}"
    assert placement_problem(page, good, intro, outro) is None
    assert "add {{ stage_intro() }}" in placement_problem(page, good, None, outro)
    assert "add {{ stage_outro() }}" in placement_problem(page, good, intro, None)
    assert "right after the page's H1" in placement_problem(page, f"# Title\n\ntext\n\n{intro}{outro}", intro, outro)
    assert "as the last line" in placement_problem(page, f"# Title\n\n{intro}{outro}\nmore text\n", intro, outro)


# --- the exercise leaves the cluster as the stage left it (replay) --------------------------


def end_state_differences(lab: Lab, stage: Stage, platform: str) -> list[str]:
    """What differs between the end state of the stages up to ``stage`` and the same followed by its exercise."""
    values = lab.variables.resolve()
    upto = reader_steps(lab.stages_upto(stage.id), platform)
    alone = end_state(step_moves(upto), values)
    after = end_state(step_moves(upto + reader_steps(exercise_plan(stage), platform)), values)
    problems = [f"replay: {p}" for p in after.problems if p not in alone.problems]
    before_docs = {key: held.doc for key, held in alone.present.items()}
    after_docs = {key: held.doc for key, held in after.present.items()}
    for key in sorted(before_docs.keys() | after_docs.keys()):
        if before_docs.get(key) != after_docs.get(key):
            what = "left behind" if key not in before_docs else "gone" if key not in after_docs else "changed"
            problems.append(f"{'/'.join(key)}: {what} by the exercise")
    return problems


def exercise_cases() -> list[tuple[str, str, str]]:
    labs = {"fixture": Lab.load(FIXTURE_LAB), "real": Lab.load()}
    return [(name, stage.id, platform) for name, lab in labs.items() for stage in lab.stages
            if stage.frame.exercise for platform in PLATFORMS]


@pytest.mark.parametrize(("lab_name", "stage_id", "platform"), exercise_cases())
def test_exercise_restores_the_stage_end_state(lab_name: str, stage_id: str, platform: str) -> None:
    lab = Lab.load(FIXTURE_LAB) if lab_name == "fixture" else Lab.load()
    assert end_state_differences(lab, lab.stage(stage_id), platform) == []


@pytest.mark.parametrize(("drop", "expected"), [
    ("remove-note", "ConfigMap/user1-demo/web-note: left behind by the exercise"),
    ("unlabel-web", "Deployment/user1-demo/web: changed by the exercise"),
])
def test_an_exercise_that_forgets_to_restore_is_caught(tmp_path: Path, drop: str, expected: str) -> None:
    text = (FIXTURE_LAB / "stage-1-demo" / "stage.yaml").read_text(encoding="utf-8")
    block = re.search(rf"    - id: {drop}\n(?:      .*\n)+", text)
    assert block is not None
    lab = Lab.load(_lab_with(tmp_path, block.group(0), ""))
    assert expected in end_state_differences(lab, lab.stage("stage-1"), "openshift")
