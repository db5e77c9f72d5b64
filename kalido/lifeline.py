"""Stage processes (db.in_fresh_process) that die with the process that started them and import
nothing from the working directory.

A stage process is forked by a fork server, itself started by the run. Killed hard (kill -9,
out of memory), the run would leave both behind, holding the restricted database open; on Linux
each one asks the kernel to kill it when its parent dies (PR_SET_PDEATHSIG), the fork server
when the run dies, the stage process when the fork server dies. Elsewhere this is a no-op.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from contextlib import contextmanager
from multiprocessing import forkserver

PR_SET_PDEATHSIG = 1
# Set only while a process starts its fork server, to that process's pid: the fork server imports
# this module first (db.FORKSERVER_PRELOAD) and arms itself against that parent.
PARENT_VARIABLE = "KALIDO_FORKSERVER_PARENT"
# The level of kalido's own loggers, which the CLI sets (-v: INFO) so that stage processes,
# started with its environment, log like it does.
LOG_LEVEL_VARIABLE = "KALIDO_LOG_LEVEL"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str | None = None) -> None:
    """Log kalido's loggers at `level` (default KALIDO_LOG_LEVEL; unset: leave logging alone)
    on stderr. Only kalido's: other libraries stay at WARNING, as their debug output (SQL,
    request bodies) could quote personal data, which kalido's own lines never do."""
    level = level or os.environ.get(LOG_LEVEL_VARIABLE)
    if not level:
        return
    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    logging.getLogger("kalido").setLevel(level.upper())


def die_with_parent() -> None:
    """Be killed (SIGKILL) when the parent process dies; also the stage pool's initializer."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the interpreter's own symbols: libc's
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return


@contextmanager
def environment(**values: str):
    """os.environ with `values` set, and as it was again afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def start_forkserver() -> None:
    """Start the fork server (and multiprocessing's resource tracker) unless running. Both are
    `python -c ...` processes, whose sys.path starts with the working directory: a
    `concurrent.py` there would run inside every stage. PYTHONSAFEPATH leaves it out."""
    with environment(PYTHONSAFEPATH="1", **{PARENT_VARIABLE: str(os.getpid())}):
        forkserver.ensure_running()


_parent = os.environ.pop(PARENT_VARIABLE, None)  # its own children must not see it
if _parent is not None:
    # The fork server, as it starts. A parent killed before this line would not be watched: the
    # fork server would still serve the request already in its socket, and that process, its
    # parent gone, would live on. So it checks, once armed, that its parent is still the same.
    die_with_parent()
    if str(os.getppid()) != _parent:
        os._exit(1)
