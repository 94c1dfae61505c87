"""Smoke test of benchmarks/email_bench.py: it runs end to end over SMTP and prints the JSON it promises.

Shape, positive rates and the queue check only, never the target: that is a measurement of a machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from support import REPO

SCRIPT = REPO / "benchmarks" / "email_bench.py"


def test_email_bench_quick_prints_the_figures() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)

    for key in ("redis_version", "python_version", "cpu_pinning", "message_bytes", "summary", "targets", "levels",
                "warnings", "load_average", "notes", "elapsed_s", "hostile_inputs"):
        assert key in out, key
    hostile = out["hostile_inputs"]
    assert isinstance(hostile.pop("linear"), bool) and len(hostile) >= 7
    assert all(0 < v["ms_1_mib"] and 0 < v["ms_2_mib"] for v in hostile.values()), hostile
    assert 2000 <= out["message_bytes"] <= 4096
    assert "relay=None" in out["notes"]["frontdoor"] and out["rounds_completed"] == out["rounds"] == 1
    assert set(out["levels"]) == set(out["summary"]) == {"1", "8"}
    for clients, level in out["levels"].items():
        assert level["clients"] == int(clients)
        for name in ("frontdoor", "baseline", "frontdoor_with_relay"):
            phase = level[name]
            assert phase["accepted"] > 0 and phase["emails_per_s"] > 0, (clients, name, phase)
            assert phase["verified"] is True, (clients, name, phase)  # the queue (or handler) holds what was accepted
            latency = phase["latency_ms"]
            assert latency["n"] == phase["accepted"]
            assert 0 < latency["p50"] <= latency["p99"] <= latency["max"], latency
            assert set(phase["cpu_share"]) >= {"server", "redis", "client"}
        assert level["frontdoor"]["queued_reports"] == level["frontdoor"]["accepted"]  # every 250 was stored
        assert level["frontdoor_with_relay"]["queued_reports"] == level["frontdoor_with_relay"]["accepted"]
        assert level["baseline"]["discarded_by_handler"] == level["baseline"]["accepted"]
        ratio = level["ratio"]
        assert ratio["value"] > 0 and ratio["target"] == 0.5 and isinstance(ratio["met"], bool)
        summary = out["summary"][clients]
        assert summary["frontdoor_emails_per_s"] > 0 and summary["baseline_emails_per_s"] > 0
        assert summary["frontdoor_p50_ms"] <= summary["frontdoor_p99_ms"]
        assert summary["verified"] is True
        assert out["targets"][f"emails_per_s_vs_baseline_{clients}_clients"] == ratio
