"""The phases of a long t-SNE fit on stderr, with a time estimate:

    [t-SNE] neighbours (HNSW)    [##########..............]  410000/1000000   31.2 s  eta 45 s
    [t-SNE] early exaggeration   [######..................]     62/250        20.5 s  eta 62 s

A fit that ends within ``delay`` seconds (2) prints nothing; a longer one starts drawing then. On a
terminal a phase's line is redrawn at most 10 times a second; elsewhere (a log file, CI) each
phase writes one line when it ends. The estimate is the phase's own pace: (elapsed / done) x the
steps left.
"""
import sys
import time

_WIDTH = 24


class FitProgress:
    """``start(name, total)`` opens a phase of ``total`` steps (None: steps not counted),
    ``update(done)`` reports steps done, ``finish()`` closes the current phase. ``enabled=False``:
    nothing is written."""

    def __init__(self, enabled=True, delay=2.0, stream=None):
        self.enabled, self.delay = enabled, delay
        self.stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._fit_start = time.perf_counter()
        self._name = None
        self._last_draw = 0.0

    def start(self, name, total=None):
        self.finish()
        self._name, self._total, self._done = name, total, 0
        self._phase_start = time.perf_counter()
        self._draw(final=False)

    def update(self, done):
        self._done = done
        self._draw(final=False)

    def finish(self):
        if self._name is not None:
            if self._total is not None:
                self._done = self._total
            self._draw(final=True)
        self._name = None

    def _draw(self, final):
        if not self.enabled or self._name is None:
            return
        now = time.perf_counter()
        if now - self._fit_start < self.delay or not (final or self._tty) or \
                (not final and now - self._last_draw < 0.1):
            return
        self._last_draw = now
        elapsed = now - self._phase_start
        line = f"[t-SNE] {self._name:<26s}"
        if self._total:
            filled = int(_WIDTH * min(self._done, self._total) / self._total)
            line += f" [{'#' * filled}{'.' * (_WIDTH - filled)}] {self._done:>8d}/{self._total:<8d}"
        line += f" {elapsed:7.1f} s"
        if self._total and 0 < self._done < self._total and not final:
            line += f"  eta {elapsed / self._done * (self._total - self._done):.0f} s"
        self.stream.write(("\r" if self._tty else "") + line + ("\n" if final else "   "))
        self.stream.flush()
