"""A pytest plugin: CPU seconds (user + sys) of each test module, dbt children and fork servers included.

    PYTHONPATH=scripts:benchmarks .venv/bin/python -m pytest -p pytest_cpu tests/python ...   # CLV_CPU_LOG=FILE

Around each test (setup, call and teardown: a fixture built for it counts there) the plugin sums the CPU of the
pytest process (or xdist worker) and of every live descendant (its fork server and dbt children), each with the CPU
of its own reaped children (/proc/PID/stat utime + stime + cutime + cstime), and appends the difference to
CLV_CPU_LOG (default /tmp/pytest_cpu.jsonl) as one JSON line per test. `python benchmarks/pytest_cpu.py FILE` prints
the sum per module, largest first. A fixture built once per run (conftest.built_once) is charged to the test that
built it; a worker waiting on another's build is charged nothing for the wait.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU s incl. reaped children) of `pid`, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), sum(int(value) for value in fields[11:15]) / TICKS


def tree_cpu(root: int) -> float:
    """CPU s of `root` and its live descendants, each with its reaped children."""
    stats = {int(name): stat for name in os.listdir("/proc") if name.isdigit() and (stat := _stat(int(name)))}
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _) in stats.items():
        children[parent].append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats[pid][1] if pid in stats else 0.0
        todo.extend(children.get(pid, []))
    return total


def pytest_runtest_protocol(item, nextitem):  # type: ignore[no-untyped-def]
    started, cpu = time.perf_counter(), tree_cpu(os.getpid())
    yield
    line = {"nodeid": item.nodeid, "module": item.nodeid.split("::")[0], "cpu": tree_cpu(os.getpid()) - cpu,
            "wall": time.perf_counter() - started, "worker": os.environ.get("PYTEST_XDIST_WORKER", "main")}
    with open(os.environ.get("CLV_CPU_LOG", "/tmp/pytest_cpu.jsonl"), "a") as log:
        log.write(json.dumps(line) + "\n")


pytest_runtest_protocol.hookwrapper = True  # type: ignore[attr-defined]


def report(path: Path) -> None:
    modules: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for line in path.read_text().splitlines():
        row = json.loads(line)
        module = modules[row["module"]]
        module[0] += row["cpu"]
        module[1] += row["wall"]
        module[2] += 1
    print(f"{'module':<48} {'tests':>5} {'CPU s':>8} {'wall s':>8}")
    for name, (cpu, wall, count) in sorted(modules.items(), key=lambda kv: -kv[1][0]):
        print(f"{name.removeprefix('tests/python/'):<48} {count:>5} {cpu:>8.1f} {wall:>8.1f}")
    print(f"{'total':<48} {sum(m[2] for m in modules.values()):>5} {sum(m[0] for m in modules.values()):>8.1f}")


if __name__ == "__main__":
    report(Path(sys.argv[1]))
