"""openTSNE's phased API (Poličar et al. 2024, "openTSNE: a modular Python library for t-SNE
dimensionality reduction and embedding"): affinities, an initial map and an embedding whose
``optimize`` runs any schedule of phases, each continuing where the last one stopped.

    P = PerplexityBasedNN(X, perplexity=30)                 # or Uniform(X, k_neighbors=15)
    E = prepare_initial(P, "pca")                           # or "random", "spectral", an array
    E = E.optimize(250, exaggeration=12, momentum=0.5)      # early exaggeration
    E = E.optimize(750, momentum=0.8)                       # the embedding proper
    Y = np.asarray(E)                                       # (n, n_components)

Each step is the estimator's (``tsne.py``), on the same kernels and the same ``gradient_descent``:
``TSNE(max_iter=1000, ...).fit_transform`` is these two phases, bit for bit, when the second has
``restart=True`` (each of the estimator's phases starts afresh) and both are given the estimator's
``learning_rate_`` (its 'auto' is scikit-learn's, one rate for both phases, except for method='fft').
What follows openTSNE and not scikit-learn: ``optimize`` keeps the momentum's update and the
gains between calls unless ``restart``; it returns a new embedding (``inplace=True`` updates this
one); learning_rate='auto' is n / (4 exaggeration) in every phase (Belkina et al. 2019; the 4
because this gradient keeps the factor openTSNE's leaves out); it runs exactly ``n_iter`` steps,
with no stopping rule. Unlike openTSNE it does not re-centre the map after every step nor clip the
steps (``max_step_norm``): the estimator does neither.
"""
import numbers

import numpy as np

from tsne.affinities import SparseAffinities, affinities_from_data, uniform_affinities_nn
from tsne.barnes_hut import kl_divergence_bh
from tsne.distances import neighbor_distances
from tsne.fft_interpolation import kl_divergence_fft
from tsne.fit_input import COMPONENTS, check_fit_input, samples
from tsne.input_checks import count, random_generator, real_matrix
from tsne.kl import exact_objective
from tsne.locality_order import morton_order, permuted
from tsne.optimizer import gradient_descent
from tsne.parameter_constraints import CONSTRAINTS, TRANSFORM_CONSTRAINTS, Interval, Kind
from tsne.parameter_constraints import validate_params
from tsne.pca import pca
from tsne.sparse_input import is_sparse, sparse_pca
from tsne.spectral_init import spectral_embedding
from tsne.transform import embed_new_points
from tsne.tsne import TSNE

_OPTIMIZE_CONSTRAINTS = {
    "n_iter": [Interval(numbers.Integral, 1, None, "left")],
    "exaggeration": CONSTRAINTS["exaggeration"],
    "momentum": [Interval(numbers.Real, 0, 1, "left")],
    "learning_rate": CONSTRAINTS["learning_rate"],
    "restart": [Kind(lambda v: isinstance(v, (bool, np.bool_)), "a bool", bool)],
    "inplace": [Kind(lambda v: isinstance(v, (bool, np.bool_)), "a bool", bool)],
    "callback": CONSTRAINTS["callback"],
    "callback_every": CONSTRAINTS["callback_every"],
    "verbose": CONSTRAINTS["verbose"],
}
_EMBEDDING_CONSTRAINTS = {name: CONSTRAINTS[name] for name in (
    "method", "angle", "dof", "n_interpolation_points", "min_num_intervals", "ints_in_interval")}


# --- affinities ------------------------------------------------------------------------------
class Affinities:
    """The affinities P of n points (``SparseAffinities``, or a dense (n, n) array for method='exact'),
    with ``data``, the checked X the P was made from (None when P was given directly), and its
    ``metric``: 'pca' starts and ``TSNEEmbedding.transform`` need dense Euclidean data."""

    def __init__(self, P, data=None, metric="euclidean"):
        if not isinstance(P, SparseAffinities):
            P = real_matrix(P, "P")
            if P.shape[0] != P.shape[1]:
                raise ValueError(f"P: expected a square (n, n) matrix or a SparseAffinities, got shape {P.shape}")
        self.P = P
        self.data = data
        self.metric = metric

    @property
    def n_samples(self):
        return self.P.n if isinstance(self.P, SparseAffinities) else self.P.shape[0]


def _checked_data(X, perplexity, method, metric, metric_params, n_jobs):
    """X checked as ``TSNE.fit`` checks it (the same messages), with these settings (the estimator
    holds the parameter table the checks read)."""
    est = TSNE(perplexity=perplexity, method=method, metric=metric, metric_params=metric_params, n_jobs=n_jobs,
               init="random")
    validate_params(est.get_params(deep=False))
    return check_fit_input(est, X)


class PerplexityBasedNN(Affinities):
    """The Gaussian affinities of t-SNE (``joint_probabilities_nn``; openTSNE's ``affinity.PerplexityBasedNN``):
    p_j|i calibrated to ``perplexity`` over the 3 perplexity nearest neighbours, symmetrised;
    method='exact' gives the dense P over all pairs (``joint_probabilities``), as TSNE(method='exact').
    X, perplexity (a float or a multiscale list), metric, metric_params, n_jobs, verbose: as ``TSNE``'s."""

    def __init__(self, X, perplexity=30.0, method="barnes_hut", metric="euclidean", metric_params=None,
                 n_jobs=None, verbose=0):
        X = _checked_data(X, perplexity, method, metric, metric_params, n_jobs)
        super().__init__(affinities_from_data(X, perplexity, method, metric, metric_params, n_jobs, verbose), X,
                         metric)
        self.perplexity = perplexity


class Uniform(Affinities):
    """The uniform kernel (openTSNE's ``affinity.Uniform``; ``uniform_affinities_nn``): 1/k over each
    point's ``k_neighbors`` nearest neighbours, symmetrised by 'max' (the kNN graph's union, openTSNE's
    default) or 'mean'. Böhm, Berens & Kobak (2022) embed with it and find maps much like the Gaussian's."""

    def __init__(self, X, k_neighbors=30, symmetrize="max", metric="euclidean", metric_params=None, n_jobs=None):
        X = _checked_data(X, 1.0, "barnes_hut", metric, metric_params, n_jobs)
        k = count(k_neighbors, "k_neighbors", 1, X.shape[0] - 1)
        idx, _ = neighbor_distances(X, k, metric, metric_params, n_jobs)
        super().__init__(uniform_affinities_nn(idx, symmetrize), X, metric)
        self.k_neighbors = k


# --- the initial map -------------------------------------------------------------------------
def initial_map(affinities, initialization="pca", n_components=2, random_state=None):
    """The starting positions (n, n_components) for ``affinities`` (an ``Affinities``):

    'pca': the data's principal components scaled so that the first has standard deviation 1e-4
    (scikit-learn's and ``TSNE``'s); 'random': N(0, 1e-4^2) entries (``TSNE``'s, from
    ``random_state``); 'spectral': the diffusion map of P (``spectral_embedding``), which needs no
    data; or an (n, n_components) array, used as given (a copy)."""
    if not isinstance(affinities, Affinities):
        raise TypeError(f"affinities: expected an Affinities (PerplexityBasedNN, Uniform, Affinities(P)), "
                        f"got {type(affinities).__name__}")
    n = affinities.n_samples
    count(n_components, "n_components", 1)
    rng = random_generator(random_state)  # checked whatever the initialization, as TSNE checks it
    if isinstance(initialization, str) and initialization == "pca":
        X = affinities.data
        if X is None or affinities.metric == "precomputed":
            raise ValueError("initialization: 'pca' needs the data the affinities were made from; these were "
                             "given as P or as precomputed distances: use 'spectral' or 'random'")
        Y = sparse_pca(X, n_components) if is_sparse(X) else pca(X, n_components)
        return Y / np.std(Y[:, 0]) * 1e-4
    if isinstance(initialization, str) and initialization == "random":
        return 1e-4 * rng.standard_normal((n, n_components))
    if isinstance(initialization, str) and initialization == "spectral":
        return spectral_embedding(affinities.P, n_components, rng)
    if isinstance(initialization, str):
        raise ValueError(f"initialization: expected 'pca', 'random', 'spectral' or an array, got {initialization!r}")
    Y = real_matrix(initialization, "initialization")
    if Y.shape != (n, n_components):
        raise ValueError(f"initialization: expected an array of shape {(n, n_components)}, got {Y.shape}")
    return Y.copy()


def prepare_initial(affinities, initialization="pca", n_components=2, random_state=None, **options):
    """A ``TSNEEmbedding`` at the ``initial_map`` of ``affinities``, not yet optimised (openTSNE's
    ``TSNE.prepare_initial``). ``options``: the embedding's (method, angle, dof, ...). Like ``TSNE``,
    it runs in the Z-order of the initial map (``locality_order``) except from a random one."""
    Y = initial_map(affinities, initialization, n_components, random_state)
    options.setdefault("locality_order", not (isinstance(initialization, str) and initialization == "random"))
    return TSNEEmbedding(Y, affinities, **options)


# --- the embedding ---------------------------------------------------------------------------
class TSNEEmbedding:
    """An embedding under optimisation: positions, the affinities, and the optimiser's state.

    Parameters
    ----------
    initial : (n, n_components) starting positions (``initial_map``)
    affinities : ``Affinities``; a dense P with method 'barnes_hut' or 'fft' is used through its non-zeros
    method, angle, dof, n_interpolation_points, min_num_intervals, ints_in_interval : as ``TSNE``'s
        (dof None: scikit-learn's Student t with max(n_components - 1, 1) degrees of freedom)
    locality_order : bool, run on the points in the Z-order of the initial map, as ``TSNE`` does for
        the neighbour methods (faster; only the rounding changes); ignored by method='exact'

    ``np.asarray(embedding)`` and ``embedding.positions`` give the (n, n_components) map in the data's
    order; ``iterations_run`` counts the iterations run so far; ``kl_divergence`` is KL(P || Q) at the end
    of the last ``optimize`` (unexaggerated P; None before), computed as ``TSNE.kl_divergence_``.
    """

    def __init__(self, initial, affinities, method="barnes_hut", angle=0.5, dof=None, n_interpolation_points=3,
                 min_num_intervals=50, ints_in_interval=1.0, locality_order=True):
        validate_params(dict(method=method, angle=angle, dof=dof, n_interpolation_points=n_interpolation_points,
                             min_num_intervals=min_num_intervals, ints_in_interval=ints_in_interval),
                        _EMBEDDING_CONSTRAINTS)
        if not isinstance(affinities, Affinities):
            raise TypeError(f"affinities: expected an Affinities (PerplexityBasedNN, Uniform, Affinities(P)), "
                            f"got {type(affinities).__name__}")
        Y = real_matrix(initial, "initial")
        if Y.shape[0] != affinities.n_samples:
            raise ValueError(f"initial: expected {affinities.n_samples} rows (the affinities' points), got {Y.shape}")
        supported = COMPONENTS.get(method)
        if supported is not None and Y.shape[1] not in supported:
            raise ValueError(f"initial: method={method!r} takes {supported} components, got {Y.shape[1]}; "
                             f"use method='exact'")
        self.affinities = affinities
        self.method, self.angle = method, angle
        self.fft_params = dict(n_interpolation_points=n_interpolation_points, min_num_intervals=min_num_intervals,
                               ints_in_interval=ints_in_interval)
        self.dof, self.exponent = (max(Y.shape[1] - 1, 1), None) if dof is None else (dof, dof)
        P = affinities.P
        if method != "exact" and not isinstance(P, SparseAffinities):
            P = SparseAffinities.from_dense(P)
        self._order = morton_order(Y) if method != "exact" and locality_order else None
        if self._order is not None:
            P, Y = permuted(P, self._order), Y[self._order]
        self._P = P
        # the dense O(n^2) loop is bound by reading P: iterate on a float32 copy (as TSNE does)
        self._P_run = P.astype(np.float32) if isinstance(P, np.ndarray) else P
        self._Y = np.ascontiguousarray(Y, dtype=np.float64)
        self._update, self._gains = np.zeros_like(self._Y), np.ones_like(self._Y)
        self.iterations_run = 0
        self.kl_divergence = None

    # --- the map in the data's order ---
    @property
    def positions(self):
        """(n, n_components) float64, a copy in the data's order."""
        if self._order is None:
            return self._Y.copy()
        Y = np.empty_like(self._Y)
        Y[self._order] = self._Y
        return Y

    def __array__(self, dtype=None, copy=None):
        Y = self.positions
        return Y if dtype is None else Y.astype(dtype)

    @property
    def shape(self):
        return self._Y.shape

    def __repr__(self):
        return (f"TSNEEmbedding({self.shape[0]} points, {self.shape[1]} components, method={self.method!r}, "
                f"{self.iterations_run} iterations run)")

    def copy(self):
        """An independent embedding at the same positions and optimiser state."""
        new = object.__new__(TSNEEmbedding)
        new.__dict__.update(self.__dict__)
        new._Y, new._update, new._gains = self._Y.copy(), self._update.copy(), self._gains.copy()
        return new

    # --- optimisation ---
    def _objective(self, P):
        """objective(Y, compute_error) -> (kl, grad) for P in the run order, with this embedding's method."""
        kernel = dict(dof=self.dof, exponent=self.exponent)
        if self.method == "exact":
            return exact_objective(P, **kernel)
        if self.method == "fft":
            return lambda Y, compute_error: kl_divergence_fft(P, Y, compute_error=compute_error, **self.fft_params,
                                                              **kernel)
        return lambda Y, compute_error: kl_divergence_bh(P, Y, self.angle, compute_error=compute_error, **kernel)

    def _exaggerated(self, exaggeration):
        P = self._P_run
        if exaggeration is None:
            return P
        return P * np.float32(exaggeration) if isinstance(P, np.ndarray) else P.scaled(exaggeration)

    def optimize(self, n_iter, exaggeration=None, momentum=0.8, learning_rate="auto", restart=False, inplace=False,
                 callback=None, callback_every=50, verbose=0):
        """Run ``n_iter`` steps of gradient descent with momentum and gains (``optimizer.gradient_descent``)
        on KL(exaggeration P || Q), continuing from this embedding's update and gains.

        Parameters
        ----------
        n_iter : int >= 1
        exaggeration : None (1) or float > 0, P's factor in this phase (12 for the early phase of the paper)
        momentum : float in [0, 1)
        learning_rate : float > 0 or 'auto': n / (4 exaggeration) (openTSNE's n / exaggeration in this
            gradient's scale; Belkina et al. 2019)
        restart : bool, start this phase with update 0 and gains 1, as each phase of ``TSNE`` (scikit-learn)
            does; False continues them, as openTSNE does. A restart in a locality order also renumbers
            the run along the current map's Z-order, as ``TSNE`` does after early exaggeration
        inplace : bool, update this embedding; otherwise (openTSNE's default) a new one is returned and
            this one is left as it was
        callback : callable(iteration, Y, kl) or None, every ``callback_every`` iterations (Y in the data's order)
        verbose : int, from 2 the KL and gradient norm every 50 iterations (as ``TSNE``'s)

        Returns
        -------
        TSNEEmbedding (self when ``inplace``), with ``iterations_run`` advanced by n_iter and ``kl_divergence`` set.
        """
        validate_params(dict(n_iter=n_iter, exaggeration=exaggeration, momentum=momentum,
                             learning_rate=learning_rate, restart=restart, inplace=inplace, callback=callback,
                             callback_every=callback_every, verbose=verbose), _OPTIMIZE_CONSTRAINTS)
        target = self if inplace else self.copy()
        n = target._Y.shape[0]
        rate = n / (exaggeration or 1) / 4 if isinstance(learning_rate, str) else float(learning_rate)
        if restart:
            target._update[:], target._gains[:] = 0.0, 1.0
            if target._order is not None:  # renumber along the map as it is now, as TSNE between its phases
                again = morton_order(target._Y)
                target._P = target._P_run = permuted(target._P, again)
                target._Y = np.ascontiguousarray(target._Y[again])
                target._order = target._order[again]
        rank = None if target._order is None else np.argsort(target._order)  # run row of each data point

        def report(i, Y_run, kl):
            callback(i, Y_run if rank is None else Y_run[rank], kl)
        # exactly n_iter steps, as openTSNE: no progress rule can fire, and the gradient rule only at a zero gradient
        first = target.iterations_run
        _, _, last = gradient_descent(target._objective(target._exaggerated(exaggeration)), target._Y, first,
                                      first + n_iter, momentum=momentum, learning_rate=rate,
                                      n_iter_without_progress=n_iter, min_grad_norm=0.0, verbose=verbose,
                                      callback=None if callback is None else report, callback_every=callback_every,
                                      state=(target._update, target._gains))
        target.iterations_run = last + 1
        target.kl_divergence = float(target._objective(target._P)(target._Y, True)[0])
        return target

    # --- new points ---
    def transform(self, X, perplexity=5.0, n_iter=250, learning_rate=0.1, exaggeration=1.5, momentum=0.8,
                  max_grad_norm=0.25):
        """Positions (n_new, n_components) of new points X (n_new, n_features) in this map, held fixed
        (``tsne/transform.py``, openTSNE's ``transform``; the same settings as ``TSNE.transform``).
        Needs affinities made from dense data with metric='euclidean'."""
        X_ref = self.affinities.data
        if X_ref is None or is_sparse(X_ref) or self.affinities.metric != "euclidean":
            raise ValueError("transform: new points are placed by Euclidean distances to the reference data: "
                             "expected affinities made from dense X with metric='euclidean'")
        validate_params(dict(perplexity=perplexity, n_iter=n_iter, learning_rate=learning_rate,
                             exaggeration=exaggeration, momentum=momentum, max_grad_norm=max_grad_norm),
                        TRANSFORM_CONSTRAINTS)
        X = samples(X)
        X = (X.toarray() if is_sparse(X) else X).astype(np.float64)
        if X.shape[0] == 0 or X.shape[1] != X_ref.shape[1]:
            raise ValueError(f"X: expected shape (n_new >= 1, {X_ref.shape[1]}) (the reference data's features), "
                             f"got {X.shape}")
        if not perplexity < len(X_ref):
            raise ValueError(f"perplexity: must be less than the {len(X_ref)} reference points, got {perplexity}")
        return embed_new_points(X, X_ref.astype(np.float64), self.positions, perplexity, self.dof, self.exponent,
                                n_iter, learning_rate, exaggeration, momentum, max_grad_norm,
                                use_fft=self.method != "exact", fft_params=self.fft_params)
