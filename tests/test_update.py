"""copier update: template fixes reach generated projects and user edits survive.

Template versions are built in a temporary git copy of this template, tagged there, so
the tests never depend on the state of this checkout's history.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from copier import run_copy, run_update

from .conftest import GIT_ENV, TEMPLATE, run_ok


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


def template_copy(destination: Path) -> Path:
    """This template's working tree (tracked and new files) as a fresh repo, tagged 1.0.0."""
    files = git(TEMPLATE, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, files.split("\0")):
        source = TEMPLATE / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    git(destination, "init", "-q", "-b", "main")
    commit_all(destination, "version A")
    git(destination, "tag", "1.0.0")
    return destination


def copy_project(template: Path, destination: Path, **answers) -> Path:
    run_copy(str(template), destination, data=answers, defaults=True, quiet=True, vcs_ref="1.0.0")
    git(destination, "init", "-q", "-b", "main")
    commit_all(destination, "generated")
    return destination


def update_project(project: Path, vcs_ref: str = "HEAD", **answers) -> None:
    run_update(
        project,
        data=answers,
        defaults=True,
        overwrite=True,
        quiet=True,
        conflict="inline",
        vcs_ref=vcs_ref,
        unsafe=False,
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def user_edits(project: Path) -> None:
    """What users typically do after generating: tune, add an experiment, document, code."""
    edit(project / "config/model/model.yaml", "lr: 0.001", "lr: 0.003")
    (project / "config/experiment/wide.yaml").write_text(
        "# @package _global_\nmodel:\n  net:\n    hidden_sizes: [512]\n"
    )
    (project / "README.md").write_text((project / "README.md").read_text() + "\nOur notes.\n")
    edit(
        project / "my_project/models/ligmod.py",
        "        return self.net(numbers, categories)\n",
        "        # tuned by us\n        return self.net(numbers, categories)\n",
    )


def template_change(template: Path, model_line: tuple[str, str]) -> None:
    """Version B: a new file, a line in a file the user left alone, and a line of
    config/model/model.yaml, which the user edited too (the same line or another)."""
    (template / "template/CONTRIBUTING.md").write_text("Added in version B.\n")
    edit(
        template / "template/config/trainer/default.yaml.jinja",
        "max_epochs: 100",
        "max_epochs: 120",
    )
    edit(template / "template/config/model/model.yaml.jinja", *model_line)
    commit_all(template, "version B")
    git(template, "tag", "1.1.0")


@pytest.fixture
def template(tmp_path):
    return template_copy(tmp_path / "template")


def edited_project_updated_to_b(template: Path, project: Path, model_line: tuple[str, str]) -> Path:
    """Generate at A, make the user's edits and commit them, release B, update to B."""
    copy_project(template, project)
    user_edits(project)
    commit_all(project, "our edits")
    template_change(template, model_line)
    update_project(project)
    return project


def test_update_applies_template_changes_and_keeps_user_edits(template, tmp_path):
    project = edited_project_updated_to_b(
        template, tmp_path / "project", ("lr: 0.001", "lr: 0.0005")
    )

    assert (project / "CONTRIBUTING.md").read_text() == "Added in version B.\n"
    assert "max_epochs: 120" in (project / "config/trainer/default.yaml").read_text()
    assert (project / "config/experiment/wide.yaml").exists()
    assert (project / "README.md").read_text().endswith("Our notes.\n")
    assert "# tuned by us" in (project / "my_project/models/ligmod.py").read_text()
    model = (project / "config/model/model.yaml").read_text()
    assert "<<<<<<<" in model and ">>>>>>>" in model, model
    assert "lr: 0.003" in model and "lr: 0.0005" in model, "both sides of the conflict kept"
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "1.1.0"

    # The recovery docs/updating.md gives returns to the last commit, conflicts and all.
    recovery = "git reset --hard && git clean -fd"
    assert recovery in (TEMPLATE / "docs" / "updating.md").read_text()
    subprocess.run(recovery, shell=True, cwd=project, check=True, capture_output=True)
    assert git(project, "status", "--porcelain") == ""
    assert "<<<<<<<" not in (project / "config/model/model.yaml").read_text()
    assert not (project / "CONTRIBUTING.md").exists()


def test_update_without_conflicts_equals_fresh_render_plus_user_edits(template, tmp_path):
    project = edited_project_updated_to_b(
        template, tmp_path / "project", ("factor: 0.1", "factor: 0.2")
    )

    fresh = tmp_path / "fresh"
    run_copy(str(template), fresh, defaults=True, quiet=True, vcs_ref="1.1.0")
    user_edits(fresh)
    assert tree(project) == tree(fresh)
    model = (project / "config/model/model.yaml").read_text()
    assert "lr: 0.003" in model and "factor: 0.2" in model and "<<<<<<<" not in model


def tree(root: Path) -> dict[str, str]:
    """Every file's text, without .git and without the answers file's commit line."""
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_dir() or relative.parts[0] == ".git":
            continue
        text = path.read_bytes().decode(errors="replace")
        if relative.name == ".copier-answers.yml":
            text = "\n".join(line for line in text.splitlines() if not line.startswith("_"))
        files[str(relative)] = text
    return files


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "old_files", "new_files"),
    [
        (
            {"logger": "tensorboard"},
            ["config/logger/mlflow.yaml"],
            ["config/logger/tensorboard.yaml"],
        ),
        (
            {"task_type": "regression"},
            ["data/breast_cancer.csv", "my_project/models/binary.py"],
            ["data/penguins.csv", "my_project/models/regression.py"],
        ),
        ({"net_size": "large"}, [], []),
    ],
    ids=["logger", "task_type", "net_size"],
)
def test_changing_an_answer_leaves_a_consistent_project(
    template, tmp_path, change, old_files, new_files
):
    project = copy_project(template, tmp_path / "project")
    owned = {
        "data/mine.csv": "a,b\n1,2\n",
        "config/local/default.yaml": "# @package _global_\nseed: 1\n",
        "notebooks/explore.py": "print('mine')\n",
    }
    for name, text in owned.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    commit_all(project, "our files")
    update_project(project, vcs_ref="1.0.0", **change)

    for name, text in owned.items():
        assert (project / name).read_text() == text, f"{name} was changed by the update"

    for name in old_files:
        assert not (project / name).exists(), f"{name} of the old answer is still there"
    for name in new_files:
        assert (project / name).exists()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert {k: answers[k] for k in change} == change
    pyproject = (project / "pyproject.toml").read_text()
    config = yaml.safe_load((project / "config/config.yaml").read_text())
    if "logger" in change:
        assert '"mlflow' not in pyproject and '"tensorboard>=' in pyproject
        assert {"logger": "tensorboard"} in config["defaults"]
    if "net_size" in change:
        model = yaml.safe_load((project / "config/model/model.yaml").read_text())
        assert model["net"]["hidden_sizes"] == [256, 128, 64]
    if old_files:
        old_name = Path(old_files[0]).stem
        mentions = [
            str(path.relative_to(project))
            for path in project.rglob("*")
            if path.is_file()
            and ".git" not in path.parts
            and old_name in path.read_text(errors="ignore")
        ]
        assert not mentions, f"files still mention {old_name}: {mentions}"
    result = run_ok(project, "main.py", "debug=fdr", "print_config=false")
    assert "Run summary" in result.stdout


def releases() -> list[str]:
    """Versions listed in CHANGELOG.md ("## 0.1.0 - 2026-11-28")."""
    changelog = (TEMPLATE / "CHANGELOG.md").read_text()
    return re.findall(r"^## (\d+\.\d+\.\d+)\b", changelog, flags=re.MULTILINE)


def release_commit(version: str) -> str:
    """The tag v<version>, or in a checkout without tags the commit "Release <version>"."""
    tags = git(TEMPLATE, "tag", "--list", f"v{version}").split()
    if tags:
        return tags[0]
    commits = git(TEMPLATE, "log", "--format=%H", f"--grep=^Release {version}$").split()
    assert commits, f"release {version} has neither a tag v{version} nor a 'Release' commit"
    return commits[-1]


@pytest.mark.slow
@pytest.mark.parametrize("version", releases())
def test_update_from_each_release_to_head(tmp_path, version):
    project = tmp_path / "project"
    run_copy(str(TEMPLATE), project, defaults=True, quiet=True, vcs_ref=release_commit(version))
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "generated")
    update_project(project)
    assert not list(project.rglob("*.rej"))
    assert "<<<<<<<" not in (project / "main.py").read_text()
    run_ok(project, "main.py", "--cfg", "job")


def test_package_rename_is_refused_before_anything_changes(template, tmp_path):
    project = copy_project(template, tmp_path / "project")
    user_edits(project)
    (project / "my_project" / "features.py").write_text("TUNED = True\n")
    commit_all(project, "our edits")
    before = git(project, "rev-parse", "HEAD")
    with pytest.raises(ValueError, match="cannot rename the package \\(my_project -> tumour\\)"):
        update_project(project, vcs_ref="1.0.0", package_name="tumour")
    assert git(project, "status", "--porcelain") == "", "the refused update changed files"
    assert git(project, "rev-parse", "HEAD") == before
    assert "# tuned by us" in (project / "my_project/models/ligmod.py").read_text()
    assert not (project / "tumour").exists()


def test_package_renamed_by_hand_as_the_message_says_then_updates(template, tmp_path):
    project = copy_project(template, tmp_path / "project")
    user_edits(project)
    commit_all(project, "our edits")
    git(project, "mv", "my_project", "tumour")
    for path in project.rglob("*"):
        if (
            path.is_file()
            and ".git" not in path.parts
            and path.suffix in {".py", ".yaml", ".yml", ".toml", ".md"}
        ):
            path.write_text(path.read_text().replace("my_project", "tumour"))
    answers = project / ".copier-answers.yml"
    assert 'rendered_package_name: "tumour"' in answers.read_text()  # replaced above
    commit_all(project, "rename the package")
    update_project(project, vcs_ref="1.0.0")
    assert "# tuned by us" in (project / "tumour/models/ligmod.py").read_text()
    assert not (project / "my_project").exists()
    run_ok(project, "main.py", "--cfg", "job")
