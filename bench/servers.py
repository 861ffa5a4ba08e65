"""Starting the app and the floor on the same gunicorn settings, and watching their workers."""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks() -> tuple[int, int, int]:
    """(busy, steal, total) ticks of the whole machine so far, from /proc/stat.

    Steal is time the hypervisor gave our virtual CPUs to someone else: on a
    shared host it shows up as latency no code of ours can explain.
    """
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    steal = fields[7] if len(fields) > 7 else 0
    total = sum(fields[:8])
    return total - idle - steal, steal, total


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split()]

    def cpu_seconds(self) -> float:
        """User + system CPU of all workers so far."""
        total = 0
        for pid in self.workers():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / CLOCK_TICKS

    def rss_kib(self) -> dict[int, int]:
        sizes = {}
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                continue
            line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
            sizes[pid] = int(line.split()[1])
        return sizes


def _wait_ready(server: Server, workers: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} server exited with {server.process.returncode}; "
                               "see its log in bench-results/")
        if len(server.workers()) >= workers:
            try:
                # One request per worker, so every worker has imported its code.
                for _ in range(workers * 2):
                    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
                        s.sendall(b"GET /bench-ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                        s.recv(1)
                return
            except OSError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} server did not start within {timeout} s")


@contextmanager
def serve(name: str, target: list[str], env: dict, port: int, workers: int, log: Path,
          cwd: Path = ROOT):
    """gunicorn ``target`` on 127.0.0.1:``port``; stopped (and waited for) on exit.

    gunicorn imports from ``cwd`` first, so another checkout can be measured.
    """
    # The settings file by path: gunicorn.conf.py imports them as a module,
    # which would come from ``cwd``'s checkout, older ones having none.
    command = [GUNICORN, "--config", str(ROOT / "tracee" / "gunicorn_conf.py"),
               "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
               "--no-control-socket", *target]  # two servers at once: no shared socket
    with open(log, "ab") as out:
        process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **env}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(name, process, port)
    try:
        _wait_ready(server, workers)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
