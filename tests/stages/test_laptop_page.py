"""The laptop page shows what handbook.lab_resources and handbook.lab_images compute, and kind's config file."""

from __future__ import annotations

from pathlib import Path

from support.apply_cli import REPO
from support.site_html import built_page, prose_text

from handbook.lab import Lab
from handbook.lab_images import per_stage
from handbook.lab_resources import lab_lines, total


def test_the_page_shows_the_measured_total_and_every_image(site: Path) -> None:
    page = built_page(site, "laptop")
    text = prose_text(page)
    lab = Lab.load(REPO / "manifests")
    requests, _ = total(lab_lines(lab))
    assert f"CPU {requests.cpu / 1000:.2f} コア、メモリー {requests.memory / 2**30:.1f} GiB" in text
    for item in per_stage(lab):
        for image, _ in item.images:
            assert image in page, f"{item.stage_id}: {image} is not on the laptop page"


def test_the_page_shows_the_kind_config_from_the_repository(site: Path) -> None:
    page = built_page(site, "laptop")
    for line in (REPO / "manifests" / "kind" / "cluster.yaml").read_text(encoding="utf-8").splitlines():
        if line.strip().startswith(("containerPort", "hostPort")):
            value = line.split(":")[1].strip()
            assert value in page
    assert "sockshop-mesh" in page
