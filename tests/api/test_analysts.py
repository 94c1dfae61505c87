"""Who has access: GET /api/v1/analyst/analysts, `frontdoor analyst list`, and "last used" recorded by
authentication at most once a minute, on a real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from support.api import ANALYST_PREFIX, assert_error, ok_json
from support.clock import Clock
from frontdoor.api.accounts import Analysts
from frontdoor.api.appkeys import ACCOUNTS
from frontdoor.storage import keys

ANALYSTS = f"{ANALYST_PREFIX}/analysts"


async def test_supervisors_list_who_has_access_without_tokens(api, add_analyst):
    boss = await add_analyst("boss", "supervisor")
    carol = await add_analyst("carol")
    await add_analyst("alice")
    await assert_error(await api.get(ANALYSTS, headers=carol), 403, "forbidden")  # carol's first use: recorded
    body = await ok_json(await api.get(ANALYSTS, headers=boss))
    assert [a["name"] for a in body["analysts"]] == ["alice", "boss", "carol"]
    by_name = {a["name"]: a for a in body["analysts"]}
    assert all(set(a) == {"name", "role", "created", "last_used"} for a in body["analysts"])
    assert by_name["boss"]["role"] == "supervisor" and by_name["alice"]["role"] == "analyst"
    assert by_name["alice"]["last_used"] is None
    assert by_name["boss"]["last_used"].endswith(":00.000Z") and by_name["carol"]["last_used"] is not None
    assert by_name["alice"]["created"].endswith("Z")
    text = json.dumps(body)
    for token in (boss, carol):
        assert token["Authorization"].split()[1] not in text
    assert "fdt_" not in text and "token" not in text

    await api.app[ACCOUNTS].revoke("carol")  # revoking takes the entry out of the listing
    body = await ok_json(await api.get(ANALYSTS, headers=boss))
    assert [a["name"] for a in body["analysts"]] == ["alice", "boss"]


async def test_last_used_is_written_once_a_minute_and_only_forward(redis, keyring):
    clock = Clock(1_800_000_000_000)  # 2027-01-15T08:00:00Z
    accounts = Analysts(redis, keyring, clock_ms=clock)
    token = await accounts.add("alice", "analyst")
    await redis.config_resetstat()
    for _ in range(20):
        clock.ms += 1000  # twenty requests within one minute
        assert (await accounts.authenticate(token)) is not None
    stats = await redis.info("commandstats")
    assert stats["cmdstat_hset"]["calls"] == 1  # one write for the twenty
    assert (await accounts.listing())[0]["last_used"] == "2027-01-15T08:00:00.000Z"
    clock.ms += 60_000
    await accounts.authenticate(token)
    assert (await accounts.listing())[0]["last_used"] == "2027-01-15T08:01:00.000Z"
    behind = Analysts(redis, keyring, clock_ms=lambda: 1_800_000_000_000)  # a process whose clock is behind
    await behind.authenticate(token)
    assert (await accounts.listing())[0]["last_used"] == "2027-01-15T08:01:00.000Z"
    assert await accounts.authenticate("fdt_not-a-token") is None


async def test_an_account_missing_from_the_index_is_listed_once_it_authenticates(redis, keyring):
    accounts = Analysts(redis, keyring)
    token = await accounts.add("restored", "supervisor")
    await redis.srem(keys.ANALYSTS, "restored")  # an account from a hand-restored backup, say
    assert await accounts.listing() == []
    assert await accounts.authenticate(token) is not None
    assert [a["name"] for a in await accounts.listing()] == ["restored"]
    await redis.sadd(keys.ANALYSTS, "ghost")  # a name without an account is no one with access
    assert [a["name"] for a in await accounts.listing()] == ["restored"]


def _cli(tmp_path: Path, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env.update(FRONTDOOR_DATA_DIR=str(tmp_path / "data"), FRONTDOOR_REDIS_URL=redis_url)
    return subprocess.run([sys.executable, "-m", "frontdoor", *args], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)


def test_analyst_list_prints_a_table_or_json(tmp_path: Path, redis_url: str, redis: Any) -> None:
    empty = _cli(tmp_path, redis_url, "analyst", "list")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.splitlines()[0].split() == ["NAME", "ROLE", "CREATED", "LAST", "USED"]
    assert "no analysts" in empty.stdout
    tokens = [_cli(tmp_path, redis_url, "analyst", "add", name, *extra).stdout.strip().splitlines()[-1]
              for name, extra in (("zoe", ()), ("al", ("--role", "supervisor")))]
    table = _cli(tmp_path, redis_url, "analyst", "list")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert [line.split()[:2] for line in lines[1:]] == [["al", "supervisor"], ["zoe", "analyst"]]
    assert {line.index("  20") for line in lines[1:]} == {lines[0].index("CREATED") - 2}  # aligned columns
    assert all(line.endswith("never") for line in lines[1:])
    as_json = _cli(tmp_path, redis_url, "analyst", "list", "--json")
    assert as_json.returncode == 0 and as_json.stdout.endswith("\n")
    listed = json.loads(as_json.stdout)["analysts"]
    assert [(a["name"], a["role"], a["last_used"]) for a in listed] == [("al", "supervisor", None), ("zoe", "analyst", None)]
    assert all(t.startswith("fdt_") and t not in table.stdout + as_json.stdout for t in tokens)
    assert _cli(tmp_path, redis_url, "analyst", "revoke", "zoe").returncode == 0
    assert [line.split()[0] for line in _cli(tmp_path, redis_url, "analyst", "list").stdout.splitlines()] == ["NAME", "al"]
