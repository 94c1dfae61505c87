"""Smoke test of benchmarks/queue_bench.py: it runs end to end and prints the JSON it promises.

It asserts on shape and on rates being positive only, never on the targets: those are
measurements of a machine, not properties of the code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import REPO

pytest.importorskip("rq", reason="the benchmark's peers are the `bench` extra")
pytest.importorskip("arq", reason="the benchmark's peers are the `bench` extra")

SCRIPT = REPO / "benchmarks" / "queue_bench.py"


def _rates(node: Any, path: str = "") -> dict[str, float]:
    """Every `*_per_s` figure in the output, by its dotted path."""
    found: dict[str, float] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else key
            if key.endswith("_per_s") and isinstance(value, (int, float)):
                found[where] = value
            else:
                found.update(_rates(value, where))
    return found


def test_queue_bench_quick_prints_the_figures() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)

    for key in ("n", "redis_version", "python_version", "baseline", "submit", "claim_assess", "e2e_items",
                "memory", "ratios", "targets", "notes"):
        assert key in out, key
    assert out["n"] > 0

    rates = _rates(out)
    for name in ("baseline.sequential_msgs_per_s", "submit.build_and_submit_per_s", "submit.queue_submit_per_s",
                 "claim_assess.sequential_per_s", "claim_assess.concurrent_per_s",
                 "e2e_items.frontdoor_sequential_per_s", "e2e_items.frontdoor_concurrent_per_s",
                 "e2e_items.rq_per_s", "e2e_items.arq_per_s"):
        assert name in rates, name
    assert all(v > 0 for v in rates.values()), rates

    assert out["submit"]["outcomes"].get("joined") == out["submit"]["duplicate_urls"]  # de-duplication happened
    assert sum(out["submit"]["outcomes"].values()) == out["submit"]["reports"] == out["n"]  # each submit queued
    assert out["memory"]["bytes_per_case"] > 0

    for name in ("submit_vs_baseline", "e2e_vs_rq", "e2e_vs_arq"):
        assert out["ratios"][name] > 0
    for name in ("submit_vs_baseline", "e2e_vs_rq", "e2e_vs_arq", "memory_bytes_per_case"):
        figure = out["targets"][name]
        assert set(figure) == {"value", "target", "met"}
        at_most = name == "memory_bytes_per_case"  # fewer bytes are better; the ratios are at least
        assert figure["met"] is (figure["value"] <= figure["target"] if at_most else figure["value"] >= figure["target"])
