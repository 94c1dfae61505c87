"""The soak of benchmarks/soak.py, two minutes long: mixed load over the web chat, the form, the API
and e-mail through `frontdoor serve --workers 2`, while Redis (with its append-only file) and a
worker are killed with SIGKILL. Nothing acknowledged may be lost, nothing stored twice, nothing
refused, and the server's log carries no traceback."""

from __future__ import annotations

import json
import subprocess
import sys

from support import REPO

SCRIPT = REPO / "benchmarks" / "soak.py"
KINDS = ("chat", "form", "api", "email")


def test_two_minutes_of_kills_lose_nothing_and_store_nothing_twice() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--minutes", "2", "--workers", "2", "--clients", "1"],
                          capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["kills"].get("redis", 0) >= 1 and out["kills"].get("worker", 0) >= 1, out["kills"]
    assert (out["lost"], out["stored_twice"], out["refused"]) == (0, 0, 0), {k: out["channels"][k] for k in KINDS}
    assert out["tracebacks_in_server_log"] == 0
    for kind in KINDS:
        channel = out["channels"][kind]
        assert channel["acknowledged"] > 0 and channel["stored"] >= channel["acknowledged"], (kind, channel)
    # Each fault was seen and outlived: a client waited for it, and not for long.
    assert 0 < out["longest_outage_s"] < 30, out["longest_outage_s"]
    assert set(out["rss_mb"]["start"]) >= {"supervisor", "redis"} and set(out["rss_mb"]["end"]) >= {"supervisor", "redis"}
