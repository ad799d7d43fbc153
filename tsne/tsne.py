"""``TSNE``: the estimator, with scikit-learn's parameter names, defaults and attributes."""
import inspect
import time

import numpy as np

from tsne.affinities import affinities_from_data
from tsne.barnes_hut import kl_divergence_bh
from tsne.fft_interpolation import kl_divergence_fft
from tsne.kl import kl_divergence
from tsne.locality_order import morton_order, permuted
from tsne.optimizer import gradient_descent
from tsne.parameter_constraints import threads as n_threads
from tsne.parameter_constraints import TRANSFORM_CONSTRAINTS, validate_params
from tsne.pca import pca
from tsne.transform import embed_new_points

_EXPLORATION_MAX_ITER = 250
_N_ITER_CHECK = 50


def _samples(X):
    """X as a float64 (n_samples, n_features) array of finite numbers, or a TypeError/ValueError
    naming X (shared by fit and transform)."""
    X = np.asarray(X)
    if X.dtype == object or not np.issubdtype(X.dtype, np.number):
        raise TypeError(f"X: expected a numeric array, got dtype {X.dtype}")
    X = X.astype(np.float64)
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D array (n_samples, n_features), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"X: contains NaN or inf ({int(np.sum(~np.isfinite(X)))} values)")
    return X


class TSNE:
    """t-distributed Stochastic Neighbor Embedding (van der Maaten & Hinton 2008), exact,
    Barnes-Hut (van der Maaten 2014) or FFT-accelerated interpolation (Linderman et al. 2019).
    A drop-in for ``sklearn.manifold.TSNE`` (1.9), with openTSNE's names for the FFT settings.

    Parameters
    ----------
    n_components : int, 2 (or 3; any with method='exact')
    perplexity : float, default 30; must be < n_samples. A list of floats gives multiscale
        affinities (Lee et al. 2015): the mean of the conditional p_j|i at each perplexity
    early_exaggeration : float, default 12, applied for the first 250 iterations
    exaggeration : None or float > 0, P's factor after the early phase (openTSNE's name; None is 1).
        Values above 1 tighten clusters (Linderman & Steinerberger 2019; Böhm et al. 2022)
    learning_rate : float or 'auto'. 'auto' is scikit-learn's max(n_samples / early_exaggeration / 4, 50)
        in both phases, except with method='fft', which follows openTSNE (FIt-SNE's home): n_samples /
        (4 x the phase's exaggeration), i.e. n / (4 early_exaggeration) early and n / 4 after
        (Belkina et al. 2019; the 4 because this gradient keeps the factor openTSNE's leaves out).
        The interpolated gradient is noisy near convergence; the larger late steps get past it:
        KL on digits 0.737 -> 0.707 (openTSNE 0.709), digits grown to 10k 1.172 -> 1.087 (1.093)
    max_iter : int >= 250, default 1000
    n_iter_without_progress : int, default 300
    min_grad_norm : float, default 1e-7
    metric : 'euclidean' or 'precomputed' (a square matrix of non-negative distances)
    init : 'pca', 'random' or an array (n_samples, n_components); 'pca' is scaled so that the
        first component has standard deviation 1e-4, as scikit-learn does
    method : 'barnes_hut' (default), 'exact' or 'fft' (1 or 2 components; ``tsne/fft_interpolation.py``)
    angle : float, default 0.5, the Barnes-Hut trade-off
    dof : None or float > 0, the kernel's degrees of freedom as in openTSNE (Kobak et al. 2019):
        q_ij ~ (1 + |y_i - y_j|^2 / dof)^-dof; below 1 the tails get heavier and clusters split
        finer. None: scikit-learn's Student t with max(n_components - 1, 1) degrees of freedom,
        (1 + d^2 / a)^-(a + 1) / 2. Both are the Cauchy kernel at 1, so dof=1 is the 2-D default
    n_interpolation_points : int >= 1, default 3, Lagrange nodes per box and dimension ('fft')
    min_num_intervals : int >= 1, default 50, boxes per dimension at least ('fft')
    ints_in_interval : float > 0, default 1, the box width once the embedding spans more than
        ``min_num_intervals`` of them ('fft')
    random_state : None, int or numpy Generator (used by init='random')
    verbose : int, progress messages like scikit-learn's
    n_jobs : None or a non-zero int, threads of the Numba kernels: k > 0 uses k, -1 all cores, -2 all
        but one (joblib's convention); None keeps Numba's setting (all cores; joblib means one)
    callback : callable(iteration, Y, kl) or None, called every ``callback_every`` iterations
        with a copy of the embedding (to animate the optimisation)
    callback_every : int >= 1, default 50

    Every parameter is checked as scikit-learn's ``_parameter_constraints`` say
    (``tsne/parameter_constraints.py``) before any work.

    Attributes
    ----------
    embedding_ : (n_samples, n_components) float64
    kl_divergence_ : float, KL(P || Q) of the *final* embedding, with P unexaggerated:
        exact for method='exact'; for 'barnes_hut', summed over the non-zeros of the sparse P
        with Z estimated by the tree at ``angle`` (scikit-learn instead reports the value
        computed one step before the last update)
    n_iter_ : int, index of the last iteration run
    learning_rate_ : float, the learning rate of the last phase
    n_features_in_ : int
    """

    def __init__(self, n_components=2, *, perplexity=30.0, early_exaggeration=12.0, learning_rate="auto",
                 exaggeration=None, max_iter=1000, n_iter_without_progress=300, min_grad_norm=1e-7, metric="euclidean",
                 init="pca", method="barnes_hut", angle=0.5, dof=None, random_state=None, verbose=0, n_jobs=None,
                 callback=None, callback_every=50, n_interpolation_points=3, min_num_intervals=50,
                 ints_in_interval=1.0):
        self.n_components = n_components
        self.perplexity = perplexity
        self.early_exaggeration = early_exaggeration
        self.exaggeration = exaggeration
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.n_iter_without_progress = n_iter_without_progress
        self.min_grad_norm = min_grad_norm
        self.metric = metric
        self.init = init
        self.method = method
        self.angle = angle
        self.dof = dof
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.callback = callback
        self.callback_every = callback_every
        self.n_interpolation_points = n_interpolation_points
        self.min_num_intervals = min_num_intervals
        self.ints_in_interval = ints_in_interval

    def get_params(self, deep=True):
        """The constructor's parameters and their values (scikit-learn's estimator API)."""
        return {k: getattr(self, k) for k in inspect.signature(type(self).__init__).parameters if k != "self"}

    def set_params(self, **params):
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"set_params: unknown parameter {k!r}; valid: {sorted(valid)}")
            setattr(self, k, v)
        return self

    def __repr__(self):
        return f"TSNE(n_components={self.n_components}, perplexity={self.perplexity}, method={self.method!r})"

    # --- validation -------------------------------------------------------------------
    def _validate(self, X):
        validate_params(self.get_params())
        if self.method == "barnes_hut" and self.n_components not in (2, 3):
            raise ValueError(f"n_components: 'barnes_hut' supports 2 or 3 components (quadtree/octree), "
                             f"got {self.n_components}; use method='exact'")
        if self.method == "fft" and self.n_components not in (1, 2):
            raise ValueError(f"n_components: 'fft' supports 1 or 2 components (the interpolation grid), "
                             f"got {self.n_components}; use method='barnes_hut' or 'exact'")
        X = _samples(X)
        if X.shape[0] < 2:
            raise ValueError(f"X: t-SNE needs at least 2 samples, got {X.shape[0]}")
        if X.shape[1] == 0:
            raise ValueError("X: has no features (shape (n, 0))")
        if self.metric == "precomputed":
            if X.shape[0] != X.shape[1]:
                raise ValueError(f"X: a precomputed distance matrix must be square, got shape {X.shape}")
            if X.min() < 0:
                raise ValueError("X: a precomputed distance matrix must be non-negative")
            if isinstance(self.init, str) and self.init == "pca":
                raise ValueError("init: 'pca' cannot be used with metric='precomputed'; use 'random' or an array")
        if not 0 < np.max(self.perplexity) < X.shape[0]:
            raise ValueError(f"perplexity: must be less than n_samples ({X.shape[0]}) and positive, "
                             f"got {self.perplexity}")
        if isinstance(self.init, str):
            if self.init not in ("pca", "random"):
                raise ValueError(f"init: expected 'pca', 'random' or an array, got {self.init!r}")
        else:
            init = np.asarray(self.init, dtype=np.float64)
            if init.shape != (X.shape[0], self.n_components):
                raise ValueError(f"init: expected an array of shape {(X.shape[0], self.n_components)}, "
                                 f"got {init.shape}")
            if not np.all(np.isfinite(init)):
                raise ValueError("init: contains NaN or inf")
            if np.all(init == init[0]):
                raise ValueError("init: every point starts at the same position, where the gradient is zero "
                                 "by symmetry and nothing would move; give distinct starting points")
        if self.metric == "euclidean" and np.all(X == X[0]):
            raise ValueError(f"X: all {X.shape[0]} samples are identical: there is no structure to embed "
                             f"(and init='pca' would divide by a zero standard deviation)")
        return X

    def _initial_embedding(self, X):
        if isinstance(self.init, str) and self.init == "pca":
            Y = pca(X, self.n_components)
            return Y / np.std(Y[:, 0]) * 1e-4
        if isinstance(self.init, str):
            rng = self.random_state if isinstance(self.random_state, (np.random.Generator, np.random.RandomState)) \
                else np.random.default_rng(self.random_state)
            return 1e-4 * rng.standard_normal((X.shape[0], self.n_components))
        return np.array(self.init, dtype=np.float64)

    # --- fitting ---------------------------------------------------------------------------
    def fit_transform(self, X, y=None):
        """Embed X (n_samples, n_features), or a distance matrix with metric='precomputed'.
        Returns the embedding (n_samples, n_components)."""
        import numba

        X = self._validate(X)
        n = X.shape[0]
        self.n_features_in_ = X.shape[1]
        self._reference = X if self.metric == "euclidean" else None  # for transform
        threads = numba.get_num_threads()
        numba.set_num_threads(n_threads(self.n_jobs, numba.config.NUMBA_NUM_THREADS) if self.n_jobs is not None
                              else threads)
        try:
            self.embedding_ = self._fit(X, n)
        finally:
            numba.set_num_threads(threads)
        return self.embedding_

    def fit(self, X, y=None):
        self.fit_transform(X)
        return self

    def transform(self, X, perplexity=5.0, n_iter=250, learning_rate=0.1, exaggeration=1.5, momentum=0.8,
                  max_grad_norm=0.25):
        """Place new points X (n_new, n_features) into the fitted embedding, which stays as it is
        (openTSNE's ``transform``, with its defaults; ``tsne/transform.py``). -> (n_new, n_components).

        The repulsion is summed exactly over the reference points, or interpolated by FFT for 1 or 2
        components and more than 10^7 new-reference pairs (unless method='exact')."""
        reference = getattr(self, "_reference", None)
        if reference is None:
            if hasattr(self, "embedding_"):
                raise ValueError("transform: the embedding was fitted with metric='precomputed'; new points "
                                 "need the data's features (fit with metric='euclidean')")
            raise ValueError("transform: this TSNE is not fitted yet; call fit(X) first")
        validate_params(dict(perplexity=perplexity, n_iter=n_iter, learning_rate=learning_rate,
                             exaggeration=exaggeration, momentum=momentum, max_grad_norm=max_grad_norm),
                        TRANSFORM_CONSTRAINTS)
        X = _samples(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X: expected shape (n_samples, {self.n_features_in_}) (the fitted data's features), "
                             f"got {X.shape}")
        if len(X) == 0:
            raise ValueError("X: no samples (shape (0, n_features))")
        if not perplexity < len(reference):
            raise ValueError(f"perplexity: must be less than the {len(reference)} reference points, got {perplexity}")
        dof, exponent = self._kernel()
        fft_params = dict(n_interpolation_points=self.n_interpolation_points, min_num_intervals=self.min_num_intervals,
                          ints_in_interval=self.ints_in_interval)
        return embed_new_points(X, reference, self.embedding_, perplexity, dof, exponent, n_iter, learning_rate,
                                exaggeration, momentum, max_grad_norm, use_fft=self.method != "exact",
                                fft_params=fft_params)

    def _kernel(self):
        """(dof, exponent): scikit-learn's Student t (exponent None), or openTSNE's (1 + d^2 / dof)^-dof."""
        return (max(self.n_components - 1, 1), None) if self.dof is None else (self.dof, self.dof)

    def _fit(self, X, n):
        auto = isinstance(self.learning_rate, str)
        if auto and self.method == "fft":  # openTSNE's n / exaggeration per phase, in this gradient's scale
            early_rate, self.learning_rate_ = n / self.early_exaggeration / 4, n / (self.exaggeration or 1) / 4
        else:
            self.learning_rate_ = max(n / self.early_exaggeration / 4, 50) if auto else float(self.learning_rate)
            early_rate = self.learning_rate_
        t0 = time.perf_counter()
        P = affinities_from_data(X, self.perplexity, self.method, self.metric)
        if self.verbose:
            print(f"[t-SNE] Computed conditional probabilities for sample {n} / {n} "
                  f"({time.perf_counter() - t0:.3f}s)")
        dof, exponent = self._kernel()
        exact = self.method == "exact"

        def objective_for(P):
            kernel = dict(dof=dof, exponent=exponent)
            if exact:
                return lambda Y, compute_error: kl_divergence(P, Y, compute_error=compute_error, **kernel)
            if self.method == "fft":
                return lambda Y, compute_error: kl_divergence_fft(
                    P, Y, compute_error=compute_error, n_interpolation_points=self.n_interpolation_points,
                    min_num_intervals=self.min_num_intervals, ints_in_interval=self.ints_in_interval, **kernel)
            return lambda Y, compute_error: kl_divergence_bh(P, Y, self.angle, compute_error=compute_error, **kernel)

        Y = self._initial_embedding(X)
        callback = self.callback
        order = None
        if not exact and not (isinstance(self.init, str) and self.init == "random"):
            # run on the points in an order that keeps neighbours together in memory (a random
            # initial map carries no such order); the caller sees the data's order
            order = morton_order(Y)
            P, Y = permuted(P, order), Y[order]
            if callback is not None:
                callback = lambda i, Y_run, error: self.callback(i, _unpermuted(Y_run, order), error)  # noqa: E731
        state = {"update": np.zeros_like(Y), "gains": np.ones_like(Y)}
        common = dict(min_grad_norm=self.min_grad_norm,
                      n_iter_check=_N_ITER_CHECK, verbose=self.verbose, callback=callback,
                      callback_every=self.callback_every, state=state)
        # the dense O(n^2) loop is bound by reading P: iterate on a float32 copy, report with float64
        P_run = P.astype(np.float32) if exact else P
        P_exaggerated = P_run * np.float32(self.early_exaggeration) if exact else P.scaled(self.early_exaggeration)
        Y, kl, it = gradient_descent(objective_for(P_exaggerated), Y, 0, _EXPLORATION_MAX_ITER, momentum=0.5,
                                     learning_rate=early_rate, n_iter_without_progress=_EXPLORATION_MAX_ITER, **common)
        if self.verbose:
            print(f"[t-SNE] KL divergence after {it + 1} iterations with early exaggeration: {kl:.6f}")
        if self.exaggeration is not None:
            P_run = P_run * np.float32(self.exaggeration) if exact else P_run.scaled(self.exaggeration)
        if it < _EXPLORATION_MAX_ITER - 1 or self.max_iter > _EXPLORATION_MAX_ITER:
            Y, kl, it = gradient_descent(objective_for(P_run), Y, it + 1, self.max_iter, momentum=0.8,
                                         learning_rate=self.learning_rate_,
                                         n_iter_without_progress=self.n_iter_without_progress, **common)
        self.n_iter_ = it
        self.kl_divergence_ = float(objective_for(P)(Y, True)[0])
        if self.verbose:
            print(f"[t-SNE] KL divergence after {it + 1} iterations: {self.kl_divergence_:.6f} "
                  f"({time.perf_counter() - t0:.1f}s in all)")
        return Y if order is None else _unpermuted(Y, order)


def _unpermuted(Y_run, order):
    """The rows of a map computed in ``order`` back in the data's order."""
    Y = np.empty_like(Y_run)
    Y[order] = Y_run
    return Y
