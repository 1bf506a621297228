"""The docs stay in step with the code: every config key and CLI argument on the reference pages, every link
resolving, the README an index of at most 150 lines."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from brats_unet.cli.reference import cli_reference
from brats_unet.config import Config, to_dict

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", REPO / "studies" / "README.md", *sorted(DOCS.rglob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def config_keys() -> list[str]:
    """Every dotted key of the configuration, e.g. ``data.modalities``."""
    return [f"{section.name}.{f.name}" for section in dataclasses.fields(Config)
            for f in dataclasses.fields(section.default_factory())]  # type: ignore[misc]


def slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_readme_is_an_index():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move detail to docs/"
    for page in ("docs/getting-started.md", "docs/reference/configuration.md", "docs/reference/cli.md"):
        assert page in "\n".join(lines), f"README does not link {page}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_links_resolve(page):
    text = page.read_text()
    for match in LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.relative_to(REPO)}: link to {target} does not resolve"
        if anchor and dest.suffix == ".md":
            headings = {slug(h) for h in re.findall(r"^#+ (.+)$", dest.read_text(), re.M)}
            assert anchor in headings, f"{page.relative_to(REPO)}: no heading #{anchor} in {path or page.name}"


def test_every_config_key_is_on_the_reference_page():
    page = (DOCS / "reference" / "configuration.md").read_text()
    missing = [k for k in config_keys() if f"`{k}`" not in page and not (k == "loss.terms" and "`loss`" in page)]
    assert missing == [], f"docs/reference/configuration.md lacks {missing}"


def test_reference_defaults_match_the_code():
    """Rows naming one key give its default as the code has it."""
    defaults = to_dict(Config())
    page = (DOCS / "reference" / "configuration.md").read_text()
    rows = re.findall(r"^\| `([a-z_]+)\.([a-z_]+)` \| `([^`]*)` \|", page, re.M)
    assert len(rows) > 30
    for section, key, shown in rows:
        assert yaml.safe_load(shown) == defaults[section][key], f"{section}.{key}: page says {shown}"


def test_cli_reference_is_generated_from_the_parser():
    page = (DOCS / "reference" / "cli.md").read_text()
    assert page == cli_reference(), "docs/reference/cli.md is stale: run make docs"


