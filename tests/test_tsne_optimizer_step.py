"""The compiled update of ``gradient_descent`` against the rule written in NumPy (the reference
path it replaced): the same bits, for any thread count; and arrays it cannot update in place refused."""
import numba
import numpy as np
import pytest

from tsne.optimizer import gradient_descent


def _numpy_rule(Y, grads, momentum, learning_rate, min_gain=0.01):
    update, gains = np.zeros_like(Y), np.ones_like(Y)
    for grad in grads:
        grad = grad.copy()
        flipped = update * grad < 0.0
        gains[flipped] += 0.2
        gains[~flipped] *= 0.8
        np.clip(gains, min_gain, np.inf, out=gains)
        grad *= gains
        update *= momentum
        update -= learning_rate * grad
        Y = Y + update
    return Y, update, gains


@pytest.mark.parametrize("threads", [1, 2])
def test_the_same_bits_as_the_numpy_rule(threads):
    rng = np.random.default_rng(0)
    Y0 = rng.normal(0, 1e-2, (1001, 2))
    grads = [rng.normal(0, 10.0 ** rng.integers(-6, 2), Y0.shape) for _ in range(30)]
    want = _numpy_rule(Y0, grads, 0.8, 123.4)
    feed = iter(grads)
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        Y = Y0.copy()
        state = (np.zeros_like(Y), np.ones_like(Y))
        gradient_descent(lambda Y, e: (0.0, next(feed).copy()), Y, 0, 30, momentum=0.8, learning_rate=123.4,
                         n_iter_without_progress=100, min_grad_norm=0.0, state=state)
    finally:
        numba.set_num_threads(before)
    for got, expected in zip((Y, *state), want):
        np.testing.assert_array_equal(got, expected)


def test_a_map_in_another_layout_is_updated_in_place_all_the_same():
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=(40, 2)) for _ in range(5)]
    Y0 = rng.normal(size=(40, 2))
    want = _numpy_rule(Y0, grads, 0.5, 10.0)[0]
    for Y in (np.asfortranarray(Y0), np.zeros((40, 4))[:, ::2]):
        Y[...] = Y0
        feed = iter(grads)
        out, _, _ = gradient_descent(lambda Y, e: (0.0, next(feed).copy()), Y, 0, 5, momentum=0.5,
                                     learning_rate=10.0, n_iter_without_progress=10, min_grad_norm=0.0)
        assert out is Y
        np.testing.assert_array_equal(Y, want)


def test_a_state_it_cannot_update_in_place_is_refused():
    Y = np.zeros((10, 2))
    with pytest.raises(TypeError, match="state: expected update as a writeable C-contiguous float64"):
        gradient_descent(lambda Y, e: (0.0, np.zeros_like(Y)), Y, 0, 5, momentum=0.5, learning_rate=1.0,
                         n_iter_without_progress=10, min_grad_norm=0.0,
                         state=(np.zeros((10, 4))[:, ::2], np.ones((10, 2))))
