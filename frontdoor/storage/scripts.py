"""Lua scripts: read from the `.lua` files beside the code that runs them, and run by their SHA.

Every change that touches more than one key is one script in one hash slot (see keys.py), so it
is atomic on one Redis and on a Redis Cluster alike. redis-py's `Script` sends EVALSHA and loads
the body again when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH); a script sent through
an AutoPipeline goes as EVALSHA too and falls back to the same `Script` on NOSCRIPT.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from .client import AutoPipeline, Client


def source(package: str, *names: str) -> str:
    """The files `names` of `package`'s `lua/` folder, joined (a prelude first, then the script)."""
    folder = resources.files(package).joinpath("lua")
    return "\n".join(folder.joinpath(name).read_text(encoding="utf-8") for name in names)


class Script:
    def __init__(self, redis: Client, text: str) -> None:
        self._script: AsyncScript = redis.register_script(text)  # type: ignore[misc]  # RedisCluster has it too, typed for Redis

    async def __call__(self, keys: Sequence[str], args: Sequence[Any], *, via: AutoPipeline | None = None) -> Any:
        """Run it; `via` an AutoPipeline for calls on a hot path, where concurrent ones share a round trip."""
        if via is None:
            return await self._script(keys=list(keys), args=list(args))
        try:
            return await via.execute_command("EVALSHA", self._script.sha, len(keys), *keys, *args)
        except NoScriptError:  # Redis restarted or flushed its scripts: redis-py's Script loads it again
            return await self._script(keys=list(keys), args=list(args))
