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
    """The folders show the path of a report: channels -> reports (the intake) -> queue -> api, with
    dialog, outbox, storage and http beside them (docs/architecture.md)."""
    for sub in ("channels", "channels/web", "channels/email", "dialog", "reports", "reports/urls", "queue", "outbox",
                "storage", "http", "api", "prevention_content"):
        assert (repo_root / "frontdoor" / sub / "__init__.py").is_file(), sub
    for old in ("queue/keys.py", "api/services.py", "dialog/services.py", "api/app.py", "storage/cluster.py"):
        assert not (repo_root / "frontdoor" / old).exists(), old
    for path in ("tests", "benchmarks", "docs/architecture.md", "docker-compose.yml", "deploy/nginx.conf", "pyproject.toml", "README.md",
                 "Makefile", ".ci/run"):
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
    assert any(line.strip() in ("make test", "exec make test") for line in ci.splitlines())


def test_readme_configuration_table_lists_every_setting(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    source = (repo_root / "frontdoor/settings.py").read_text()
    import re

    names = set(re.findall(r'(?:get|integer)\("([A-Z_]+)"', source))
    assert len(names) >= 9
    for name in names:
        assert f"`FRONTDOOR_{name}`" in readme, name


MAX_MODULE_LINES = 400


def test_modules_stay_small(repo_root: Path) -> None:
    sizes = {str(p.relative_to(repo_root)): len(p.read_text(encoding="utf-8").splitlines())
             for p in (repo_root / "frontdoor").rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_every_package_says_what_it_holds_and_nothing_is_left_for_later(repo_root: Path) -> None:
    import ast

    for init in (repo_root / "frontdoor").rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc, f"{init.relative_to(repo_root)} has no docstring"
    for path in (repo_root / "frontdoor").rglob("*.py"):
        text = path.read_text(encoding="utf-8").lower()
        for stale in ("added in the next issue", "added in later issues", "until the dialog exists"):
            assert stale not in text, (path, stale)


def test_tests_mirror_the_package(repo_root: Path) -> None:
    """tests/X/ tests frontdoor/X/; helpers live in tests/support/, benchmarks' smoke tests in tests/benchmarks/."""
    for folder in (repo_root / "tests").rglob("*"):
        if not folder.is_dir() or folder.name.startswith((".", "__")):
            continue
        rel = folder.relative_to(repo_root / "tests")
        if rel.parts[0] in ("support", "benchmarks") or not any(folder.glob("test_*.py")):
            continue  # helpers, benchmark smoke tests, test data (an e-mail corpus)
        assert (repo_root / "frontdoor" / rel).is_dir(), f"tests/{rel} mirrors no frontdoor/{rel}"


def test_every_path_the_docs_and_docstrings_name_exists(repo_root: Path) -> None:
    """A file moved or renamed leaves no stale pointer behind: in the README, docs/ or the code."""
    import re

    named = re.compile(r"(?<![\w./-])((?:frontdoor|tests|benchmarks|docs|deploy)/[\w./-]*\w)")
    texts = [repo_root / "README.md", *(repo_root / "docs").glob("*.md"), *(repo_root / "frontdoor").rglob("*.py")]
    missing = set()
    def current(path: Path) -> str:  # a "## History" section names files as they were then
        return path.read_text(encoding="utf-8").split("\n## History", 1)[0]

    for path in texts:
        for match in named.finditer(current(path)):
            target = match.group(1)
            if "*" in target or "<" in target or not (repo_root / target).exists():
                missing.add(f"{path.relative_to(repo_root)}: {target}")
    # Shorter names in backticks (`http/errors.py`, `schemas/report.v1.json`): somewhere in the package.
    short = re.compile(r"`([\w.-]+/[\w./-]+\.(?:py|lua|md|json|yml|yaml))`")
    folders = [repo_root, repo_root / "frontdoor", *(p for p in (repo_root / "frontdoor").rglob("*") if p.is_dir())]
    for path in texts:
        for match in short.finditer(current(path)):
            if not any((folder / match.group(1)).exists() for folder in folders):
                missing.add(f"{path.relative_to(repo_root)}: {match.group(1)}")
    assert not missing, "\n".join(sorted(missing))
