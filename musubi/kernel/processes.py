"""Child processes started and stopped together: ``musubi serve`` (the web server and the worker) and
``musubi worker --processes N`` (N workers side by side).

Each child runs in a session of its own, so a terminal's Ctrl+C reaches only the parent, which then stops the
children in order (otherwise SIGINT would hit them mid-request or mid-batch). If any child exits, the others
are stopped too and the parent exits with the first failure's status: a supervisor such as systemd then sees
the failure and restarts the whole set. SIGINT/SIGTERM stop all of them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence

STOP_SECONDS = 10


def start(command: Sequence[str], *, env: dict[str, str] | None = None,
          die_with_parent: bool = False) -> subprocess.Popen[bytes]:
    """Start ``command`` in a session of its own. ``die_with_parent``: the kernel kills it (SIGKILL) the moment
    this process dies, however it dies (Linux), so a parent killed hard takes its children with it."""
    return subprocess.Popen(list(command), env=env, start_new_session=True,  # noqa: S603 -- our own commands
                            preexec_fn=_kill_me_with_parent if die_with_parent else None)


def _kill_me_with_parent() -> None:
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the children check their parent instead
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def supervise(children: list[subprocess.Popen[bytes]], *, stop_seconds: float = STOP_SECONDS,
              after_start: Callable[[], None] | None = None) -> int:
    """Wait while every child runs; stop them all when one exits or a stop signal comes. Returns the exit
    status the parent should give: 0 when all ended cleanly (or by the SIGTERM sent to them), else the
    largest failure's."""

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if after_start is not None:
        after_start()
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        stop()
        deadline = time.monotonic() + stop_seconds
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    codes = [child.returncode for child in children]
    failures = [abs(code) for code in codes if code not in (0, -signal.SIGTERM, None)]
    return max(failures) if failures else 0


def parent_gone(parent: int) -> bool:
    """Whether the process that started this one has exited (this one was handed to another parent)."""
    return os.getppid() != parent
