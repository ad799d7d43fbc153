"""Gradient descent with momentum and per-parameter gains (Jacobs 1988), as in the t-SNE paper
(sec. 3.4) and scikit-learn's ``_gradient_descent``."""
import time

import numpy as np


def gradient_descent(objective, Y, it, max_iter, momentum, learning_rate, n_iter_without_progress,
                     min_grad_norm, n_iter_check=50, min_gain=0.01, verbose=0, callback=None,
                     callback_every=50, state=None):
    """Minimise ``objective(Y, compute_error) -> (kl, grad)`` from iteration ``it`` to ``max_iter``.

    Update: gains grow by 0.2 where the gradient points against the last update and shrink by
    x0.8 elsewhere (floor ``min_gain``); update <- momentum update - learning_rate gains grad.
    Every ``n_iter_check`` iterations the KL is computed: if it has not improved for
    ``n_iter_without_progress`` iterations, or the gradient norm falls to ``min_grad_norm``, stop.

    ``state`` carries the update and gains between the exaggerated and the final stage.
    Returns (Y, last computed KL, last iteration index).
    """
    update = state["update"]
    gains = state["gains"]
    error = best_error = np.finfo(float).max
    best_iter = i = it
    tic = time.perf_counter()
    for i in range(it, max_iter):
        check = (i + 1) % n_iter_check == 0
        want_error = check or i == max_iter - 1 or (callback is not None and (i + 1) % callback_every == 0)
        kl, grad = objective(Y, want_error)
        if want_error:
            error = kl
        flipped = update * grad < 0.0
        gains[flipped] += 0.2
        gains[~flipped] *= 0.8
        np.clip(gains, min_gain, np.inf, out=gains)
        update *= momentum
        update -= learning_rate * gains * grad
        Y += update
        if callback is not None and (i + 1) % callback_every == 0:
            callback(i + 1, Y.copy(), error)
        if check:
            # not np.linalg.norm: its BLAS dot leaves OpenBLAS threads spinning over the next kernels
            grad_norm = float(np.sqrt((grad * grad).sum()))
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
    return Y, error, i
