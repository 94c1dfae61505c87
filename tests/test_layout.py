"""The repository's shape: what a newcomer and CI rely on."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path


def test_import_queue_from_repo_root_is_the_standard_library(repo_root: Path) -> None:
    out = subprocess.run([sys.executable, "-c", "import queue, redis; print(queue.__file__); print(hasattr(queue, 'LifoQueue'))"],
                         cwd=repo_root, capture_output=True, text=True, check=True).stdout.split()
    assert not out[0].startswith(str(repo_root)), out[0]
    assert out[1] == "True"
    assert not (repo_root / "queue").exists()


def test_package_layout(repo_root: Path) -> None:
    for sub in ("channels", "dialog", "queue", "prevention_content"):
        assert (repo_root / "frontdoor" / sub / "__init__.py").is_file(), sub
    for path in ("tests", "benchmarks", "docs/architecture.md", "docker-compose.yml", "pyproject.toml", "README.md", "Makefile", ".ci/run"):
        assert (repo_root / path).exists(), path


def test_pyproject_names_and_lower_bounds(repo_root: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    assert project["name"] == "hotline-frontdoor"
    assert project["requires-python"] == ">=3.11"
    deps = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    assert all(">=" in d for d in deps), [d for d in deps if ">=" not in d]
    assert {d.split(">=")[0] for d in project["optional-dependencies"]["bench"]} == {"rq", "arq"}
    assert not {"rq", "arq"} & {d.split(">=")[0] for d in project["dependencies"]}


def test_readme_opens_with_the_two_commands_and_ci_calls_make_test(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    head = readme[: readme.index("\n## ")]
    assert "make run" in head and "make test" in head
    ci = (repo_root / ".ci/run").read_text()
    assert any(line.strip() == "make test" for line in ci.splitlines())


def test_readme_configuration_table_lists_every_setting(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    source = (repo_root / "frontdoor/settings.py").read_text()
    import re

    names = set(re.findall(r'(?:get|integer)\("([A-Z_]+)"', source))
    assert len(names) >= 9
    for name in names:
        assert f"`FRONTDOOR_{name}`" in readme, name
