"""A dependency-free progress bar on stderr for anything that takes more than a few seconds."""
import sys
import time


class progress:
    """Iterate over ``iterable`` while drawing ``desc [#####.....] i/n  12.3s  loss=0.12``.

    ``set_postfix(text)`` changes the trailing text. Redraws at most 10 times a second on a
    terminal; elsewhere (a log file, CI) only the final line is written. ``enabled=False``
    makes it a plain pass-through.
    """

    def __init__(self, iterable, total=None, desc="", enabled=True, width=24, stream=None):
        self.iterable = iterable
        self.total = len(iterable) if total is None and hasattr(iterable, "__len__") else total
        self.desc, self.enabled, self.width = desc, enabled, width
        self.stream = stream or sys.stderr
        self.postfix = ""
        self._last = 0.0

    def set_postfix(self, text):
        self.postfix = text

    def _draw(self, i, final=False):
        now = time.perf_counter()
        if not final and (now - self._last < 0.1 or not self._tty):
            return
        self._last = now
        if self.total:
            filled = int(self.width * i / self.total)
            bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {i}/{self.total}"
        else:
            bar = f"{i}"
        self.stream.write(f"\r{self.desc} {bar} {now - self._start:6.1f}s {self.postfix}")
        if final:
            self.stream.write("\n")
        self.stream.flush()

    def __iter__(self):
        self._start = time.perf_counter()
        self._tty = getattr(self.stream, "isatty", lambda: False)()
        i = 0
        for item in self.iterable:
            yield item
            i += 1
            if self.enabled:
                self._draw(i)
        if self.enabled:
            self._draw(i, final=True)
