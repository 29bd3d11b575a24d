"""One installed import name: what a wheel of this project puts into site-packages.

The fixed top-level folders are mapped onto subpackages of ``exodus2045`` by pyproject's
``package-dir``; these tests build the real wheel and read what it would install, so a
folder that slips back to a top-level name (or a package left out of the list) fails here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("app_under_test", "locustfiles", "chaos", "scenarios", "reports")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """Build from a copy of what a clean clone holds, so the checkout gets no build/ litter."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for folder in FOLDERS:
        shutil.copytree(REPO / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("exodus2045-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_installs_exactly_one_top_level_import_name(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/")[0] for name in wheel.namelist()}
    code = {t for t in tops if not t.endswith((".dist-info", ".data"))}
    assert code == {"exodus2045"}


def test_every_folder_is_a_subpackage_and_the_locustfile_ships(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for folder in FOLDERS:
        assert f"exodus2045/{folder}/__init__.py" in names
    assert "exodus2045/locustfiles/exodus.py" in names
    for data in ("app_under_test/frontend/static/tally.js", "scenarios/smoke.toml"):
        assert f"exodus2045/{data}" in names  # package data the pages and `exodus run` need


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        "exodus2045." + ".".join(init.parent.relative_to(REPO).parts)
        for folder in FOLDERS for init in (REPO / folder).rglob("__init__.py")
    }  # fmt: skip
    assert on_disk == listed
    assert config["package-dir"] == {f"exodus2045.{f}": f for f in FOLDERS}


def test_exodus_locustfile_prints_a_path_locust_can_load() -> None:
    done = subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", "locustfile"],
                          capture_output=True, text=True, timeout=60, check=True)
    path = Path(done.stdout.strip())
    assert path.name == "exodus.py" and path.is_file()
    assert "from exodus2045.locustfiles.swarm import install" in path.read_text()
