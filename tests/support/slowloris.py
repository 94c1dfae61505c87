"""A slowloris client, and the real processes it is sent against: `frontdoor serve` and nginx.

`dribble` sends a request head one byte at a time, the way a slowloris holds a connection, and
says how long the server let it; `request` is the normal client beside it. Both speak raw HTTP/1.1
over a socket, so nothing in between (a client library's own timeouts) decides what is measured.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from support.servers import free_port

HEAD = b"GET /healthz HTTP/1.1\r\nHost: frontdoor.test\r\nX-Padding: " + b"a" * 4000


def dribble(port: int, *, every_s: float = 0.25, give_up_s: float = 30.0, first: bytes = b"") -> float:
    """Seconds until the server closed a connection that sends `first` (whole requests, answered) and
    then a request head a byte every `every_s`; `give_up_s` if it never did."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        if first:
            sock.sendall(first)
            _read_answer(sock)
            started = time.monotonic()  # from the answer on, as the server counts
        sock.settimeout(every_s)
        for byte in HEAD * 10:
            if time.monotonic() - started > give_up_s:
                return give_up_s
            try:
                sock.sendall(bytes([byte]))
                while sock.recv(65536):  # anything the server says before it closes (nginx may say 408)
                    pass
                return time.monotonic() - started  # EOF
            except TimeoutError:
                continue  # still open: the next byte
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
    return give_up_s


def request(port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One whole request on a connection of its own: (status, the JSON body)."""
    data = b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: frontdoor.test", "Connection: close",
             f"Content-Length: {len(data)}", "Content-Type: application/json",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + data)
        status, answer = _read_answer(sock)
    return status, json.loads(answer) if answer else None


def _read_answer(sock: socket.socket) -> tuple[int, bytes]:
    """The status and body of one answer with a Content-Length (every frontdoor and nginx answer here)."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {raw[:200]!r}")
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
    length = int({k.strip().lower(): v for k, v in fields.items()}.get(b"content-length", b"0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split()[1]), body


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None = None, timeout_s: float = 30.0) -> None:
    """Until something listens on `port`; an error at once if `proc`, which should, has exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port} after {timeout_s} s")


@contextlib.contextmanager
def running(argv: list[str], port: int, *, cwd: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A process that listens on `port`, its output in cwd/output.log; SIGTERM, then SIGKILL, on the way out."""
    with (cwd / "output.log").open("wb") as log:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, proc)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def frontdoor_serve(tmp_path: Path, **settings: str) -> Iterator[int]:
    """`frontdoor serve` with its embedded Redis and `settings` (FRONTDOOR_* names without the prefix); its port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env.update({"FRONTDOOR_DATA_DIR": "data", "FRONTDOOR_SMTP_PORT": "0"})
    env.update({f"FRONTDOOR_{name}": value for name, value in settings.items()})
    with running([sys.executable, "-m", "frontdoor", "serve", "--port", str(port)], port, cwd=tmp_path, env=env):
        yield port


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def adapted_nginx_conf(shipped: str, folder: Path, *, port: int, app_port: int, header_timeout_s: int) -> Path:
    """The shipped config with what only differs here: the listening port, the app's address, files
    under `folder`, and a header timeout short enough for a test (the rest is the shipped text)."""
    text = shipped.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    text = text.replace("http://app:8080", f"http://127.0.0.1:{app_port}")
    text = text.replace("pid /var/run/nginx.pid;", f"pid {folder}/nginx.pid;")
    text = text.replace("client_header_timeout 10s;", f"client_header_timeout {header_timeout_s}s;")
    temp = "".join(f"    {kind}_temp_path {folder}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    text = text.replace("http {\n", "http {\n" + temp, 1)
    for needle in (f"127.0.0.1:{port}", f"127.0.0.1:{app_port}", f"{folder}/nginx.pid", f"{header_timeout_s}s"):
        assert needle in text, f"the shipped nginx.conf changed shape: {needle} not placed"
    path = folder / "nginx.conf"
    path.write_text(text)
    return path
