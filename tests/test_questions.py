"""copier.yml: defaults, derived names and validators."""

import datetime

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from .conftest import TEMPLATE, render


def answers_of(project):
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def test_defaults_render_without_trust(tmp_path):
    project = render(tmp_path / "p")
    answers = answers_of(project)
    assert answers["package_name"] == "my_project"
    assert answers["task_type"] == "binary" and answers["logger"] == "mlflow"
    assert answers["_commit"], "the answers file must record the template version"
    assert (project / "my_project" / "models" / "binary.py").is_file()


@pytest.mark.parametrize(
    ("project_name", "package_name"),
    [
        ("Élan Vital - Démo", "elan_vital_demo"),
        ("Tumour Classifier 2", "tumour_classifier_2"),
        ("3D Scans", "project_3d_scans"),
        ("Torch", "project_torch"),
    ],
)
def test_package_name_is_derived_as_clean_ascii(tmp_path, project_name, package_name):
    project = render(tmp_path / "with space" / "p", project_name=project_name)
    assert answers_of(project)["package_name"] == package_name
    assert (project / package_name / "__init__.py").read_text().startswith(f'"""{project_name}:')


@pytest.mark.parametrize("project_name", ["Tumour: v2", "[Beta] Net", "# 1 & <best>"])
def test_names_with_yaml_and_toml_syntax_give_valid_files(tmp_path, project_name):
    project = render(tmp_path / "p", project_name=project_name)
    for path in project.rglob("*.yaml"):
        yaml.safe_load(path.read_text())
    help_config = yaml.safe_load((project / "config/hydra/default.yaml").read_text())
    assert help_config["help"]["app_name"] == project_name
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"].startswith(project_name)


def test_renders_into_a_non_empty_folder_keeping_its_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    render(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "main.py").is_file()


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        ({"project_name": ""}, ["project_name", "empty"]),
        ({"project_name": "   "}, ["project_name", "empty"]),
        ({"project_name": " Padded "}, ["project_name", "spaces"]),
        ({"project_name": 'Say "hi"'}, ["project_name", "double quotes"]),
        ({"package_name": "My-Package"}, ["package_name", "lowercase"]),
        ({"package_name": "9lives"}, ["package_name", "digit"]),
        ({"package_name": "class"}, ["package_name", "keyword"]),
        ({"package_name": "json"}, ["package_name", "standard-library module"]),
        ({"package_name": "torch"}, ["package_name", "dependency"]),
        ({"package_name": "tests"}, ["package_name", "folder"]),
        ({"task_type": "ranking"}, ["task_type"]),
        ({"logger": "neptune"}, ["logger"]),
        ({"net_size": "huge"}, ["net_size"]),
        ({"license": "GPL-3.0"}, ["license"]),
    ],
)
def test_bad_answers_are_refused_and_write_nothing(tmp_path, answers, words):
    destination = tmp_path / "p"
    with pytest.raises(ValueError) as refused:
        render(destination, **answers)
    message = str(refused.value)
    for word in words:
        assert word in message, message
    assert not destination.exists()


def test_template_needs_no_trust():
    config = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    assert not {"_tasks", "_migrations", "_jinja_extensions"} & set(config)


def test_mit_license_names_the_project_authors_and_this_year(tmp_path):
    project = render(tmp_path / "p", project_name="Tumour Classifier")
    assert answers_of(project)["license"] == "MIT"
    text = (project / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    year = datetime.date.today().year
    assert f"Copyright (c) {year} The Tumour Classifier authors\n" in text
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"
    build = pyproject["build-system"]["requires"]
    assert build == ["setuptools>=77"], "license as an SPDX string needs setuptools >= 77"


def test_no_license_leaves_out_the_file_and_the_field(tmp_path):
    project = render(tmp_path / "p", license="none")
    assert answers_of(project)["license"] == "none"
    assert not (project / "LICENSE").exists()
    assert "license" not in tomllib.loads((project / "pyproject.toml").read_text())["project"]
