"""Smoke test of benchmarks/dialog_bench.py: it runs end to end and prints the JSON it promises.

Shape and positive rates only, never the targets: those are measurements of a machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from support import REPO

SCRIPT = REPO / "benchmarks" / "dialog_bench.py"


def test_dialog_bench_quick_prints_the_figures() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)

    for key in ("redis_version", "python_version", "turns_per_conversation", "levels", "summary", "notes"):
        assert key in out, key
    assert out["turns_per_conversation"] == 10
    assert out["quick"] is True and out["rounds"] == 1 and out["elapsed_s"] > 0
    assert set(out["levels"]) == {"1", "10", "100"}
    for concurrency, level in out["levels"].items():
        dialog, baseline = level["dialog"], level["baseline"]
        assert level["concurrency"] == int(concurrency)
        assert dialog["reports"] == dialog["conversations"] == dialog["queued_reports"] > 0  # every receipt stored
        assert dialog["reports_per_s"] > 0 and dialog["turns_per_s"] > 0 and baseline["pairs_per_s"] > 0
        assert dialog["turn_ms"]["n"] == 10 * dialog["conversations"] == baseline["turns"]
        for figures in (dialog["turn_ms"], dialog["non_submit_turn_ms"], dialog["submit_turn_ms"],
                        baseline["round_trip_pair_ms"]):
            assert 0 < figures["p50"] <= figures["p99"] <= figures["max"], figures
            assert figures["mean"] > 0
        ratios = level["turn_vs_baseline"]
        for name in ("all_turns", "non_submit_turns"):
            assert ratios[name]["value"] > 0 and ratios[name]["target"] > 0
            assert ratios[name]["met"] is (ratios[name]["value"] <= ratios[name]["target"])  # at most: turn time
        assert ratios["submit_turn"]["value"] > 0
