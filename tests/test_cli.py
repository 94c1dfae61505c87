"""Settings, the CLI, and `frontdoor serve` as a real process with its embedded Redis."""

from __future__ import annotations

import json
import re
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from frontdoor.errors import ConfigError
from support.serve import Serve, http_json
from support.servers import free_port
from frontdoor.settings import Settings


@pytest.mark.parametrize("name, value", [
    ("REDIS_URL", "localhost:6379"),
    ("SECRET_KEY", "short"),
    ("QUEUE_SHARDS", "zero"),
    ("QUEUE_SHARDS", "0"),
    ("LEASE_SECONDS", "1"),
    ("RETENTION_DAYS", "-5"),
    ("MAX_BODY_BYTES", "12"),
    ("HOTLINE_COUNTRY", "United Kingdom"),
    ("LOG_LEVEL", "chatty"),
    ("ACTIONS_TOKEN", "too-short-to-guard-reports"),
    ("RATE_RECEIPTS_PER_SECOND", "0"),
    ("HEADER_TIMEOUT_SECONDS", "soon"),
])
def test_invalid_setting_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({f"FRONTDOOR_{name}": value})
    assert f"FRONTDOOR_{name}" in info.value.message


def test_settings_defaults_and_values() -> None:
    assert Settings.from_env({}).redis_url is None
    s = Settings.from_env({"FRONTDOOR_QUEUE_SHARDS": "4", "FRONTDOOR_HOTLINE_COUNTRY": "gb", "FRONTDOOR_REDIS_URL": "redis://r:6379/0"})
    assert (s.queue_shards, s.hotline.country, s.redis_url) == (4, "GB", "redis://r:6379/0")
    assert (s.email.port, s.outbox.ttl_s) == (2525, 72 * 3600)  # e-mail on by default when run as a server
    limits = Settings.from_env({"FRONTDOOR_RATE_REPORTS_PER_MINUTE": "5", "FRONTDOOR_RATE_RECEIPTS_PER_MINUTE": "6",
                                "FRONTDOOR_RATE_RECEIPTS_PER_SECOND": "7", "FRONTDOOR_HEADER_TIMEOUT_SECONDS": "8",
                                "FRONTDOOR_TRUST_FORWARDED_FOR": "1"})
    assert (limits.web.reports_per_min, limits.web.receipts_per_min, limits.web.receipts_per_s, limits.header_timeout_s,
            limits.web.trust_forwarded_for) == (5, 6, 7, 8, True)
    assert "secret" not in repr(Settings(secret_key=b"s" * 40)).lower().replace("secret_key", "")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env["FRONTDOOR_DATA_DIR"] = "data"  # relative, as `make run` leaves it; the processes run in tmp_path
    env["FRONTDOOR_SMTP_PORT"] = str(free_port())  # never the default 2525: it may be taken here
    env.update(extra)
    return env


def _cli(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "frontdoor", *args], env=_env(tmp_path, **extra), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


def test_bad_setting_stops_start_up_with_one_line(tmp_path: Path) -> None:
    result = _cli(tmp_path, "queue", "stats", FRONTDOOR_QUEUE_SHARDS="many")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "FRONTDOOR_QUEUE_SHARDS" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_redis_is_one_line(tmp_path: Path) -> None:
    result = _cli(tmp_path, "analyst", "add", "bob", FRONTDOOR_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert result.returncode == 2 and "FRONTDOOR_REDIS_URL" in result.stderr and "Traceback" not in result.stderr


def test_analyst_add_and_queue_stats_against_a_redis_url(tmp_path: Path, redis_url: str) -> None:
    added = _cli(tmp_path, "analyst", "add", "bob", "--role", "supervisor", FRONTDOOR_REDIS_URL=redis_url)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("fdt_") and len(token) > 40
    again = _cli(tmp_path, "analyst", "add", "bob", FRONTDOOR_REDIS_URL=redis_url)
    assert again.returncode == 1 and "exists" in again.stderr
    stats = _cli(tmp_path, "queue", "stats", FRONTDOOR_REDIS_URL=redis_url)
    assert stats.returncode == 0, stats.stderr
    assert stats.stdout.endswith("}\n")  # a shell prompt after it starts on its own line
    assert json.loads(stats.stdout)["queue"]["normal"] == {"in_queue": 0, "claimed": 0}


def test_serve_runs_an_embedded_redis_and_keeps_reports(tmp_path: Path) -> None:
    serve = Serve(tmp_path)
    try:
        serve.wait_ready()
        assert f"{serve.base}/api/v1/openapi.json" in serve.output
        assert "/api/v1/analyst/claim" in serve.output and "embedded" in serve.output
        assert http_json(f"{serve.base}/readyz") == (200, {"status": "ready"})
        status, body = http_json(f"{serve.base}/api/v1/reports", {"category": "csam", "urls": ["https://example.com/kept"]})
        assert status == 201
        receipt = body["receipt"]
    finally:
        assert serve.stop() == 0, serve.output
    assert "Token (shown only now" in serve.output
    redis_dir = tmp_path / "data" / "redis"
    assert (redis_dir / "appendonly.aof").exists() or (redis_dir / "appendonlydir").is_dir()
    assert not (redis_dir / "redis.sock").exists()  # the embedded server stopped with us
    assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600

    again = Serve(tmp_path, port=serve.port)
    try:
        again.wait_ready()
        assert http_json(f"{again.base}/api/v1/receipts/{receipt}") == (200, {"status": "received"})
    finally:
        assert again.stop() == 0, again.output
    assert "http://127.0.0.1" in again.output and "Token" not in again.output  # the first analyst is created once


def test_outbox_lists_retries_and_drops_dead_letters_naming_no_recipient(tmp_path: Path, redis_url: str) -> None:
    import asyncio

    from frontdoor.keyring import Keyring
    from frontdoor.outbox import Outbox
    from frontdoor.settings import OutboxSettings
    from frontdoor.storage import keys
    from frontdoor.storage.client import connect

    secret = "cli-outbox-secret-" + "k" * 32
    recipient = "dead.letter.canary@example.org"

    async def two_dead_letters() -> None:
        redis = connect(redis_url)
        box = Outbox(redis, Keyring(secret.encode()), OutboxSettings(max_attempts=1), ["email"])
        await box.setup()
        await box.put("email", recipient, [{"subject": "first"}, {"subject": "second"}])
        for message in await box.take(["email"], "test", count=10, block_ms=0):
            assert await box.failed(message, "relay said 550 no such user")  # the last attempt: buried
        await redis.aclose()

    async def stream_length() -> int:
        redis = connect(redis_url)
        try:
            return int(await redis.xlen(keys.outbox_stream("email")))
        finally:
            await redis.aclose()

    asyncio.run(two_dead_letters())
    env = {"FRONTDOOR_REDIS_URL": redis_url, "FRONTDOOR_SECRET_KEY": secret}
    listed = _cli(tmp_path, "outbox", "list", **env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("0 waiting to be sent, 2 dead letters.")
    assert "550 no such user" in listed.stdout and recipient not in listed.stdout + listed.stderr
    first_id, second_id = [line.split()[0] for line in listed.stdout.splitlines()[1:]]
    stats = json.loads(_cli(tmp_path, "queue", "stats", **env).stdout)
    assert stats["outbox"] == {"waiting": 0, "dead_letters": 2}

    retried = _cli(tmp_path, "outbox", "retry", first_id, **env)
    assert retried.returncode == 0 and "queued again" in retried.stdout
    assert asyncio.run(stream_length()) >= 1  # back in its channel's stream, for the sender to try again
    dropped = _cli(tmp_path, "outbox", "drop", second_id, "1-1", **env)
    assert dropped.returncode == 1 and "dropped" in dropped.stdout and "no such dead letter" in dropped.stdout
    assert _cli(tmp_path, "outbox", "list", **env).stdout.startswith("1 waiting to be sent, 0 dead letters.")
    nothing = _cli(tmp_path, "outbox", "retry", **env)
    assert nothing.returncode == 1 and "--all" in nothing.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_start_up_names_the_missing_relay_once_and_shutdown_says_how_long_the_drain_took(
        tmp_path: Path, start_redis, workers: str) -> None:  # type: ignore[no-untyped-def]
    serve = Serve(tmp_path, "--workers", workers, FRONTDOOR_REDIS_URL=start_redis(persist=False).url)
    serve.wait_ready()
    assert serve.stop(signal.SIGTERM) == 0, serve.output
    relay = [line for line in serve.lines if "FRONTDOOR_SMTP_RELAY" in line]
    assert len(relay) == 1 and "receipt code" in relay[0], serve.output
    stopped = [line for line in serve.lines if "stopped:" in line]
    assert len(stopped) == 1 and re.search(r"drained.* in \d+\.\d s", stopped[0]), serve.output


def test_no_relay_warning_when_a_relay_is_set(tmp_path: Path, start_redis) -> None:  # type: ignore[no-untyped-def]
    serve = Serve(tmp_path, "--workers", "1", FRONTDOOR_REDIS_URL=start_redis(persist=False).url,
                  FRONTDOOR_SMTP_RELAY=f"127.0.0.1:{free_port()}")
    serve.wait_ready()
    assert serve.stop() == 0, serve.output
    assert "FRONTDOOR_SMTP_RELAY" not in serve.output and "e-mail:" in serve.output
