"""`twin bench fixtures`: wall time and peak RSS of `twin.fixtures.generate` at scale 1 (targets: 60 s,
4 GiB), each run in its own child process so the peak RSS is that run's alone, with a 0.1-scale run
interleaved side by side to show how time and memory grow with scale. Medians over `--runs`.

    twin bench fixtures [--scale 1] [--small 0.1] [--runs 3] [--write]

`--write` replaces the "## fixtures" section of BENCHMARKS.md with the figures."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
TARGET_S = 60.0
TARGET_RSS_MIB = 4096.0

# Runs inside the child: generate, then report its own step timings and peak RSS (KiB on Linux).
_CHILD = """
import json, resource, sys, time
from pathlib import Path
from twin.fixtures import generate
steps, last = {}, [time.perf_counter()]
def progress(name, done, total):
    now = time.perf_counter(); steps[name] = now - last[0]; last[0] = now
t0 = time.perf_counter()
m = generate(Path(sys.argv[1]), scale=float(sys.argv[2]), seed=int(sys.argv[3]), progress=progress)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall_s": time.perf_counter() - t0, "steps": steps,
                  "cpu_s": usage.ru_utime + usage.ru_stime,
                  "rss_mib": usage.ru_maxrss / 1024,
                  "rows": sum(m.rows.values()), "digest": m.digest}))
"""


def _one(scale: float, seed: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-fixtures-") as tmp:
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(Path(tmp) / "out"), repr(scale), str(seed)],
            check=True,
            capture_output=True,
            text=True,
        )
        process_s = time.perf_counter() - t0
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = process_s
    return result


def measure(scale: float, small: float, runs: int, seed: int) -> dict[str, object]:
    big_runs: list[dict[str, object]] = []
    small_runs: list[dict[str, object]] = []
    for _ in range(runs):
        small_runs.append(_one(small, seed))
        big_runs.append(_one(scale, seed))
    med = statistics.median

    def m(rs: list[dict[str, object]], key: str) -> float:
        return med(float(r[key]) for r in rs)  # type: ignore[arg-type]

    steps = {name: med(float(r["steps"][name]) for r in big_runs) for name in big_runs[0]["steps"]}  # type: ignore[index]
    digests = {r["digest"] for r in big_runs}
    return {
        "scale": scale,
        "small": small,
        "runs": runs,
        "wall_s": m(big_runs, "wall_s"),
        "wall_min_s": min(float(r["wall_s"]) for r in big_runs),  # type: ignore[arg-type]
        "wall_max_s": max(float(r["wall_s"]) for r in big_runs),  # type: ignore[arg-type]
        "process_s": m(big_runs, "process_s"),
        "cpu_s": m(big_runs, "cpu_s"),
        "small_cpu_s": m(small_runs, "cpu_s"),
        "rss_mib": max(float(r["rss_mib"]) for r in big_runs),  # type: ignore[arg-type]
        "rows": int(big_runs[0]["rows"]),  # type: ignore[call-overload]
        "small_wall_s": m(small_runs, "wall_s"),
        "small_rss_mib": max(float(r["rss_mib"]) for r in small_runs),  # type: ignore[arg-type]
        "children_max_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "steps": steps,
        "deterministic": len(digests) == 1,
        "load": os.getloadavg()[0],
    }


def render(r: dict[str, object]) -> str:
    scale, small = float(r["scale"]), float(r["small"])  # type: ignore[arg-type]
    wall, swall = float(r["wall_s"]), float(r["small_wall_s"])  # type: ignore[arg-type]
    rss, srss = float(r["rss_mib"]), float(r["small_rss_mib"])  # type: ignore[arg-type]
    cpu, scpu = float(r["cpu_s"]), float(r["small_cpu_s"])  # type: ignore[arg-type]
    steps: dict[str, float] = r["steps"]  # type: ignore[assignment]
    top = sorted(steps.items(), key=lambda kv: -kv[1])[:4]
    lines = [
        f"`twin bench fixtures --scale {scale:g} --small {small:g} --runs {r['runs']}` — 2 cores, 24 GiB, "
        f"{date(2026, 11, 22).isoformat()}; each run in a fresh child process, runs interleaved; "
        f"load average at the end {float(r['load']):.1f}.",  # type: ignore[arg-type]
        "",
        f"| | scale {small:g} | scale {scale:g} | ratio | target at scale {scale:g} |",
        "|---|---:|---:|---:|---:|",
        f"| `generate` wall time, median | {swall:.2f} s | {wall:.2f} s | {wall / swall:.1f}× "
        f"| ≤ {TARGET_S:.0f} s ({wall / TARGET_S:.0%} of it) |",
        f"| CPU time of the child (user + sys, incl. imports), median | {scpu:.2f} s | {cpu:.2f} s "
        f"| {cpu / scpu:.1f}× | |",
        f"| peak RSS of the child (max) | {srss:,.0f} MiB | {rss:,.0f} MiB | {rss / srss:.1f}× "
        f"| ≤ {TARGET_RSS_MIB:,.0f} MiB ({rss / TARGET_RSS_MIB:.0%} of it) |",
        "",
        f"Scale {scale:g}: {int(r['rows']):,} rows in 11 Parquet files; wall time min/max "  # type: ignore[call-overload]
        f"{float(r['wall_min_s']):.2f}/{float(r['wall_max_s']):.2f} s; with interpreter start-up "  # type: ignore[arg-type]
        f"{float(r['process_s']):.2f} s. Same digest in every run: {'yes' if r['deterministic'] else 'NO'}. "  # type: ignore[arg-type]
        "Slowest steps (median): " + ", ".join(f"{name} {sec:.2f} s" for name, sec in top) + ". "
        "The `digest` step re-reads every file and hashes its content, so it also checks what was written. "
        "On this shared machine wall time follows the load average; "
        "the child's CPU time is the steadier figure.",
    ]
    return "\n".join(lines) + "\n"


def write_section(text: str, path: Path = BENCHMARKS_MD) -> None:
    content = path.read_text()
    head, sep, rest = content.partition("## fixtures\n")
    if not sep:
        raise SystemExit(f"no '## fixtures' section in {path.name}")
    _, nxt, tail = rest.partition("\n## ")
    path.write_text(head + sep + "\n" + text + ("\n## " + tail if nxt else ""))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench fixtures", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="scale measured against the targets")
    parser.add_argument("--small", type=float, default=0.1, help="smaller scale run side by side")
    parser.add_argument("--runs", type=int, default=3, help="runs per scale (median)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--write", action="store_true", help="update the fixtures section of BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.scale <= 0 or args.small <= 0 or args.runs < 1:
        raise SystemExit("--scale and --small must be > 0 and --runs >= 1")
    result = measure(args.scale, args.small, args.runs, args.seed)
    text = render(result)
    print(text)
    if args.write:
        write_section(text)
        print(f"written to {BENCHMARKS_MD.name}")


if __name__ == "__main__":
    main(sys.argv[1:])
