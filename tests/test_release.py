"""The template has one version number: pyproject.toml's, the newest release in CHANGELOG.md."""

import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from .conftest import TEMPLATE


def test_pyproject_version_is_the_newest_changelog_release():
    version = tomllib.loads((TEMPLATE / "pyproject.toml").read_text())["project"]["version"]
    changelog = (TEMPLATE / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## (\d+\.\d+\.\d+)\b", changelog, flags=re.MULTILINE)
    assert releases, "CHANGELOG.md lists no release (## X.Y.Z)"
    newest = max(releases, key=lambda v: tuple(int(part) for part in v.split(".")))
    assert releases[0] == newest, "CHANGELOG.md must list the newest release first"
    assert version == newest, (
        f"pyproject.toml says {version}, CHANGELOG.md's newest release is {newest}"
    )
