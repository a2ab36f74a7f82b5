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


def render(target: Path, **answers) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DirtyLocalWarning: uncommitted changes are used
        run_copy(
            str(ROOT), target, data=answers, defaults=True, unsafe=False, vcs_ref="HEAD", quiet=True
        )
    return target


def first_line(path: Path, start: str) -> str:
    """The first line of `path` that starts with `start` (leading spaces ignored), stripped."""
    return next(
        line.strip() for line in path.read_text().splitlines() if line.strip().startswith(start)
    )


def test_anatomy_shows_the_code_a_project_gets(site, tmp_path):
    project = render(tmp_path / "p") / "my_project"
    expected = [
        first_line(project / "data/datamodule.py", "class DataModule("),
        first_line(project / "data/datamodule.py", "def setup("),
        first_line(project / "models/ligmod.py", "class LigMod("),
        first_line(project / "models/ligmod.py", "def model_step("),
        # The default project's task file: the loss, metrics and predictions of its task.
        first_line(project / "models/binary.py", "class BinaryClassifier("),
        first_line(project / "models/binary.py", "def score("),
        first_line(project / "models/build.py", "def build_model("),
    ]
    text = page_text(site, "anatomy")
    for line in expected:
        assert line in text, f"anatomy page lacks {line!r} from the rendered project"
    assert "{% include" not in text, "a directive was left unexpanded"


def test_questions_show_each_task_class(site, tmp_path):
    """The task_type tabs show the class each task's project really gets."""
    text = page_text(site, "questions")
    for task, name in [
        ("binary", "BinaryClassifier"),
        ("multiclass", "MulticlassClassifier"),
        ("regression", "Regressor"),
    ]:
        task_file = render(tmp_path / task, task_type=task) / f"my_project/models/{task}.py"
        for start in (f"class {name}(", "TASK = ", "def init_task("):
            line = first_line(task_file, start)
            assert line in text, f"questions page lacks {line!r} of the {task} project"
    assert "{% include" not in text, "a directive was left unexpanded"


def test_own_data_page_shows_the_data_config(site, tmp_path):
    project = render(tmp_path / "p")
    text = page_text(site, "own-data")
    for key in ("min_category_count:", "missing:", "class_weights:", "sep:", "decimal:"):
        assert first_line(project / "config/data/data.yaml", key) in text
    assert (
        first_line(project / "my_project/models/components/simpledense.py", "def embedding_size(")
        in text
    )
    assert "{% include" not in text, "a directive was left unexpanded"
