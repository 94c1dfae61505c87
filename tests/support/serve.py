"""`frontdoor serve` as a real process, for the tests that need the whole server: the CLI, the
README's examples, the supervisor.

One place knows the test environment a server needs here: no FRONTDOOR_* from the caller's shell,
a volatile Redis allowed (the tests' Redis keeps nothing), the per-client limits raised (every test
client is 127.0.0.1), and an SMTP port of its own (2525 may be taken).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from support.servers import free_port

TEST_ENV = {
    "FRONTDOOR_ALLOW_VOLATILE_REDIS": "1",
    "FRONTDOOR_RATE_REPORTS_PER_MINUTE": "100000",
    "FRONTDOOR_RATE_RECEIPTS_PER_MINUTE": "100000",
    "FRONTDOOR_RATE_RECEIPTS_PER_SECOND": "100000",
    "FRONTDOOR_RATE_CONVERSATIONS_PER_MINUTE": "100000",
    "FRONTDOOR_RATE_MESSAGES_PER_MINUTE": "100000",
}


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the supervisor makes its own; one inherited would be shared
    env.update(TEST_ENV)
    env["FRONTDOOR_DATA_DIR"] = "data"  # relative, as `make run` leaves it; the server runs in its own directory
    env["FRONTDOOR_SMTP_PORT"] = str(free_port())
    env.update(extra)
    return env


def http_json(url: str, body: dict | None = None, *, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


class Serve:
    """A started `frontdoor serve`; its output (stdout and stderr together) collects in `lines`."""

    def __init__(self, cwd: Path, *args: str, port: int | None = None, **env: str) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = server_env(**env)
        self.lines: list[str] = []
        self.proc = subprocess.Popen([sys.executable, "-m", "frontdoor", "serve", "--port", str(self.port), *args],
                                     env=self.env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = self.proc.stdout
        assert out is not None
        threading.Thread(target=lambda: self.lines.extend(iter(out.readline, "")), daemon=True).start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout_s: float = 30) -> None:
        """Up, and announced (by the supervisor, once every worker is up)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"frontdoor serve exited {self.proc.returncode}:\n{self.output}")
            try:
                if http_json(f"{self.base}/healthz")[0] == 200 and "frontdoor is listening on" in self.output:
                    return
            except OSError:  # not listening yet
                pass
            time.sleep(0.1)
        raise AssertionError(f"frontdoor serve not ready in {timeout_s} s:\n{self.output}")

    def wait_until(self, check: Callable[[], object], what: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if check():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {what} within {timeout_s} s (exit {self.proc.poll()}):\n{self.output[-3000:]}")

    def first_token(self) -> str:
        """The first analyst's token, which the announcement shows once."""
        marker = "Token (shown only now, keep it safe): "
        for line in self.lines:
            if marker in line:
                return line.split(marker, 1)[1].strip()
        raise AssertionError(f"no first token in the output:\n{self.output}")

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        time.sleep(0.1)  # let the reader thread drain the pipe
        return self.proc.returncode
