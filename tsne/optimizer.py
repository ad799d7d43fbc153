"""Gradient descent with momentum and per-parameter gains (Jacobs 1988), as in the t-SNE paper
(sec. 3.4) and scikit-learn's ``_gradient_descent``."""
import time

import numpy as np
from numba import njit

from tsne.chunked_threads import run_in_chunks


class TSNEDiverged(ValueError, FloatingPointError):
    """The optimisation diverged: the map's coordinates or the gradient became NaN or inf, or the map
    grew past what the FFT method's grid can cover. Most often the learning rate (or, with
    ``method="fft"``, a coarse grid: a large ``ints_in_interval``) is too large for the data. A
    ValueError (a setting is wrong) and a FloatingPointError, as ``layers.TrainingDiverged``."""


# entries per thread below which the step runs in one piece: 1,000 points' 2,000 entries take ~2 us,
# handing them to the thread pool ~50 us
_STEP_MIN_CHUNK = 1 << 15


@njit(nogil=True, cache=True)
def _step(start, stop, Y, grad, update, gains, momentum, learning_rate, min_gain):
    """One update of flat entries [start, stop) (``gradient_descent``'s rule), in one pass: the
    NumPy expressions it replaces (a sign test, two masked updates, a clip, three in-place products)
    made seven passes over (n, d) arrays and allocated three, 40 ms an iteration at a million
    points. The same operations in the same order per entry: the same bits."""
    for t in range(start, stop):
        g = grad[t]
        gain = gains[t] + 0.2 if update[t] * g < 0.0 else gains[t] * 0.8
        gain = max(gain, min_gain)
        gains[t] = gain
        g = g * gain
        grad[t] = g
        u = update[t] * momentum - learning_rate * g
        update[t] = u
        Y[t] += u


def _flat_view(a, name):
    if not (isinstance(a, np.ndarray) and a.dtype == np.float64 and a.flags.c_contiguous and a.flags.writeable):
        raise TypeError(f"state: expected {name} as a writeable C-contiguous float64 array of Y's shape, updated in place; got "
                        f"{type(a).__name__} {getattr(a, 'dtype', '')}")
    return a.reshape(-1)


def gradient_descent(objective, Y, it, max_iter, momentum, learning_rate, n_iter_without_progress,
                     min_grad_norm, n_iter_check=50, min_gain=0.01, verbose=0, callback=None,
                     callback_every=50, state=None, progress=None):
    """Minimise ``objective(Y, compute_error) -> (kl, grad)`` from iteration ``it`` to ``max_iter``,
    updating Y (n, d) in place.

    With g = dC/dY (n, d), element by element (the paper's sec. 3.4, Jacobs' delta-bar-delta gains):

        gains <- gains + 0.2 where sign(g) != sign(update), gains x 0.8 elsewhere, at least ``min_gain``
        update <- momentum update - learning_rate gains g,       Y <- Y + update

    Every call is one phase and starts afresh, update = 0 and gains = 1, as scikit-learn calls its
    ``_gradient_descent`` once per phase. Carried from the exaggerated phase into the final one
    (whose attraction is 12 times weaker), they left small maps in poor local minima: 50 points of
    2-D noise, from the same 10 starting maps as scikit-learn, ended at mean KL 0.25 (exact) and
    0.26 (Barnes-Hut) against its 0.041 and 0.035; restarted, at 0.045 and 0.043 over 30 starts
    (its 0.054 and 0.052), most at the best map, 0.0350. openTSNE restarts the momentum but keeps
    the gains; van der Maaten's bhtsne keeps both. The FFT method restarts both too, although it
    follows openTSNE's learning rates: on digits keeping the gains moved its KL by less than the
    seeds do (0.711 vs 0.710, mean of 4 fits; openTSNE's map 0.710).

    Every ``n_iter_check`` iterations the KL is computed (before that iteration's update, as in
    scikit-learn): if it has not improved for ``n_iter_without_progress`` iterations, or the norm of
    the gained gradient gains * g (scikit-learn's) falls to ``min_grad_norm``, stop.
    Returns (Y, last computed KL, last iteration index).

    ``progress``: None, or a ``fit_progress.FitProgress`` whose phase is told the iterations done.

    ``state``: None, or an (update, gains) pair of (n, d) arrays to continue from, updated in place
    (``embedding.TSNEEmbedding.optimize``, which carries them between calls as openTSNE does).
    """
    given = Y
    # the compiled step updates flat views in place; a map in another layout (the full SVD's PCA map
    # is Fortran-ordered) is worked on as a C-ordered copy and written back at the end
    Y = Y if Y.flags.c_contiguous and Y.dtype == np.float64 else np.ascontiguousarray(Y, dtype=np.float64)
    update, gains = (np.zeros_like(Y), np.ones_like(Y)) if state is None else state
    flat_Y, flat_update, flat_gains = (_flat_view(a, name) for a, name in ((Y, "Y"), (update, "update"),
                                                                         (gains, "gains")))
    error = best_error = np.finfo(float).max
    best_iter = i = it
    tic = time.perf_counter()
    for i in range(it, max_iter):
        check = (i + 1) % n_iter_check == 0
        want_error = check or i == max_iter - 1 or (callback is not None and (i + 1) % callback_every == 0)
        kl, grad = objective(Y, want_error)
        if want_error:
            error = kl
        grad = np.ascontiguousarray(grad, dtype=np.float64)
        run_in_chunks(_step, Y.size, flat_Y, grad.reshape(-1), flat_update, flat_gains, momentum, learning_rate,
                      min_gain, min_chunk=_STEP_MIN_CHUNK)
        if callback is not None and (i + 1) % callback_every == 0:
            callback(i + 1, Y.copy(), error)
        if progress is not None:
            progress.update(i + 1 - it)
        if check:
            # not np.linalg.norm: its BLAS dot leaves OpenBLAS threads spinning over the next kernels
            grad_norm = float(np.sqrt((grad * grad).sum()))
            if not np.isfinite(grad_norm) or not np.isfinite(error):
                raise TSNEDiverged(f"t-SNE diverged at iteration {i + 1}: the gradient norm is {grad_norm} and KL "
                                   f"{error}; lower learning_rate (it was {learning_rate:.4g})")
            if verbose >= 2:
                toc = time.perf_counter()
                print(f"[t-SNE] Iteration {i + 1}: error = {error:.7f}, gradient norm = {grad_norm:.7f} "
                      f"({n_iter_check} iterations in {toc - tic:.3f}s)")
                tic = toc
            if error < best_error:
                best_error, best_iter = error, i
            elif i - best_iter > n_iter_without_progress:
                if verbose >= 2:
                    print(f"[t-SNE] Iteration {i + 1}: did not make any progress during the last "
                          f"{n_iter_without_progress} episodes. Finished.")
                break
            if grad_norm <= min_grad_norm:
                if verbose >= 2:
                    print(f"[t-SNE] Iteration {i + 1}: gradient norm {grad_norm}. Finished.")
                break
    if given is not Y:
        given[...] = Y
    return given, error, i
