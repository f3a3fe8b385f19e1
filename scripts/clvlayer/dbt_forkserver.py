"""A fork server for the dbt child processes of a process that runs many dbt invocations (the test suite).

Every dbt invocation runs in a child process (clvlayer.dbt_runner). A fresh child spends 2-4 CPU s importing dbt,
dbt-duckdb, DuckDB, pandas, numpy, scipy and the model library before dbt starts: across the ~100 builds of
`make test` that is a sixth of the suite's CPU. With CLV_DBT_FORK_SERVER=1 (set by tests/python/conftest.py), the
first invocation starts one server process that imports all that once; each invocation after is a fork of it, so
it starts with the modules loaded and nothing else shared: a forked child runs exactly what a spawned one runs
(clvlayer.dbt_runner's child main), with the invocation's environment, working directory and standard streams.

Kept from the spawned child: the child dies with its parent (the server dies with its client, the child with the
server: PR_SET_PDEATHSIG both times), runs in a process group of its own, which the client kills when interrupted,
and its pid is reported before dbt starts (the build's dbt.pid). Not used, and the child spawned as before, when the
server is busy (another thread of the client is running dbt), when the invocation's import-time environment
(IMPORT_ENV) differs from the server's, or when the server is gone or refused to start (e.g. a library started a
thread at import: forking a threaded process is unsafe).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path

from clvlayer.project import PROJECT_ROOT

ENABLE_ENV = "CLV_DBT_FORK_SERVER"
# read when the interpreter or a library loads (thread pools, hash seed, import path, time zone, locale; CLV_THREADS:
# clvlayer.btyd reads it at import, and the server preloads it), so a server serves only invocations that agree
# with it on these
IMPORT_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED", "PYTHONPATH", "TZ",
              "LANG", "LC_ALL", "LC_CTYPE", "CLV_THREADS")
CHILD_MAIN = "clvlayer.dbt_runner:_child_main"
# pandas and the model library (imported by every build's Python models, ~0.7 CPU s a child) load pyarrow, whose
# jemalloc starts a background thread unless told not to (NO_BACKGROUND_THREAD, set in the server before it imports;
# a server that still ends with a thread refuses, and the client spawns as before)
PRELOAD = ("dbt.cli.main", "dbt.adapters.duckdb", "dbt.task.build", "dbt.parser.manifest", "agate", "duckdb",
           "numpy", "scipy.special", "scipy.optimize", "scipy.stats", "clvlayer.dbt_runner", "pandas",
           "clvlayer.clv_models", "clvlayer.dbt_plugin")
NO_BACKGROUND_THREAD = {"JE_ARROW_MALLOC_CONF": "background_thread:false"}


def enabled(env: Mapping[str, str]) -> bool:
    return env.get(ENABLE_ENV, "") == "1"


# ----------------------------------------------------------------------------------------------- client side


class ServerGone(Exception):
    """The server could not take the invocation; nothing ran (the caller spawns the child instead)."""


class ForkServer:
    """The client's handle on its server process (one per client process, started on first use)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.key = _import_env(env)
        self.socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.lock = threading.Lock()
        self.process = _start_in_keeper_thread([sys.executable, "-m", "clvlayer.dbt_forkserver",
                                                str(theirs.fileno())], env, theirs)
        theirs.close()
        try:
            self.ready = self._read().get("ready") is True
        except BaseException:
            self._abandon(None)
            raise

    def _read(self) -> dict:
        message = self.socket.recv(1 << 16)
        if not message:
            raise ServerGone("the dbt fork server has gone")
        return json.loads(message)

    def usable(self, env: Mapping[str, str]) -> bool:
        return self.ready and self.process.poll() is None and _import_env(env) == self.key

    def run(self, command: list[str], *, env: Mapping[str, str], cwd: Path, pid_file: Path | None,
            main: str = CHILD_MAIN) -> int:
        """Run `main(command[0], command[1:])` (the dbt child main) in a fork of the server; its exit code.
        ServerGone when the server could not take it (nothing ran); once the request is sent, any error or
        interrupt ends the server, and with it the child (PR_SET_PDEATHSIG), before it is raised."""
        request = json.dumps({"command": command, "env": dict(env), "cwd": str(cwd), "main": main}).encode()
        try:
            socket.send_fds(self.socket, [request], [0, 1, 2])
        except OSError as error:
            raise ServerGone(str(error)) from error
        pid = None
        try:
            pid = int(self._read()["pid"])
            if pid_file is not None:
                pid_file.write_text(str(pid))
            return int(self._read()["returncode"])
        except BaseException as error:
            self._abandon(pid)
            if isinstance(error, ServerGone) and pid is not None:
                raise RuntimeError(f"the dbt fork server died while dbt ran (pid {pid})") from error
            raise

    def _abandon(self, pid: int | None) -> None:
        """Never use this server again: kill the child's group and the server (the child dies with it), reap it."""
        self.ready = False
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()
        self.socket.close()


def _start_in_keeper_thread(command: list[str], env: Mapping[str, str], theirs: socket.socket) -> subprocess.Popen:
    """Start the server from a thread that lives as long as this process: PR_SET_PDEATHSIG fires when the thread
    that started a child ends, and the thread that first runs dbt may end long before the process does."""
    from clvlayer.dbt_runner import _die_with_parent

    started: list[subprocess.Popen | BaseException] = []
    done = threading.Event()

    def keep() -> None:
        try:
            started.append(subprocess.Popen(command, cwd=PROJECT_ROOT, env=dict(env), pass_fds=[theirs.fileno()],
                                            preexec_fn=_die_with_parent(os.getpid())))
        except BaseException as error:  # noqa: BLE001 - handed to the starting thread
            started.append(error)
        done.set()
        threading.Event().wait()

    threading.Thread(target=keep, name="dbt-fork-server", daemon=True).start()
    done.wait()
    if isinstance(started[0], BaseException):
        raise started[0]
    return started[0]


_SERVER: ForkServer | None = None
_START_LOCK = threading.Lock()


@atexit.register
def _stop() -> None:
    """At the client's exit, end the server by closing its socket and wait for it (its CPU then counts as this
    process's children's, as the spawned children's did)."""
    if _SERVER is not None and _SERVER.process.poll() is None:
        _SERVER.socket.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            _SERVER.process.wait(timeout=10)


_FAILED_TO_START = False


def run_forked(command: list[str], *, env: Mapping[str, str], cwd: Path, pid_file: Path | None,
               main: str = CHILD_MAIN) -> int | None:
    """Run `python -m clvlayer.dbt_runner <command>` as a fork of this process's server; None when the server cannot
    take it (the caller spawns the child instead)."""
    global _SERVER, _FAILED_TO_START
    with _START_LOCK:
        if _FAILED_TO_START:
            return None
        if _SERVER is None or (_SERVER.ready and _SERVER.process.poll() is not None):
            try:
                _SERVER = ForkServer(env)
            except (OSError, ServerGone, ValueError):
                _FAILED_TO_START = True  # this process does not pay for another start
                return None
        server = _SERVER  # a server that refused to start is kept: this process does not try again
    if not server.usable(env) or not server.lock.acquire(blocking=False):
        return None
    try:
        return server.run(command, env=env, cwd=cwd, pid_file=pid_file, main=main)
    except ServerGone:
        return None
    finally:
        server.lock.release()


def _import_env(env: Mapping[str, str]) -> tuple[str | None, ...]:
    return tuple(env.get(name) for name in IMPORT_ENV)


# ----------------------------------------------------------------------------------------------- server side


def _preload() -> bool:
    """Import what a dbt child imports; False if that left the process with more than one thread."""
    for name, value in NO_BACKGROUND_THREAD.items():
        os.environ.setdefault(name, value)
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    _compile_manifest_serializers()
    _build_config_schemas()
    return len(os.listdir("/proc/self/task")) == 1


# the classes whose JSON schema every dbt invocation validates its project, profile, hooks and selectors against
CONFIG_SCHEMAS = ("dbt.contracts.project:Project", "dbt.contracts.project:ProjectFlags",
                  "dbt.contracts.project:PackageConfig", "dbt.adapters.duckdb.credentials:DuckDBCredentials",
                  "dbt.artifacts.resources:Hook", "dbt.config.selectors:SelectorFile")


def _build_config_schemas() -> None:
    """Build, once in the server, the JSON schemas dbt validates its configuration against: dbt builds each class's
    schema on first use and keeps it for the process (an lru_cache), so every forked child built the same ones again
    (~0.3-0.7 s of each child in a profile)."""
    for path in CONFIG_SCHEMAS:
        module, name = path.split(":")
        with contextlib.suppress(Exception):  # a cache only: a class not found is built by the children
            getattr(importlib.import_module(module), name).json_schema()


def _compile_manifest_serializers(states: Path | None = None) -> None:
    """Have mashumaro build the (de)serializers of dbt's manifest classes here, once, so the forked children inherit
    them: it builds each class's code on first use, and every child reads its parse state (msgpack) and writes
    manifest.json, so each one built the same code again (~0.6 CPU s of a 6-8 CPU s build of the hand-made
    tables). The project's newest saved parse state (in `states`, default clvlayer.dbt_runner.PARSE_CACHE) is read
    and written once and dropped; with none yet, or one that does not load, the children build the code themselves
    as before."""
    from clvlayer.dbt_runner import PARSE_CACHE

    with contextlib.suppress(Exception):  # a cache only: whatever fails here, the children do it themselves
        from dbt.contracts.graph.manifest import Manifest
        from dbt.parser.manifest import extended_mashumaro_encoder, extended_mashumuro_decoder

        saved = sorted((states or PARSE_CACHE).glob("*.msgpack"), key=lambda path: path.stat().st_mtime)
        if not saved:
            return
        manifest = Manifest.from_msgpack(saved[-1].read_bytes(), decoder=extended_mashumuro_decoder)
        manifest.fill_tracking_metadata = lambda: None  # reads dbt's flags, which the server has not set
        manifest.writable_manifest().to_dict(omit_none=False, context={"artifact": True})  # manifest.json
        manifest.to_msgpack(extended_mashumaro_encoder)  # the parse state


def _child(connection: socket.socket, request: dict, fds: list[int], server_pid: int) -> None:
    """In the forked child: become what a spawned dbt child is, run it, and exit the way it does (SystemExit, so
    the exit handlers run: dbt-duckdb's closes the DuckDB connection, which checkpoints the WAL)."""
    import time

    from clvlayer.dbt_runner import _die_with_parent

    try:
        _die_with_parent(server_pid)()
        with contextlib.suppress(PermissionError):
            os.setpgid(0, 0)  # the server sets it too: whoever is first
        connection.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        module, function = request["main"].split(":")
        code = getattr(importlib.import_module(module), function)(request["command"][0], request["command"][1:])
    except SystemExit:
        raise  # the main's own exit: the same normal exit
    except BaseException:  # noqa: BLE001 - the child must exit here whatever happened, never return to the loop
        traceback.print_exc()
        os._exit(1)
    sys.exit(code)


def _probe(report: str, args: list[str]) -> int:
    """A child main for the tests (tests/python/test_dbt_forkserver.py): what a forked child sees - its working
    directory, the environment variables named in `args`, its process group - written to `report`, and a line on
    its standard output. Exits with the code in CLV_PROBE_EXIT (0)."""
    Path(report).write_text(json.dumps({"cwd": os.getcwd(), "env": {name: os.environ.get(name) for name in args},
                                        "pgid": os.getpgid(0), "pid": os.getpid()}))
    print("probe: hello from the forked child", flush=True)
    return int(os.environ.get("CLV_PROBE_EXIT", "0"))


def _serve(connection: socket.socket) -> None:
    def reply(message: dict) -> None:
        connection.send(json.dumps(message).encode())

    ready = _preload()
    reply({"ready": ready})
    while ready:
        message, fds, _flags, _addr = socket.recv_fds(connection, 1 << 20, 3)
        if not message:
            return  # the client closed its end
        server_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            _child(connection, json.loads(message), fds, server_pid)
        with contextlib.suppress(PermissionError, ProcessLookupError):
            os.setpgid(pid, pid)  # before the pid is reported: the client can kill the group at once
        for fd in fds:
            os.close(fd)
        reply({"pid": pid})
        _, status = os.waitpid(pid, 0)
        reply({"returncode": os.waitstatus_to_exitcode(status)})


if __name__ == "__main__":
    _serve(socket.socket(fileno=int(sys.argv[1])))
