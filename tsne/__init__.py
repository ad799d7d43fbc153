"""t-SNE (van der Maaten & Hinton 2008), its Barnes-Hut approximation (van der Maaten 2014) and
FFT-accelerated interpolation (FIt-SNE, Linderman et al. 2019).

Depends on NumPy and Numba (the FFT method uses scipy.fft when installed, as it is with
scikit-learn). scikit-learn is loaded only for what it computes here: metrics other than the
Euclidean ones and sparse data (``distances.py``), and non-default output containers
(``estimator_api.py``); ``import tsne`` and a default fit do without it. ``TSNE`` is a drop-in
for ``sklearn.manifold.TSNE``; each step is also usable alone to check a formula:

- ``conditional_probabilities`` / ``joint_probabilities`` / ``joint_probabilities_nn``: p_j|i with
  the Gaussian precision found by binary search so that 2^H(P_i) = perplexity, and
  p_ij = (p_j|i + p_i|j) / 2n, dense or over the nearest neighbours;
- ``nearest_neighbors``: exact kNN by blocked BLAS distances; ``approximate_nearest_neighbors``: an HNSW
  graph (faiss) whose recall is measured and widened to >= 0.99, for large data;
- ``kl_divergence``: KL(P || Q) and its exact gradient; ``kl_divergence_bh``: the Barnes-Hut
  gradient with a quadtree (2-D) or octree (3-D), a 1-D map as the 2-D one on a line;
  ``kl_divergence_fft``: the repulsion interpolated on a regular grid and summed by FFT (1-D or 2-D);
- ``pca``: principal components by SVD.

and, as openTSNE's API, fits in phases one can inspect and continue: ``PerplexityBasedNN`` /
``Uniform`` / ``Affinities`` (P), ``prepare_initial`` (pca, random or ``spectral_embedding``), and
``TSNEEmbedding.optimize(n_iter, exaggeration, momentum, learning_rate)``; ``choose_perplexity``
picks the perplexity by pBIC (Cao and Wang 2017).
"""
import os

import numba

if "NUMBA_THREADING_LAYER" not in os.environ:
    # OpenMP's spinning after parallel regions starves BLAS threads (PERF-NOTES): use workqueue
    numba.config.THREADING_LAYER = "workqueue"

from tsne.affinities import (SparseAffinities, joint_probabilities, joint_probabilities_nn,  # noqa: E402
                             uniform_affinities_nn)
from tsne.approximate_neighbors import approximate_nearest_neighbors  # noqa: E402
from tsne.barnes_hut import kl_divergence_bh  # noqa: E402
from tsne.embedding import (Affinities, PerplexityBasedNN, TSNEEmbedding, Uniform, initial_map,  # noqa: E402
                            prepare_initial)
from tsne.fft_interpolation import kl_divergence_fft  # noqa: E402
from tsne.kl import kl_divergence  # noqa: E402
from tsne.neighbors import nearest_neighbors, squared_distances  # noqa: E402
from tsne.optimizer import TSNEDiverged  # noqa: E402
from tsne.pbic import choose_perplexity, pbic  # noqa: E402
from tsne.pca import pca  # noqa: E402
from tsne.perplexity import conditional_probabilities  # noqa: E402
from tsne.spectral_init import spectral_embedding  # noqa: E402
from tsne.tsne import TSNE  # noqa: E402

__all__ = ["Affinities", "PerplexityBasedNN", "SparseAffinities", "TSNE", "TSNEDiverged", "TSNEEmbedding",
           "Uniform", "approximate_nearest_neighbors", "choose_perplexity", "conditional_probabilities",
           "initial_map", "joint_probabilities", "joint_probabilities_nn", "kl_divergence",
           "kl_divergence_bh", "kl_divergence_fft", "nearest_neighbors", "pbic", "pca", "prepare_initial",
           "spectral_embedding", "squared_distances", "uniform_affinities_nn"]
