"""t-SNE's progress bar (issue 31): silent on fits shorter than its delay, one line per phase in a
log, the phases of a fit in order, a time estimate on a terminal, and progress_bar=False silent."""
import functools
import io

import numpy as np
import pytest

import tsne
import tsne.approximate_neighbors as approx
from tsne.fit_progress import FitProgress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _phases(text):
    return [line.split("[t-SNE] ")[1][:26].strip() for line in text.splitlines() if "[t-SNE] " in line]


def test_a_log_gets_one_line_per_phase_and_a_terminal_an_estimate():
    log, term = io.StringIO(), _Terminal()
    for stream in (log, term):
        bar = FitProgress(delay=0.0, stream=stream)
        bar.start("early exaggeration", 250)
        bar._last_draw = -1.0  # draw every update, not at most 10 times a second
        bar.update(50)
        bar.start("optimisation", 500)
        bar.finish()
    assert _phases(log.getvalue()) == ["early exaggeration", "optimisation"]
    assert "250/250" in log.getvalue() and "eta" not in log.getvalue()
    assert "50/250" in term.getvalue() and "eta" in term.getvalue() and "\r" in term.getvalue()


def test_nothing_before_the_delay_and_nothing_when_disabled():
    for bar in (FitProgress(delay=60.0, stream=io.StringIO()), FitProgress(False, delay=0.0, stream=io.StringIO())):
        bar.start("optimisation", 10)
        bar.update(5)
        bar.finish()
        assert bar.stream.getvalue() == ""


def _digits(n):
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(0)
    X = load_digits().data
    return X[rng.integers(0, len(X), n)] + rng.normal(0, 1.0, (n, 64))


@pytest.mark.parametrize("neighbors, phases", [
    ("exact", ["neighbours and affinities", "early exaggeration", "optimisation"]),
    ("approx", ["neighbours: HNSW graph", "neighbours: recall", "neighbours: search", "affinities",
                "early exaggeration", "optimisation"]),
])
def test_a_fit_reports_its_phases_in_order(monkeypatch, capsys, neighbors, phases):
    if neighbors == "approx":
        pytest.importorskip("faiss")
    monkeypatch.setattr(tsne.tsne, "FitProgress", functools.partial(FitProgress, delay=0.0))
    tsne.TSNE(method="fft", neighbors=neighbors, max_iter=300, random_state=0).fit(_digits(600))
    assert _phases(capsys.readouterr().err) == phases
    tsne.TSNE(method="fft", neighbors=neighbors, max_iter=300, random_state=0, progress_bar=False).fit(_digits(600))
    assert capsys.readouterr().err == ""


def test_a_short_fit_prints_nothing(capsys):
    tsne.TSNE(max_iter=250, random_state=0).fit(_digits(200))
    assert capsys.readouterr().err == ""
    assert approx.APPROX_FROM > 200
