"""The README's test command on a fresh machine: `make test` gets what the tests need or says, at
once, the one command that gets it; `.ci/run` is that command and nothing else."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

def make(repo_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", "-C", str(repo_root), *args], capture_output=True,
                          text=True, timeout=60)


def test_a_missing_package_stops_make_test_at_once_with_the_command_to_run(repo_root):
    done = make(repo_root, "test", "TEST_SYSTEM_PACKAGES=/nonexistent/browser=chromium nosuch-redis=redis-server",
                "CAN_APT_GET=no")
    assert done.returncode != 0
    assert "sudo apt-get install -y chromium redis-server" in done.stderr
    # Nothing else ran: neither the content check, nor mypy, nor pytest.
    assert "content ok" not in done.stdout and "mypy" not in done.stdout + done.stderr
    assert "passed" not in done.stdout


def test_packages_that_are_there_are_not_installed_again(repo_root):
    present = shutil.which("sh")
    done = make(repo_root, "system-packages", f"TEST_SYSTEM_PACKAGES={present}=dash", "CAN_APT_GET=yes")
    assert done.returncode == 0, done.stderr
    assert "installing" not in done.stderr


def test_the_packages_make_test_checks_are_the_ones_the_tests_use(repo_root):
    from tests.support.browser import CHROMIUM

    dry = make(repo_root, "-n", "system-packages").stdout
    assert f"{CHROMIUM}=chromium" in dry and "redis-server=redis-server" in dry


def test_ci_runs_the_readme_test_command_and_nothing_else(repo_root):
    lines = [line for line in (repo_root / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    commands = [shlex.split(line) for line in lines if not line.startswith(("set ", "cd "))]
    assert commands == [["exec", "make", "test"]]
    assert "`make test`" in (repo_root / "README.md").read_text()


def test_the_license_is_an_spdx_expression(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
