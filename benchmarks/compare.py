"""Two checkouts' benchmark figures side by side, taken in one sitting.

Run:  python benchmarks/compare.py --old /tmp/wt-old --new . [--quick] [--runs N] [--only web,email] [--out FILE]

A figure measured today against one measured last week compares two machines as much as two
versions, so this runs each benchmark script of each checkout alternately (old, new, old, new...),
each with its own checkout first on PYTHONPATH and the same interpreter, and prints JSON: for every
numeric figure both printed, old, new and new/old (the median over --runs when there are several).
Each checkout runs its OWN scripts, because an older one's scripts import the API of their day.
Figures the new scripts print under another name are matched through RENAMED. Noisy machines make
noisy ratios: read the baselines' ratios too, which should sit near 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCHMARKS = ("dialog", "queue", "web", "email")
# Keys the rewritten scripts print under another name (new -> old), matched one path segment at a time.
# All four keep their measured figures' keys; the renames are in the profile passes, whose step names
# follow the modules that moved (mailparse -> channels/email/parse, report -> reports/build).
RENAMED: dict[str, dict[str, str]] = {
    "email": {"parse.parse_mail (whole)": "mailparse.parse_mail (whole)",
              "parse.submission (whole)": "mailparse.submission (whole)",
              "parse.parse_mail": "mailparse.parse_mail", "parse.submission": "mailparse.submission",
              "  build.check(submission schema)": "  report.check(submission schema) (inside build_report)",
              "  urls.parse(link)": "  urls.parse(link) (inside build_report)",
              "  redaction.redact(description)": "  redaction.redact(description) (inside build_report)",
              "server_cpu_us_per_email_unprofiled": "_server_cpu_us_per_email_unprofiled"},
    "web": {"rate limit (RequestLimits.admit)": "rate limit (security.limit)",
            "read_json (body read + parse)": "read_json (body read + parse + re-encode check)",
            "ReportIntake.prepare (build_report)": "build_report"},
}
# Settings and counts, not measurements: a ratio of them says nothing.
NOT_FIGURES = {"quick", "rounds", "rounds_completed", "n", "concurrency", "clients", "turns_per_conversation",
               "phase_s", "think_ms", "cpus", "target", "calls_each", "median_round", "elapsed_s", "load_average"}
Path_ = tuple[str, ...]


def flatten(node: Any, path: Path_ = ()) -> dict[Path_, float]:
    """Every numeric leaf by its path of keys; lists (per-round spreads) and booleans left out."""
    out: dict[Path_, float] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            if str(key) not in NOT_FIGURES:
                out.update(flatten(value, (*path, str(key))))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        out[path] = float(node)
    return out


def run_script(checkout: Path, name: str, extra: list[str], timeout_s: float) -> dict[Path_, float]:
    script = checkout / "benchmarks" / f"{name}_bench.py"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(checkout), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    proc = subprocess.run([sys.executable, str(script), *extra], cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"{script} exited {proc.returncode}: {proc.stderr[-1500:]}")
    return flatten(json.loads(proc.stdout))


def compare(old: dict[Path_, list[float]], new: dict[Path_, list[float]], renamed: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(new):
        old_path = tuple(renamed.get(part, part) for part in path)
        if old_path not in old:
            continue
        o, n = statistics.median(old[old_path]), statistics.median(new[path])
        name = ".".join(path) if old_path == path else f"{'.'.join(path)} (old: {'.'.join(old_path)})"
        out[name] = {"old": round(o, 3), "new": round(n, 3), "ratio": round(n / o, 3) if o else None}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the checkout to compare against")
    parser.add_argument("--new", type=Path, default=Path(__file__).resolve().parents[1], help="default: this checkout")
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument("--runs", type=int, default=1, help="runs of each script in each checkout, alternating")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated benchmarks (default: all four)")
    parser.add_argument("--timeout-s", type=float, default=900.0, help="per script run")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {sorted(unknown)}")
    extra = ["--quick"] if args.quick else []
    checkouts = {"old": args.old.resolve(), "new": args.new.resolve()}
    result: dict[str, Any] = {"old": str(checkouts["old"]), "new": str(checkouts["new"]), "quick": args.quick,
                              "runs": args.runs, "benchmarks": {}, "errors": {}}
    for name in names:
        figures: dict[str, dict[Path_, list[float]]] = {"old": {}, "new": {}}
        try:
            for run in range(args.runs):
                # Alternate which goes first, so that neither always meets a machine warmed by the other.
                for side in (("old", "new") if run % 2 == 0 else ("new", "old")):
                    print(f"{name}: {side} run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
                    for key, value in run_script(checkouts[side], name, extra, args.timeout_s).items():
                        figures[side].setdefault(key, []).append(value)
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            result["errors"][name] = str(exc)[-1500:]
            continue
        result["benchmarks"][name] = compare(figures["old"], figures["new"], RENAMED.get(name, {}))
    text = json.dumps(result, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
