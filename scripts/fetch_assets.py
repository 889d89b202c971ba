#!/usr/bin/env python3
"""Fetch the pinned browser files the site serves itself, so no page asks a CDN for anything.

    python3 scripts/fetch_assets.py          # fetch what is missing or stale
    python3 scripts/fetch_assets.py --check  # exit 1 unless every file is in place

Each file comes out of an npm package tarball, fetched with the ordinary npm client
(``npm pack``) into .cache/npm/, checked against the pinned sha512 integrity, and
copied into overrides/assets/vendor/ (ignored by git). MkDocs copies the theme's
custom_dir into the built site, so the files end up at site/assets/vendor/...

* mermaid: Material for MkDocs loads https://unpkg.com/mermaid@11/dist/mermaid.min.js
  unless ``window.mermaid`` already exists; overrides/main.html loads this copy first,
  on pages that have a diagram.
* iframe-worker: Material's offline plugin needs its shim to run the search worker
  from file:// and otherwise adds it from unpkg; mkdocs.yml lists this copy instead.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "npm"
VENDOR = REPO / "overrides" / "assets" / "vendor"


@dataclass(frozen=True)
class Asset:
    package: str
    version: str
    integrity: str  # the registry's dist.integrity of the tarball (`npm view PACKAGE@VERSION dist.integrity`)
    files: dict[str, str]  # path inside the tarball -> path under overrides/assets/vendor/

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def tarball(self) -> Path:
        return CACHE / f"{self.package}-{self.version}.tgz"

    @property
    def stamp(self) -> Path:
        # a dot file: MkDocs does not copy it into the site
        return VENDOR / f".{self.package}.version"


ASSETS = (
    Asset(
        package="mermaid",
        # Material 9.8 asks for mermaid@11; 11.17.2 is the newest 11.x on the registry.
        version="11.17.2",
        integrity="sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7LoaRQxULMa80/qt5gHO73aCleBBg==",
        files={
            "package/dist/mermaid.min.js": "mermaid/mermaid.min.js",
            "package/LICENSE": "mermaid/LICENSE.txt",
        },
    ),
    Asset(
        package="iframe-worker",
        version="1.0.4",
        integrity="sha512-roeaaI+Lg1LJNfgpCjoRe/+WzEjy9+Z08LoEvu85MCPbBjwm+qXz8Ag5U05lHa6V1CysZyGzE0SOkAtSUA5q7Q==",
        files={
            "package/shim/index.js": "iframe-worker/shim.js",
            "package/package.json": "iframe-worker/package.json",
        },
    ),
)


class FetchError(Exception):
    pass


def integrity_of(path: Path) -> str:
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def up_to_date(asset: Asset) -> bool:
    if not asset.stamp.is_file() or asset.stamp.read_text(encoding="utf-8").strip() != asset.spec:
        return False
    return all((VENDOR / target).is_file() for target in asset.files.values())


def npm_pack(asset: Asset) -> Path:
    """The package tarball in .cache/npm/, fetched by `npm pack` when it is not there (or not intact)."""
    if asset.tarball.is_file() and integrity_of(asset.tarball) == asset.integrity:
        return asset.tarball
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError(
            f"{asset.spec}: npm is not on PATH; install Node.js and npm (Debian: apt-get install -y npm), "
            "then run `python3 scripts/fetch_assets.py` again"
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [npm, "pack", asset.spec, "--json", "--pack-destination", str(CACHE)],
        cwd=CACHE, capture_output=True, text=True, timeout=600, check=False,
    )
    if result.returncode != 0:
        raise FetchError(f"`npm pack {asset.spec}` failed (exit {result.returncode}):\n{result.stderr.strip()}")
    try:
        filename = json.loads(result.stdout)[0]["filename"]
    except (ValueError, LookupError) as exc:
        raise FetchError(f"`npm pack {asset.spec} --json` printed no file name: {result.stdout[:300]!r}") from exc
    packed = CACHE / filename
    if packed != asset.tarball:
        packed.replace(asset.tarball)
    actual = integrity_of(asset.tarball)
    if actual != asset.integrity:
        asset.tarball.unlink()
        raise FetchError(
            f"{asset.spec}: the tarball's integrity is {actual}, but scripts/fetch_assets.py pins "
            f"{asset.integrity}; check `npm view {asset.spec} dist.integrity` and update the pin only "
            "if the version changed on purpose"
        )
    return asset.tarball


def extract(asset: Asset, tarball: Path) -> None:
    with tarfile.open(tarball, "r:gz") as archive:
        members = {m.name: m for m in archive.getmembers()}
        for source, target in asset.files.items():
            member = members.get(source)
            if member is None or not member.isfile():
                raise FetchError(f"{asset.spec}: {source} is not in {tarball.name}; the package layout changed")
            handle = archive.extractfile(member)
            assert handle is not None
            destination = VENDOR / target
            destination.parent.mkdir(parents=True, exist_ok=True)
            partial = destination.with_name(destination.name + ".part")
            partial.write_bytes(handle.read())
            partial.replace(destination)
    asset.stamp.write_text(asset.spec + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report whether every file is in place")
    args = parser.parse_args(argv)
    stale = [a for a in ASSETS if not up_to_date(a)]
    if args.check:
        for asset in stale:
            print(f"missing or stale: {asset.spec} (run `python3 scripts/fetch_assets.py`)", file=sys.stderr)
        return 1 if stale else 0
    try:
        for asset in stale:
            extract(asset, npm_pack(asset))
            print(f"fetched {asset.spec} -> {', '.join(asset.files.values())}")
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
