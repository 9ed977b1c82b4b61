"""Peak resident memory of every process of a study, and its wall time.

Runs ``reglab study`` as a child process (its own session, so the whole tree can be watched
and stopped), samples the resident set size (VmRSS) of the study and every descendant from
``/proc`` every 0.2 s, and prints the peak of each process and the wall time.

Target (issue 12): a Fashion-MNIST study with 1,000 training labels, the seven default recipes,
3 seeds and 2 workers peaks at <= 2.5 GB in every process and ends within 8 minutes.

Run: ``python benchmarks/study_memory.py [--data fashion_mnist] [--train-size 1000]
[--seeds 3] [--jobs 2] [-- extra study options]``. Linux only (reads ``/proc``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(_children(p))
    return out


def _rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _name(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [c.decode(errors="replace") for c in cmd if c]
    if any("spawn_main" in w or "multiprocessing" in w for w in words):
        return "worker"
    return " ".join(Path(words[0]).name if i == 0 else w for i, w in enumerate(words[:3]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="fashion_mnist")
    ap.add_argument("--train-size", default="1000")
    ap.add_argument("--seeds", default="3")
    ap.add_argument("--jobs", default="2")
    ap.add_argument("extra", nargs="*", help="more `reglab study` options (after --)")
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="reglab-mem-"))
    reglab = shutil.which("reglab") or str(Path(sys.executable).with_name("reglab"))
    cmd = [reglab, "study", "--data", args.data, "--train-size", args.train_size, "--seeds",
           args.seeds, "--jobs", args.jobs, "--out", str(out), *args.extra]  # fmt: skip
    print("running:", " ".join(cmd), flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, start_new_session=True)
    peaks: dict[int, tuple[int, str]] = {}
    try:
        while proc.poll() is None:
            for pid in _tree(proc.pid):
                rss = _rss_kb(pid)
                if rss is not None and rss > peaks.get(pid, (0, ""))[0]:
                    peaks[pid] = (rss, _name(pid))
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    wall = time.perf_counter() - start
    print(f"\nexit code {proc.returncode}; wall time {wall:.0f} s ({wall / 60:.1f} min)")
    print(f"{'pid':>8}  {'peak RSS':>10}  process")
    for pid, (rss, name) in sorted(peaks.items(), key=lambda kv: -kv[1][0]):
        if rss > 50_000:  # leave out the short-lived helpers (resource tracker, shells)
            print(f"{pid:>8}  {rss / 1e6:>8.2f} GB  {name}")
    worst = max((r for r, _ in peaks.values()), default=0) / 1e6
    print(f"max peak over processes: {worst:.2f} GB (target <= 2.5 GB); results in {out}")
    return proc.returncode or 0


if __name__ == "__main__":
    raise SystemExit(main())
