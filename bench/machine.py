"""What every benchmark reports beside its figures, so runs on different machines (or on this
shared one at different times) can be compared: the machine, its speed on a fixed CPU loop,
and the memory of the server under test.

    from bench.machine import cpu_speed, describe, rss_mb

    speed = cpu_speed()            # {"loop_mops": 10.3, "loop_ms": 194.2, "runs": 5}
    machine = describe(speed)      # cpu model, cores, memory, python, platform, wrk, speed
    rss = rss_mb(server.pid)       # MB resident: the process and all its children

`cpu_speed` runs the same pure-Python loop (2 million multiplications, remainders and
additions) several times and keeps the fastest run: the machine's speed when nothing else had
the core. Run it before and after a benchmark to see whether the machine was busier for one
of them.
"""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

LOOP_ITERATIONS = 2_000_000


def _loop(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def cpu_speed(runs: int = 5) -> dict[str, float]:
    """Millions of loop iterations a second on one core (the fastest of `runs`), and that
    run's milliseconds."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        _loop(LOOP_ITERATIONS)
        best = min(best, time.perf_counter() - started)
    return {
        "loop_mops": round(LOOP_ITERATIONS / best / 1e6, 2),
        "loop_ms": round(best * 1000, 1),
        "runs": runs,
    }


def disk_flush_ms(flushes: int = 200) -> float:
    """The median milliseconds to write 4 KiB and fsync it in the temporary directory (where
    the benchmarks' SQLite files go; PostgreSQL's data is on the same disk here): what each
    commit waits for. Near zero on a disk with a write cache the kernel trusts, a few
    milliseconds on one without: a commit per request costs little on the first and bounds
    the rate on the second, where group commit matters most."""
    times = []
    with tempfile.TemporaryDirectory(prefix="mc-flush-") as directory:
        fd = os.open(Path(directory) / "flush", os.O_WRONLY | os.O_CREAT)
        try:
            for _ in range(flushes):
                started = time.perf_counter()
                os.write(fd, b"x" * 4096)
                os.fsync(fd)
                times.append(time.perf_counter() - started)
        finally:
            os.close(fd)
    return round(statistics.median(times) * 1000, 3)


def round_trip_us(trips: int = 2000) -> float:
    """The median microseconds for one byte to go to another process over a local socket
    and back: the floor of every database statement and every wake-up between processes.
    A virtual machine whose system calls and context switches are dear shows it here (the
    CPU loop does not), and a service of many small round trips runs slower there for the
    same loop speed."""
    ours, theirs = socket.socketpair()
    child = os.fork()
    if child == 0:  # the echo: back at once, until the parent closes its end
        ours.close()
        while data := theirs.recv(1):
            theirs.sendall(data)
        os._exit(0)
    theirs.close()
    times = []
    try:
        for _ in range(trips):
            started = time.perf_counter()
            ours.sendall(b"x")
            ours.recv(1)
            times.append(time.perf_counter() - started)
    finally:
        ours.close()
        os.waitpid(child, 0)
    return round(statistics.median(times) * 1e6, 1)


def describe(speed: dict[str, float] | None = None) -> dict[str, object]:
    """The machine: CPU model, cores, memory, Python, platform, wrk's version, `speed`
    (measured now when not given), what a disk flush costs and what a round trip between
    two processes costs."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
        said = (wrk.stdout or wrk.stderr).splitlines()
        wrk_version = said[0] if said else ""
    except OSError:
        wrk_version = "not installed"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "wrk": wrk_version,
        "cpu_speed": speed if speed is not None else cpu_speed(),
        "disk_flush_ms": disk_flush_ms(),
        "round_trip_us": round_trip_us(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` and all its descendants (uvicorn's worker
    processes), in MB; 0 for a process that has gone."""
    total_kb = 0
    for each in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    break
        except OSError:
            continue
    return round(total_kb / 1024, 1)


def max_process_rss_mb(pid: int) -> float:
    """The largest resident memory of any one process in `pid`'s tree, in MB (the issue's
    limit is per process)."""
    largest = 0
    for each in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    largest = max(largest, int(line.split()[1]))
                    break
        except OSError:
            continue
    return round(largest / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) used so far by `pid`'s tree: steadier than the wall clock
    when other work shares the machine."""
    ticks = 0
    for each in [pid, *_descendants(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    queue = [pid]
    while queue:
        parent = queue.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.append(child)
            queue.append(child)
    return found
