"""Smoke test of benchmarks/scale_bench.py: 1 and 2 workers of a real `frontdoor serve`, and one
worker on the three-primary cluster the tests start; the JSON it promises, every acknowledged report
stored. Shape and positive rates only, never the targets: those are measurements of a machine."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from support import REPO
from support.servers import LocalCluster

SCRIPT = REPO / "benchmarks" / "scale_bench.py"


def _run(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", *args], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _level_ok(level: dict[str, Any], workers: int) -> None:
    assert level["workers"] == workers and level["serve_exit_code"] == 0
    assert level["reports_per_s"] > 0 and level["stored"] >= level["acknowledged"] > 0  # every 201 was stored
    assert 0 < level["latency_ms"]["p50"] <= level["latency_ms"]["p99"] <= level["latency_ms"]["max"]
    assert level["server_cpu_us_per_report"] > 0
    scaling = level["scaling_vs_one_worker"]
    assert scaling["value"] > 0 and scaling["target"] == 0.8 and scaling["met"] is (scaling["value"] >= 0.8)


def test_scale_bench_quick_prints_the_curve() -> None:
    out = _run("--max-workers", "2")
    for key in ("redis_version", "python_version", "cpu_pinning", "load_generator", "curve", "levels", "redis",
                "targets", "samples", "notes", "load_average", "elapsed_s"):
        assert key in out, key
    assert set(out["curve"]) == set(out["levels"]) == {"1", "2"}
    for n, level in out["levels"].items():
        _level_ok(level, int(n))
    assert out["levels"]["1"]["scaling_vs_one_worker"]["value"] == 1.0  # the baseline is itself
    redis = out["redis"]
    assert redis["nodes"] == 1 and redis["queue_shards"] == 1
    assert redis["calls_per_report_by_command"]["evalsha"] >= 1  # the submit script, once a report
    assert redis["commands_per_report"] > 1 and redis["reports_per_s_ceiling"] > 0


def test_scale_bench_on_a_cluster_spreads_the_reports_over_every_primary(redis_cluster: LocalCluster) -> None:
    out = _run("--max-workers", "1", "--redis-url", redis_cluster.url)
    _level_ok(out["levels"]["1"], 1)
    redis = out["redis"]
    assert redis["nodes"] == 3 and redis["queue_shards"] == 12
    per_node = out["levels"]["1"]["redis_per_node"]
    assert len(per_node) == 3 and all(node["calls_per_report"] > 1 for node in per_node), per_node
    assert redis["busiest_node_cpu_us_per_report"] < redis["cpu_us_per_report"]  # no node does all the work
