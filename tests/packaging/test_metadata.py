"""What a release carries besides code: the license, one version, a README that works on
PyPI, a changelog."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import agentrt
from agentrt._version import __version__

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# sha256 of the Apache License 2.0 as the ASF publishes it (LICENSE-2.0.txt), which is also
# Debian's /usr/share/common-licenses/Apache-2.0.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
SETUP = "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/agentrt demo"
TESTS = ".venv/bin/python -m pytest"


def test_license_is_the_apache_2_text() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    digest = hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest()
    assert digest == APACHE_2_SHA256


def test_the_version_is_written_once() -> None:
    project = PYPROJECT["project"]
    assert "version" not in project
    assert project["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "agentrt/_version.py"
    assert agentrt.__version__ == __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    written = re.findall(r'__version__ = "', (ROOT / "agentrt").joinpath("_version.py").read_text())
    assert len(written) == 1


def test_readme_opens_with_the_two_commands_and_names_the_distribution() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    assert blocks[:2] == [SETUP + "\n", TESTS + "\n"]
    name = PYPROJECT["project"]["name"]
    assert name == "agentrt-actors"
    assert f"pip install {name}" in blocks[2]


def test_readme_links_are_absolute() -> None:
    """PyPI shows the README without the repository around it: relative links break there."""
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", readme) + re.findall(r"<(\w+://[^>]+)>", readme)
    assert targets
    relative = [t for t in targets if not t.startswith("https://")]
    assert not relative, f"relative links in README.md: {relative}"
    urls = PYPROJECT["project"]["urls"]
    docs, repo = urls["Documentation"], urls["Repository"]
    assert all(t.startswith((docs, repo)) for t in targets), targets


def test_changelog_has_unreleased_and_the_current_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, re.M)
    assert headings[0] == "Unreleased"
    assert __version__ in headings
    assert "keepachangelog.com" in changelog
