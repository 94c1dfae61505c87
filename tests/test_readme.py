"""The README's and the user guides' examples, run as a new user would paste them into a shell in
the checkout: every `frontdoor …` command exists, the sample start-up banner is what `serve` prints,
and the curl examples work against a started server. An example that stops working fails here.

Left out, because they cannot run offline or would run the suite inside itself: `make test`,
`make run` (checked with `make -n`), and the blocks that call `docker`.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from support.serve import Serve

GUIDES = ("README.md", "docs/analysts.md", "docs/operations.md")
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
COMMAND = re.compile(r"(?:^|\s)(?:\.venv/bin/)?frontdoor ((?:[a-z]+)(?: [a-z]+)?)", re.M)
RECEIPT = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}\b")


def _blocks(repo_root: Path, *names: str, lang: str = "sh") -> list[tuple[str, str]]:
    found = []
    for name in names:
        for match in BLOCK.finditer((repo_root / name).read_text(encoding="utf-8")):
            if match.group(1) == lang:
                found.append((name, match.group(2)))
    return found


def _subcommands(repo_root: Path) -> set[tuple[str, ...]]:
    """Every `frontdoor X [Y]` the guides show as code, as the CLI's words (X, or X and its action)."""
    named: set[tuple[str, ...]] = set()
    for name in GUIDES:
        text = (repo_root / name).read_text(encoding="utf-8")
        code = [m.group(2) for m in BLOCK.finditer(text) if m.group(1) == "sh"] + re.findall(r"`([^`\n]+)`", BLOCK.sub("", text))
        for match in COMMAND.finditer("\n".join(code)):
            named.add(tuple(match.group(1).split()))
    return named


def _help(*words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "frontdoor", *words, "--help"], capture_output=True, text=True, timeout=60)


def test_every_command_the_guides_name_exists_with_its_options(repo_root: Path) -> None:
    named = _subcommands(repo_root)
    assert ("analyst", "add") in named and ("serve",) in named  # the scan finds what is there
    for words in sorted(named):
        result = _help(*words)
        assert result.returncode == 0, (words, result.stderr)
    # Each row of the command table: its options are the command's.
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    for row in re.findall(r"^\| `frontdoor ([^`]+)` \|", readme, re.M):
        words = [w for w in re.split(r"[ \[\]|]+", row) if re.fullmatch(r"[a-z]+", w)][:2]
        options = set(re.findall(r"--[a-z-]+", row))
        out = _help(*words)
        assert out.returncode == 0, (row, out.stderr)
        assert options <= set(re.findall(r"--[a-z-]+", out.stdout)), (row, options)


def test_make_targets_the_guides_name_exist(repo_root: Path) -> None:
    targets = {t for _, block in _blocks(repo_root, *GUIDES) for t in re.findall(r"^make (\w+)", block, re.M)}
    assert {"run", "test"} <= targets
    for target in targets:
        result = subprocess.run(["make", "-n", target], cwd=repo_root, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (target, result.stderr)


def _script(block: str, port: int) -> str:
    """The block as a user's shell would run it, against this server, failing at the first error:
    curl fails on a 4xx or 5xx (its body still shown), and `.venv/bin/frontdoor` is this interpreter's."""
    body = block.replace("localhost:8080", f"127.0.0.1:{port}")
    body = body.replace(".venv/bin/frontdoor", f"{shlex.quote(sys.executable)} -m frontdoor")
    return "set -euo pipefail\ncurl() { command curl --fail-with-body --max-time 20 \"$@\"; }\n" + body


@pytest.fixture
def server(tmp_path: Path, start_redis):  # type: ignore[no-untyped-def]
    """On a Redis of its own: empty, as on a first start, so the first analyst's token is printed."""
    serve = Serve(tmp_path, "--workers", "1", FRONTDOOR_REDIS_URL=start_redis(persist=False).url)
    try:
        serve.wait_ready()
        yield serve
    finally:
        assert serve.stop() == 0, serve.output


def test_the_sample_banner_is_what_serve_prints(repo_root: Path, server: Serve) -> None:
    sample = next(block for _, block in _blocks(repo_root, "README.md", lang="") if "frontdoor is listening on" in block)

    def labels(text: str) -> list[str]:
        return re.findall(r"^  ([a-zA-Z -]+):  ", text, re.M)

    printed = labels(server.output)
    assert len(printed) >= 6, server.output
    assert labels(sample) == printed
    assert "First analyst created" in sample and "First analyst created" in server.output


def test_the_curl_and_cli_examples_work_against_a_started_server(repo_root: Path, server: Serve, tmp_path: Path) -> None:
    env = dict(server.env, TOKEN=server.first_token())
    env["H"] = f"Authorization: Bearer {env['TOKEN']}"  # the guides' blocks after the README's first set it
    runnable = [(name, block) for name, block in _blocks(repo_root, *GUIDES)
                if ("curl" in block or "frontdoor" in block) and "docker" not in block and not block.startswith("make ")]
    assert len(runnable) >= 4, runnable
    outputs = []
    for name, block in runnable:
        result = subprocess.run(["bash", "-c", _script(block, server.port)], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{name}:\n{block}\nstdout: {result.stdout}\nstderr: {result.stderr}"
        outputs.append(result.stdout)
    everything = "\n".join(outputs)
    assert RECEIPT.search(everything), everything  # the report's receipt, echoed
    assert re.search(r'"status":\s*"received"', everything), everything  # its status
    assert re.search(r'"status":\s*"closed"', everything), everything  # the analyst's loop closed the case
    assert "Traceback" not in server.output
