"""Training: the ready models reach a stated held-out accuracy in seconds; optimizers match torch."""
import numpy as np
import pytest

import layers as L
import minigrad as mg
from demos.digits import load_digits
from demos.shapes import make_shapes


def test_lenet_on_digits_reaches_95_percent():
    X, y = load_digits()
    order = np.random.default_rng(0).permutation(len(X))
    tr, te = order[:1437], order[1437:]
    net = L.LeNet(input_size=8, seed=0).float()
    hist = L.fit(net, X[tr], y[tr], epochs=15, batch_size=32, validation_data=(X[te], y[te]),
                 seed=0, progress_bar=False, verbose=False)
    acc = L.accuracy(net, X[te], y[te])
    print(f"LeNet on digits: held-out accuracy {acc:.4f}")
    assert acc >= 0.95
    assert hist["loss"][-1] < hist["loss"][0] and hist["val_accuracy"][-1] == pytest.approx(acc)


def test_gapnet_on_shapes_learns_the_shapes():
    # 32 px with batch norm: since make_shapes draws one to four objects, at 20 px the smallest is 2 px
    # across, and the plain 3x3 GAPNet reached 0.64-0.65 there (0.65-0.68 at 32 px), at the bar
    X, y, _ = make_shapes(3000, size=32, seed=0)
    net = L.GAPNet(num_classes=6, seed=0, batch_norm=True).float()
    L.fit(net, X[:2400], y[:2400], epochs=10, batch_size=32, optimizer=L.Adam(net.parameters(), lr=3e-3),
          seed=0, progress_bar=False, verbose=False)
    acc = L.accuracy(net, X[2400:], y[2400:])
    print(f"GAPNet on 32x32 shapes: held-out accuracy {acc:.4f} (chance 0.167)")
    assert acc >= 0.65


def test_fit_is_deterministic_for_a_seed():
    X, y = load_digits()
    runs = []
    for _ in range(2):
        net = L.MLP((64, 16, 10), seed=1)
        runs.append(L.fit(net, X[:200], y[:200], epochs=2, seed=5, progress_bar=False, verbose=False)["loss"])
    assert runs[0] == runs[1]


def test_fit_rejects_bad_data():
    net = L.MLP((4, 3), seed=0)
    X = np.ones((5, 4))
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        L.fit(net, bad, np.zeros(5, int), verbose=False, progress_bar=False)
    with pytest.raises(ValueError, match="X has 5 samples but y has 4"):
        L.fit(net, X, np.zeros(4, int), verbose=False, progress_bar=False)
    with pytest.raises(ValueError, match="X is empty"):
        L.fit(net, np.ones((0, 4)), np.zeros(0, int), verbose=False, progress_bar=False)
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 3\)"):
        L.fit(net, X, np.full(5, 7), verbose=False, progress_bar=False)
    with pytest.raises(ValueError, match="loss: expected one of"):
        L.fit(net, X, np.zeros(5, int), loss="hinge")


def test_mse_loss_and_regression_training():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    Y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    net = L.MLP((3, 1), seed=0)
    L.fit(net, X, Y, epochs=60, batch_size=20, loss="mse", optimizer=L.SGD(net.parameters(), lr=0.05),
          progress_bar=False, verbose=False)
    np.testing.assert_allclose(net[1].weight.data, [[1.0, -2.0, 0.5]], atol=1e-3)
    with pytest.raises(ValueError, match="differ"):
        L.mse_loss(np.ones((3, 1)), np.ones(3))


@pytest.mark.parametrize("make", [
    lambda ps, torch: (L.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
                       lambda tp: torch.optim.SGD(tp, lr=0.1, momentum=0.9, weight_decay=0.01)),
    lambda ps, torch: (L.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                       lambda tp: torch.optim.SGD(tp, lr=0.1, momentum=0.9, nesterov=True)),
    lambda ps, torch: (L.Adam(ps, lr=0.01, weight_decay=0.1),
                       lambda tp: torch.optim.Adam(tp, lr=0.01, weight_decay=0.1)),
])
def test_optimizers_match_torch(make):
    torch = pytest.importorskip("torch")
    net = L.MLP((4, 5, 3), seed=0)
    tnet = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)).double()
    tnet.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
    opt, make_torch = make(net.parameters(), torch)
    topt = make_torch(tnet.parameters())
    rng = np.random.default_rng(0)
    for _ in range(4):
        X, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
        opt.zero_grad()
        L.cross_entropy(net(X), y).backward()
        opt.step()
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tnet(torch.from_numpy(X)), torch.from_numpy(y)).backward()
        topt.step()
    for k, v in tnet.state_dict().items():
        np.testing.assert_allclose(net.state_dict()[k], v.numpy(), rtol=1e-10, atol=1e-12)


def test_initialisers_have_the_stated_spread():
    from layers import init

    w = init.kaiming_normal((256, 128, 3, 3), rng=0)
    assert w.std() == pytest.approx(np.sqrt(2 / (128 * 9)), rel=0.02)
    w = init.xavier_uniform((300, 200), rng=0)
    assert np.abs(w).max() <= np.sqrt(6 / 500) and w.std() == pytest.approx(np.sqrt(2 / 500), rel=0.02)
    with pytest.raises(ValueError, match="nonlinearity"):
        init.kaiming_uniform((3, 3), nonlinearity="swish")


def test_fit_callback_sees_every_epoch_and_can_stop():
    X = np.random.default_rng(0).random((40, 4))
    y = (X[:, 0] > 0.5).astype(np.int64)
    seen = []
    net = L.MLP((4, 3, 2), seed=0)
    history = L.fit(net, X, y, epochs=5, batch_size=8, progress_bar=False, verbose=False,
                    callback=lambda epoch, model, h: seen.append((epoch, model is net, len(h["loss"]))) or epoch == 3)
    assert seen == [(1, True, 1), (2, True, 2), (3, True, 3)] and len(history["loss"]) == 3
    with pytest.raises(TypeError, match="callback"):
        L.fit(net, X, y, epochs=1, callback=3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("shape", [(300, 257), (5,)])  # compiled on two threads, and on one (small)
def test_adams_compiled_step_equals_its_numpy_formula_bit_for_bit(dtype, weight_decay, shape):
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(shape).astype(dtype)
    a = mg.Tensor(p0.copy(), requires_grad=True)
    opt = L.Adam([a], lr=1e-2, weight_decay=weight_decay)
    P, m, v = p0.copy(), 0.0, 0.0
    for t in range(1, 6):
        g = rng.standard_normal(shape).astype(dtype)
        a.grad = g.copy()
        opt.step()
        g = g + weight_decay * P if weight_decay else g  # Kingma & Ba's Algorithm 1, L2 added to g
        m = 0.9 * m + (1 - 0.9) * g
        v = 0.999 * v + (1 - 0.999) * g * g
        P -= (1e-2 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)).astype(dtype)
        np.testing.assert_array_equal(a.data, P)
    assert a.data.dtype == dtype and opt.state[0]["m"].dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [dict(), dict(momentum=0.9), dict(momentum=0.9, weight_decay=0.01),
                                     dict(momentum=0.9, nesterov=True), dict(weight_decay=0.01)])
@pytest.mark.parametrize("shape", [(300, 257), (5,)])  # compiled on two threads, and on one (small)
def test_sgds_compiled_step_equals_its_numpy_formula_bit_for_bit(dtype, options, shape):
    rng = np.random.default_rng(1)
    p0 = rng.standard_normal(shape).astype(dtype)
    a = mg.Tensor(p0.copy(), requires_grad=True)
    opt = L.SGD([a], lr=0.05, **options)
    mu, wd, nesterov = options.get("momentum", 0.0), options.get("weight_decay", 0.0), options.get("nesterov", False)
    P, v = p0.copy(), None
    for _ in range(4):
        g = rng.standard_normal(shape).astype(dtype)
        a.grad = g.copy()
        opt.step()
        # torch.optim.SGD's rule in NumPy
        if wd:
            g = g + wd * P
        if mu:
            v = g.copy() if v is None else mu * v + g
            g = g + mu * v if nesterov else v
        P -= (0.05 * g).astype(dtype)
        np.testing.assert_array_equal(a.data, P)
    assert a.data.dtype == dtype
