"""Choosing the perplexity by pBIC (Cao & Wang 2017, "Automatic selection of t-SNE perplexity", arXiv:1708.03229):

    S(perp) = 2 KL(P || Q) + log(n) perp / n,

a Bayesian-information-like trade-off: the KL of the fitted map always falls as the perplexity grows
(the affinities get flatter and easier to match), and perp / n stands in for the model's complexity
(the effective number of neighbours each point is fitted to, as a fraction of the data). The
perplexity with the smallest S on a grid is chosen; the paper reports it close to what people
pick by eye.
"""
from typing import NamedTuple

import numpy as np

from tsne.input_checks import count
from tsne.tsne import TSNE


class PerplexityChoice(NamedTuple):
    """The grid's result: the chosen ``perplexity``; per grid value (in the order given) its
    ``pbic`` and ``kl_divergence``; and the chosen fit's ``embedding`` (n, n_components)."""

    perplexity: float
    perplexities: np.ndarray
    pbic: np.ndarray
    kl_divergence: np.ndarray
    embedding: np.ndarray


def pbic(kl_divergence, perplexity, n_samples):
    """S = 2 KL + log(n) perp / n (Cao & Wang 2017) for a map of n_samples points whose
    final KL(P || Q) is ``kl_divergence`` at ``perplexity``. Floats or arrays of equal shape -> the same."""
    n = count(n_samples, "n_samples", 2)
    return 2.0 * np.asarray(kl_divergence, dtype=np.float64) + np.log(n) * np.asarray(perplexity, np.float64) / n


def choose_perplexity(X, perplexities=(5.0, 10.0, 20.0, 30.0, 50.0), **tsne_params):
    """Fit ``TSNE(perplexity=p, **tsne_params)`` to X for each p of ``perplexities`` and keep the one
    with the smallest ``pbic`` of its ``kl_divergence_``.

    Parameters
    ----------
    X : (n, n_features), as ``TSNE.fit`` takes it
    perplexities : non-empty sequence of floats, each > 0 and < n
    tsne_params : the other ``TSNE`` parameters, the same for every fit (give ``random_state`` so
        that the grid's maps differ only by their perplexity)

    Returns
    -------
    PerplexityChoice. Of equal scores the first in the grid is kept.
    """
    if "perplexity" in tsne_params:
        raise TypeError("perplexity: choose_perplexity takes the grid as `perplexities`, not `perplexity`")
    grid = np.asarray(perplexities, dtype=np.float64) if np.ndim(perplexities) == 1 else None
    if grid is None or len(grid) == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise ValueError(f"perplexities: expected a non-empty sequence of finite values > 0, got {perplexities!r}")
    kls, best, best_map = [], None, None
    for k, p in enumerate(grid):
        est = TSNE(perplexity=float(p), **tsne_params)
        Y = np.asarray(est.fit_transform(X))
        kls.append(est.kl_divergence_)
        score = pbic(est.kl_divergence_, p, len(Y))
        if best is None or score < best[0]:
            best, best_map = (score, k), Y
    kls = np.array(kls)
    return PerplexityChoice(float(grid[best[1]]), grid, pbic(kls, grid, len(best_map)), kls, best_map)
