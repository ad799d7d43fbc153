"""``TSNE``: the estimator, with scikit-learn's parameter names, defaults and attributes."""
import numbers
import time

import numpy as np

from tsne.affinities import affinities_from_data
from tsne.approximate_neighbors import approximate_nearest_neighbors, uses_approximate
from tsne.barnes_hut import kl_divergence_bh
from tsne.compact_affinities import compact_joint_probabilities
from tsne.estimator_api import EstimatorAPI
from tsne.fft_interpolation import kl_divergence_fft
from tsne.fit_progress import FitProgress
from tsne.fit_input import check_fit_input, samples
from tsne.kl import exact_objective
from tsne.locality_order import morton_order, permuted
from tsne.optimizer import gradient_descent
from tsne.parameter_constraints import threads as n_threads
from tsne.perplexity import conditional_probabilities
from tsne.parameter_constraints import TRANSFORM_CONSTRAINTS, validate_params
from tsne.pca import pca, pca_solver_for
from tsne.sparse_input import is_sparse, sparse_pca
from tsne.transform import embed_new_points

_EXPLORATION_MAX_ITER = 250
_N_ITER_CHECK = 50


class TSNE(EstimatorAPI):
    """t-distributed Stochastic Neighbor Embedding (van der Maaten & Hinton 2008), exact,
    Barnes-Hut (van der Maaten 2014) or FFT-accelerated interpolation (Linderman et al. 2019).
    A drop-in for ``sklearn.manifold.TSNE`` (1.9), with openTSNE's names for the FFT settings.

    Parameters
    ----------
    n_components : int, default 2; 1, 2 or 3 with 'barnes_hut', 1 or 2 with 'fft', any with 'exact'
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
    metric : str or callable, default 'euclidean': any name scikit-learn's TSNE takes (its
        ``sklearn.metrics.pairwise._VALID_METRICS``: 'euclidean', 'sqeuclidean', 'manhattan' /
        'cityblock', 'chebyshev', 'cosine', 'correlation', 'minkowski', 'mahalanobis', ...), a
        callable(x, y) -> distance, or 'precomputed': X is then a square matrix of non-negative
        distances, or (not with method='exact') a sparse kNN distance graph such as
        ``KNeighborsTransformer(mode='distance')`` makes, each row holding the point itself and at
        least min(n - 1, 3 perplexity + 1) neighbours. As in scikit-learn, 'euclidean' enters the
        affinities squared and every other metric's distances are squared (``tsne/distances.py``)
    metric_params : dict or None, the metric's keyword arguments (minkowski ``p``, mahalanobis ``V``
        or ``VI``, ...)
    init : 'pca', 'random' or an array (n_samples, n_components); 'pca' is scaled so that the
        first component has standard deviation 1e-4, as scikit-learn does. An array whose rows are
        all equal is refused (nothing would move: the gradient vanishes by symmetry)
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
    progress_bar : bool, default True: the fit's phases (neighbours, affinities, early exaggeration,
        optimisation) on stderr with a time estimate, once a fit has taken 2 s (``fit_progress.py``)
    n_jobs : None or a non-zero int, threads of the Numba kernels: k > 0 uses k, -1 all cores, -2 all
        but one (joblib's convention); None keeps Numba's setting (all cores; joblib means one)
    callback : callable(iteration, Y, kl) or None, called every ``callback_every`` iterations
        with a copy of the embedding (to animate the optimisation)
    callback_every : int >= 1, default 50
    neighbors : 'auto' (default), 'exact' or 'approx': how the barnes_hut and fft methods find each
        point's 3 perplexity nearest neighbours (openTSNE's parameter; 'approx' rather than a
        library's name, since the library may change and the result is what the user chooses).
        'exact' searches all pairs (O(n^2)); 'approx' an HNSW graph (faiss; O(n log n)) whose
        recall of the true neighbours, measured on 1000 points, is widened to >= 0.99
        (``tsne/approximate_neighbors.py``), reproducible with ``random_state`` and the same for
        any n_jobs; 'auto' is 'approx' from 30,000 points (where it became faster), else 'exact'.
        Only the Euclidean metric on dense X searches approximately ('auto' is then 'exact')

    Every parameter is checked as scikit-learn's ``_parameter_constraints`` say
    (``tsne/parameter_constraints.py``) before any work, and X against them in scikit-learn's
    order (``tsne/fit_input.py``). X may be a NumPy array, a DataFrame or a SciPy sparse matrix
    (any format). The estimator protocol (``get_params``/``set_params``, ``clone``,
    ``set_output(transform='pandas')``, ``get_feature_names_out``) is ``tsne/estimator_api.py``.

    Attributes
    ----------
    embedding_ : (n_samples, n_components) float64
    kl_divergence_ : float, KL(P || Q) of the *final* embedding, with P unexaggerated:
        exact for method='exact'; for 'barnes_hut', summed over the non-zeros of the sparse P
        with Z estimated by the tree at ``angle`` (scikit-learn instead reports the value
        computed one step before the last update)
    n_iter_ : int, index of the last iteration run
    neighbor_recall_ : float or None, the measured recall of the approximate neighbours (None when
        they were searched exactly or not at all)
    learning_rate_ : float, the learning rate of the last phase
    n_features_in_ : int
    feature_names_in_ : (n_features_in_,) object array, when X was a DataFrame with string column names
    """

    # scikit-learn's class constants, which its tests set on an instance: the iterations of the
    # exaggerated phase and between progress checks
    _EXPLORATION_MAX_ITER = _EXPLORATION_MAX_ITER
    _N_ITER_CHECK = _N_ITER_CHECK

    def __init__(self, n_components=2, *, perplexity=30.0, early_exaggeration=12.0, learning_rate="auto",
                 exaggeration=None, max_iter=1000, n_iter_without_progress=300, min_grad_norm=1e-7, metric="euclidean",
                 metric_params=None, init="pca", method="barnes_hut", angle=0.5, dof=None, random_state=None,
                 verbose=0, n_jobs=None, callback=None, callback_every=50, n_interpolation_points=3,
                 min_num_intervals=50, ints_in_interval=1.0, neighbors="auto", progress_bar=True):
        self.n_components = n_components
        self.perplexity = perplexity
        self.early_exaggeration = early_exaggeration
        self.exaggeration = exaggeration
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.n_iter_without_progress = n_iter_without_progress
        self.min_grad_norm = min_grad_norm
        self.metric = metric
        self.metric_params = metric_params
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
        self.neighbors = neighbors
        self.progress_bar = progress_bar

    def _initial_embedding(self, X):
        if isinstance(self.init, str) and self.init == "pca":
            if is_sparse(X):
                Y = sparse_pca(X, self.n_components)
            else:  # the exact SVD on small data; at scale, as scikit-learn's PCA chooses (``pca.py``)
                seed = self.random_state if isinstance(self.random_state, numbers.Integral) else 0
                Y = pca(X, self.n_components, pca_solver_for(*X.shape), seed)
            return Y / np.std(Y[:, 0]) * 1e-4
        if isinstance(self.init, str):
            rng = self.random_state if isinstance(self.random_state, (np.random.Generator, np.random.RandomState)) \
                else np.random.default_rng(self.random_state)
            return 1e-4 * rng.standard_normal((X.shape[0], self.n_components))
        return np.array(self.init, dtype=np.float64)

    # --- fitting ---------------------------------------------------------------------------
    def fit_transform(self, X, y=None):
        """Embed X (n_samples, n_features), dense, sparse or a DataFrame, or distances with
        metric='precomputed' (a dense (n, n) matrix or a sparse kNN graph). ``y`` is ignored.
        Returns the embedding (n_samples, n_components), as a DataFrame if ``set_output`` (or
        scikit-learn's global configuration) asks for one."""
        import numba

        validate_params(self.get_params(deep=False))
        X_given = X
        self._set_feature_names(X)
        X = check_fit_input(self, X)
        n = X.shape[0]
        self.n_features_in_ = X.shape[1]
        # transform places new points by Euclidean distances to the fitted rows: dense ones only
        # (a reference, not a copy, when X is float64 already, as scikit-learn's NearestNeighbors keeps
        # its data: a million 50-D points are 0.4 GB)
        self._reference = np.asarray(X, dtype=np.float64) if self.metric == "euclidean" and not is_sparse(X) else None
        self._fitted_on = f"{'sparse' if is_sparse(X) else 'dense'} X with metric={self.metric!r}"
        threads = numba.get_num_threads()
        numba.set_num_threads(n_threads(self.n_jobs, numba.config.NUMBA_NUM_THREADS) if self.n_jobs is not None
                              else threads)
        try:
            self.embedding_ = self._fit(X, n)
        finally:
            numba.set_num_threads(threads)
        return self._wrap_output(self.embedding_, X_given)

    def fit(self, X, y=None):
        """Embed X as ``fit_transform`` does; returns self (the map is ``embedding_``)."""
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
                raise ValueError(f"transform: new points are placed by Euclidean distances to the fitted rows: "
                                 f"expected a fit on dense X with metric='euclidean', got a fit on {self._fitted_on}")
            raise ValueError("transform: this TSNE is not fitted yet; call fit(X) first")
        validate_params(dict(perplexity=perplexity, n_iter=n_iter, learning_rate=learning_rate,
                             exaggeration=exaggeration, momentum=momentum, max_grad_norm=max_grad_norm),
                        TRANSFORM_CONSTRAINTS)
        X_given = X
        self._check_feature_names(X)
        X = samples(X)
        # the new points' neighbours are searched densely, a block at a time, in float64
        X = (X.toarray() if is_sparse(X) else X).astype(np.float64)
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
        return self._wrap_output(embed_new_points(
            X, reference, self.embedding_, perplexity, dof, exponent, n_iter, learning_rate, exaggeration, momentum,
            max_grad_norm, use_fft=self.method != "exact", fft_params=fft_params), X_given)

    def _affinities(self, X, n, order, progress):
        """(P, in_order): P over approximate neighbours when ``neighbors`` asks for them
        (``neighbor_recall_`` set), then compact and already renumbered by ``order``
        (``compact_affinities``); else P in the data's order (in_order False)."""
        self.neighbor_recall_ = None
        if not (self.method != "exact" and self.metric == "euclidean" and not is_sparse(X)
                and uses_approximate(self.neighbors, n)):
            progress.start("neighbours and affinities")
            return affinities_from_data(X, self.perplexity, self.method, self.metric, self.metric_params, self.n_jobs,
                                        self.verbose), False
        k = min(n - 1, int(3.0 * np.max(self.perplexity) + 1))  # as affinities_from_data: the largest perplexity
        idx, sq_distances, self.neighbor_recall_ = approximate_nearest_neighbors(
            np.asarray(X, dtype=np.float64), k, self.random_state, verbose=self.verbose, progress=progress,
            query_order=order, build_order=order)
        progress.start("affinities")
        t0 = time.perf_counter()
        conditional = conditional_probabilities(sq_distances, self.perplexity, skip_self=False, verbose=self.verbose)
        del sq_distances  # a million points: 0.7 GB
        P = compact_joint_probabilities(idx, conditional, order, overwrite=True)  # both dropped after
        if self.verbose >= 2:
            print(f"[t-SNE] Computed conditional probabilities in {time.perf_counter() - t0:.3f}s")
        return P, order is not None

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
        exact = self.method == "exact"
        # run on the points in an order that keeps neighbours together in memory (``locality_order``;
        # a random initial map carries no such order); the caller sees the data's order. The PCA or
        # given map is made first, so that large P can be built in that order (a random one after P,
        # whose neighbour search draws from the same random_state)
        ordered = not exact and not (isinstance(self.init, str) and self.init == "random")
        Y = self._initial_embedding(X) if ordered else None
        order = morton_order(Y) if ordered else None
        progress = FitProgress(self.progress_bar)
        P, in_order = self._affinities(X, n, order, progress)
        dof, exponent = self._kernel()

        def objective_for(P):
            kernel = dict(dof=dof, exponent=exponent)
            if exact:
                return exact_objective(P, **kernel)
            if self.method == "fft":
                return lambda Y, compute_error: kl_divergence_fft(
                    P, Y, compute_error=compute_error, n_interpolation_points=self.n_interpolation_points,
                    min_num_intervals=self.min_num_intervals, ints_in_interval=self.ints_in_interval, **kernel)
            return lambda Y, compute_error: kl_divergence_bh(P, Y, self.angle, compute_error=compute_error, **kernel)

        if order is None:
            Y = self._initial_embedding(X)
        else:
            P, Y = (P if in_order else permuted(P, order)), Y[order]

        def callback(i, Y_run, error):  # reads ``order`` when called: the run is renumbered once below
            self.callback(i, Y_run if order is None else _unpermuted(Y_run, order), error)

        # each phase starts its momentum and gains afresh, as scikit-learn's (``optimizer.py``)
        common = dict(min_grad_norm=self.min_grad_norm, progress=progress,
                      n_iter_check=self._N_ITER_CHECK, verbose=self.verbose,
                      callback=None if self.callback is None else callback,
                      callback_every=self.callback_every)
        # the dense O(n^2) loop is bound by reading P: iterate on a float32 copy, report with float64
        P_run = P.astype(np.float32) if exact else P
        P_exaggerated = P_run * np.float32(self.early_exaggeration) if exact else P.scaled(self.early_exaggeration)
        explore = self._EXPLORATION_MAX_ITER  # an instance may set it, as scikit-learn's tests do
        progress.start("early exaggeration", explore)
        Y, kl, it = gradient_descent(objective_for(P_exaggerated), Y, 0, explore, momentum=0.5,
                                     learning_rate=early_rate, n_iter_without_progress=explore, **common)
        if self.verbose:
            print(f"[t-SNE] KL divergence after {it + 1} iterations with early exaggeration: {kl:.6f}")
        del P_exaggerated  # a million points: 0.5 GB
        if order is not None:
            # The map now shows the data's neighbourhoods far better than the PCA map the run's
            # order came from: renumber the run along the map's own Morton curve, so that the
            # attraction's reads of y_j and the FFT's spreading stay in cache for the rest of the
            # fit (a million deformed digits: attraction 252 -> 190 ms an iteration, for a 4.4 s
            # renumbering). The momentum and gains restart here anyway. (A random start runs in
            # the data's order throughout, as it always has; TSNEEmbedding.optimize(restart=True)
            # renumbers as this does.)
            again = morton_order(Y)
            P_run = P = permuted(P, again)
            Y = Y[again]
            order = again if order is None else order[again]
        if self.exaggeration is not None:
            P_run = P_run * np.float32(self.exaggeration) if exact else P_run.scaled(self.exaggeration)
        if it < explore - 1 or self.max_iter > explore:
            progress.start("optimisation", self.max_iter - it - 1)
            Y, kl, it = gradient_descent(objective_for(P_run), Y, it + 1, self.max_iter, momentum=0.8,
                                         learning_rate=self.learning_rate_,
                                         n_iter_without_progress=self.n_iter_without_progress, **common)
        progress.finish()
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
