"""Smoke test of benchmarks/web_bench.py: it runs end to end over HTTP and prints the JSON it promises.

Shape, positive rates and the widget figure only, never the targets: those are measurements of a
machine (tests/test_widget_size.py keeps the widget under its cap).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from support import REPO

SCRIPT = REPO / "benchmarks" / "web_bench.py"


def test_web_bench_quick_prints_the_figures() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)

    for key in ("redis_version", "python_version", "cpu_pinning", "turns_per_conversation", "summary", "targets",
                "levels", "widget", "load_average", "notes", "elapsed_s"):
        assert key in out, key
    assert out["turns_per_conversation"] == 11
    assert "WebSettings(conversations_per_min=10**6" in out["notes"]["settings"]
    assert set(out["levels"]) == {"10", "100"}
    for concurrency, level in out["levels"].items():
        web, baseline = level["web"], level["baseline"]
        assert level["concurrency"] == int(concurrency)
        assert web["reports"] == web["conversations"] == web["queued_reports"] > 0  # every receipt stored
        assert web["turns"] == 11 * web["reports"] == web["turn_ms"]["n"]
        assert web["reports_per_s"] > 0 and web["turns_per_s"] > 0
        assert baseline["requests"] == web["turns"] and baseline["requests_per_s"] > 0
        for figures in (web["turn_ms"], web["start_ms"], web["message_turn_ms"], web["submit_turn_ms"],
                        baseline["latency_ms"]):
            assert 0 < figures["p50"] <= figures["p99"] <= figures["max"], figures
        ratio = level["turn_throughput_vs_baseline"]
        assert ratio["value"] > 0 and ratio["target"] == 0.5 and isinstance(ratio["met"], bool)
        assert web["redis_commands_per_turn"] > baseline["redis_commands_per_request"] > 0
    p99 = out["levels"]["100"]["p99_turn_ms"]
    assert p99["value"] > 0 and p99["target"] == 50 and isinstance(p99["met"], bool)
    assert out["targets"]["p99_turn_ms_at_100"] == p99

    widget = out["widget"]
    assert widget["total_gzip_bytes"] == widget["widget_js_gzip_bytes"] + widget["widget_css_gzip_bytes"] > 0
    assert widget["target_bytes"] == 20 * 1024 and isinstance(widget["met"], bool)
    assert set(widget["reference_gzip_kb_quoted_from_issue_not_measured"].values()) == {211, 945}
