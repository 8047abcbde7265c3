"""Hold SIGINT and SIGTERM back while a run's outcome is written, so a finished run is committed whatever arrives.

Why: committing a run is three writes (its model file, its row, removing its checkpoint). Ctrl-C or a SIGTERM
between them loses a finished run: a model file with no row, or a row released while its model stays. Inside
:func:`deferred_signals` those signals are only noted; when the block ends the previous handlers are put back
and each noted signal is delivered again, so the process then stops exactly as it would have, with the run
committed. Python runs signal handlers in the main thread only and only it may change them, so elsewhere the block
runs as it is (the commits metareg makes run in a process's main thread: a serial run, a worker process, the
runner committing a Ray task's result).
"""
from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

#: the signals a commit holds back
HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def deferred_signals(redeliver: bool = True) -> Iterator[None]:
    """SIGINT and SIGTERM only noted inside the block, and delivered again after it (``redeliver=False``: dropped,
    for a clean-up that already runs because the process is stopping, so a second Ctrl-C cannot cut it short)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: noted.append(signum)) for sig in HELD}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(noted) if redeliver else ():  # each once, in the order they came
            os.kill(os.getpid(), sig)
