"""Peak resident memory of this process over a block of code, sampled from /proc."""

from __future__ import annotations

import threading
import time
from types import TracebackType


def current_rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc/self/statm)."""
    with open("/proc/self/statm") as stream:
        resident_pages = int(stream.read().split()[1])
    import os

    return resident_pages * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Context manager that samples RSS every ``interval`` seconds and keeps the peak."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.start = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, current_rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self.start = current_rss_bytes()
        self.peak = self.start
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss_bytes())

    @property
    def increase(self) -> int:
        return self.peak - self.start
