"""The built wheel works on its own: installed into a fresh venv, it runs the demo and the
shipped smoke scenario.

Offline and quick: the wheel is built with the project's backend without build isolation,
the fresh venv has no pip and no dependencies of its own, and a ``.pth`` line makes this
venv's site-packages visible to it for the *dependencies*. Directories added by a ``.pth``
line are not scanned for ``.pth`` files themselves, so the editable install of agentrt in
this venv (a ``.pth`` pointing at the checkout) is not picked up: every test checks that
``agentrt`` is imported from the fresh venv's own site-packages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pytest

import agentrt

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = [
    "alert_slowdown",
    "chaos",
    "cluster_chaos",
    "cluster_rebalance",
    "cluster_rolling",
    "fault_mix",
    "repeated_questions",
    "smoke",
    "soak",
    "swarm_10k",
    "swarm_1k",
]
TIMEOUT = 240  # seconds for one command; generous, a loaded 2-core machine is slow


@dataclass(frozen=True)
class Install:
    wheel: Path
    python: Path  # the fresh venv's interpreter
    command: Path  # the fresh venv's `agentrt` script
    site: Path  # the fresh venv's site-packages
    workdir: Path  # where commands run: not the checkout, so it is not on sys.path
    env: dict[str, str]


def run(install: Install, *argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        cwd=install.workdir,
        env=install.env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def pip(*args: str | Path) -> None:
    """This venv's pip, offline: nothing is downloaded."""
    argv = [sys.executable, "-m", "pip", *map(str, args), "--quiet", "--no-index", "--no-deps"]
    subprocess.run(argv, check=True, timeout=TIMEOUT)


def build_wheel(out: Path) -> Path:
    pip("wheel", "--no-build-isolation", "--wheel-dir", out, ROOT)
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    base = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(base / "dist")
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=False, symlinks=os.name != "nt")
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True, timeout=TIMEOUT,
        ).stdout.strip()
    )  # fmt: skip
    ours = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "_agentrt_test_dependencies.pth").write_text("".join(f"{p}\n" for p in ours))
    pip("--python", python, "install", wheel)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["COLUMNS"] = "200"  # rich wraps long lines at 80 columns when not on a terminal
    workdir = base / "work"
    workdir.mkdir()
    return Install(wheel, python, env_dir / "bin" / "agentrt", site, workdir, env)


def test_wheel_holds_the_packages_their_data_and_the_license(install: Install) -> None:
    with zipfile.ZipFile(install.wheel) as wheel:
        names = set(wheel.namelist())
        (meta,) = (n for n in names if n.endswith(".dist-info/METADATA"))
        dist_info = meta.split("/")[0]
        metadata = Parser().parsestr(wheel.read(meta).decode())
        license_text = wheel.read(f"{dist_info}/licenses/LICENSE")
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
    assert {f"agentrt/loadtest/scenarios/{n}.toml" for n in SCENARIOS} <= names
    assert {"agentrt/py.typed", "supervisors/py.typed", "agentrt/_version.py"} <= names
    # the web dashboard: its files and the vendored libraries with their licences
    dashboard = "agentrt/runtime/_dashboard/"
    shipped = {"index.html", "app.js", "app.css", "vendor/alpine.min.js"}
    shipped |= {"vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"}
    shipped |= {"vendor/LICENSE-alpinejs", "vendor/LICENSE-uPlot"}
    assert {dashboard + n for n in shipped} <= names
    assert {n.split("/")[0] for n in names} == {"agentrt", "supervisors", dist_info}
    assert license_text == (ROOT / "LICENSE").read_bytes()
    assert metadata["Name"] == "agentrt-actors"
    assert metadata["Version"] == agentrt.__version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Requires-Python"] == ">=3.11"
    classifiers = set(metadata.get_all("Classifier") or [])
    assert {f"Programming Language :: Python :: 3.{m}" for m in (11, 12, 13)} <= classifiers
    assert {"Typing :: Typed", "Framework :: AsyncIO"} <= classifiers
    assert "agentrt = agentrt.cli:main" in entry_points


def test_agentrt_is_imported_from_the_fresh_venv(install: Install) -> None:
    probe = (
        "import json, agentrt, supervisors\n"
        "from agentrt.loadtest import shipped_scenarios\n"
        "print(json.dumps({'agentrt': agentrt.__file__, 'supervisors': supervisors.__file__,"
        " 'version': agentrt.__version__,"
        " 'scenarios': {n: str(p) for n, p in shipped_scenarios().items()}}))\n"
    )
    done = run(install, install.python, "-c", probe)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    package = install.site / "agentrt"
    assert Path(found["agentrt"]) == package / "__init__.py", "agentrt not from the fresh venv"
    assert Path(found["supervisors"]) == install.site / "supervisors" / "__init__.py"
    assert not Path(found["agentrt"]).is_relative_to(ROOT)
    assert found["version"] == agentrt.__version__
    assert list(found["scenarios"]) == SCENARIOS
    folder = package / "loadtest" / "scenarios"
    assert all(Path(p).parent == folder for p in found["scenarios"].values())


def test_demo_runs_from_the_wheel(install: Install) -> None:
    done = run(
        install,
        install.command,
        "demo",
        "--agents",
        "20",
        "--turns",
        "2",
        "--crashes",
        "0",
        "--no-live",
    )
    assert done.returncode == 0, (
        done.stdout + done.stderr
    )  # 0: no turn lost (no crash injected: a crash may fail a turn in flight)
    assert "turns lost" in done.stdout
    assert "40 (40 answered" in done.stdout


def test_smoke_scenario_runs_from_the_wheel(install: Install) -> None:
    listing = run(install, install.command, "loadtest", "list")
    assert listing.returncode == 0, listing.stderr
    listed = [line.split()[0] for line in listing.stdout.splitlines() if line[:1].strip()]
    assert listed == SCENARIOS
    out = install.workdir / "results"
    done = run(
        install, install.command, "loadtest", "run", "smoke", "--agents", "5", "--turns", "2",
        "--no-live", "--out", out,
    )  # fmt: skip
    # 0 thresholds passed, 99 one failed (latency thresholds depend on the machine's load);
    # 2 (bad input) or 1 (could not run) would mean the installed package is broken.
    assert done.returncode in (0, 99), done.stdout + done.stderr
    (report_file,) = out.glob("smoke-*.json")
    report = json.loads(report_file.read_text())
    assert (
        Path(report["scenario"]["path"]) == install.site / "agentrt/loadtest/scenarios/smoke.toml"
    )
    figures = report["figures"]
    assert figures["agents"] == 5
    assert figures["turns_sent"] == 10
    assert figures["lost"] == 0
    assert figures["turns_answered"] + figures["turns_failed"] == 10
