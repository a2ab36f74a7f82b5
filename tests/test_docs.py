"""The user guide builds without warnings, lists every page, and shows real generated code."""

import html
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml
from copier import run_copy

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def nav_pages(entries) -> set[str]:
    """Every page path in an mkdocs.yml nav (lists, titled entries and sections)."""
    if isinstance(entries, str):
        return set() if "://" in entries else {entries}
    if isinstance(entries, list):
        return set().union(*(nav_pages(entry) for entry in entries))
    if isinstance(entries, dict):
        return set().union(*(nav_pages(value) for value in entries.values()))
    return set()


def page_text(site: Path, page: str) -> str:
    """The visible text of a built page, code blocks included, without line numbers."""
    markup = (site / page / "index.html").read_text()
    markup = re.sub(r'<td class="linenos">.*?</td>', "", markup, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-5000:]}"
    return site_dir


def test_every_page_is_in_the_nav():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    in_nav = nav_pages(config["nav"])
    pages = {
        path.relative_to(DOCS).as_posix()
        for path in DOCS.rglob("*.md")
        if DOCS / "hooks" not in path.parents
    }
    assert pages - in_nav == set(), "pages missing from nav in mkdocs.yml"
    assert in_nav - pages == set(), "nav entries without a page"


def test_anatomy_shows_the_code_a_project_gets(site, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DirtyLocalWarning: uncommitted changes are used
        run_copy(str(ROOT), tmp_path / "p", defaults=True, unsafe=False, vcs_ref="HEAD", quiet=True)
    datamodule = (tmp_path / "p/my_project/data/datamodule.py").read_text().splitlines()
    ligmod = (tmp_path / "p/my_project/models/ligmod.py").read_text().splitlines()
    expected = [
        next(line for line in datamodule if line.startswith("class DataModule(")),
        next(line.strip() for line in datamodule if line.strip().startswith("def setup(")),
        next(line.strip() for line in ligmod if line.strip().startswith("def model_step(")),
    ]
    text = page_text(site, "anatomy")
    for line in expected:
        assert line in text, f"anatomy page lacks {line!r} from the rendered project"
    assert "{% include" not in text, "a directive was left unexpanded"
