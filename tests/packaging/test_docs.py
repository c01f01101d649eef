"""The documentation site's sources: every page in the nav, one API page per public
package, the README's two commands on the first page, nothing fetched at build time.

The strict build itself (``mkdocs build --strict``) runs in ``.ci/run``.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

import agentrt
import supervisors

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CONFIG: dict[str, Any] = yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def nav_pages(nav: Any) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in nav_pages(value)]
    return [p for item in nav for p in nav_pages(item)]


def public_packages() -> list[str]:
    names = []
    for pkg in (agentrt, supervisors):
        names.append(pkg.__name__)
        prefix = pkg.__name__ + "."
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, prefix) if m.ispkg]
    return names


def sh_blocks(path: Path) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", path.read_text(), re.S)


def test_every_page_is_in_the_nav() -> None:
    pages = {p for p in nav_pages(CONFIG["nav"]) if not p.startswith("https://")}
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages == on_disk


def test_one_api_page_per_public_package() -> None:
    for name in public_packages():
        page = DOCS / "api" / f"{name}.md"
        assert page.is_file(), f"no API page for {name}"
        assert f"::: {name}\n" in page.read_text()


def test_names_shadowed_by_a_submodule_have_their_own_section() -> None:
    """griffe takes a package's ``tool`` for its submodule ``tool.py`` when both exist, so
    such a name needs an explicit ``::: package.module.name`` on the package's page."""
    for name in public_packages():
        module = importlib.import_module(name)
        submodules = {m.name for m in pkgutil.iter_modules(module.__path__)}
        page = (DOCS / "api" / f"{name}.md").read_text()
        for shadowed in sorted(set(module.__all__) & submodules):
            assert f"::: {name}.{shadowed}.{shadowed}\n" in page, f"{name}.{shadowed}"


def test_first_page_opens_with_the_readme_commands() -> None:
    assert sh_blocks(DOCS / "index.md")[:2] == sh_blocks(ROOT / "README.md")[:2]


def test_nothing_is_downloaded_at_build_time() -> None:
    assert CONFIG["theme"]["font"] is False  # Material would link Google Fonts
    plugins = [p if isinstance(p, str) else next(iter(p)) for p in CONFIG["plugins"]]
    assert not {"privacy", "social", "material/privacy", "material/social"} & set(plugins)
    assert CONFIG["strict"] is True


def load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rst_markup", DOCS / "hooks" / "rst_markup.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rst_markup_becomes_markdown() -> None:
    to_markdown = load_hook().to_markdown
    text = (
        "Use :func:`run` or :class:`~agentrt.actor.Node` (:meth:`x.y`).\n\nExample::\n\n    run()"
    )
    assert to_markdown(text) == ("Use `run` or `Node` (`x.y`).\n\nExample:\n\n    run()")
    assert to_markdown("a ``literal`` :: stays") == "a ``literal`` :: stays"
