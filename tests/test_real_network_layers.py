"""The layers real networks need (issue 26): BatchNorm, adaptive pooling, grouped and dilated
convolution, max-pool's dilation and ceil_mode, ReLU6, Identity, and the residual sum in every rule
table. Each op: central finite differences, and PyTorch's numbers where torch is installed; each
fast path against its reference path; each relevance rule against its identity."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import layers as L
import minigrad as mg
from minigrad import relevance
from minigrad.graph import running_module

TOL = 1e-6


def _noise(rng, shape):
    """Distinct values away from 0 and 6 (ReLU6's kinks) and from ties."""
    n = int(np.prod(shape))
    return (rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
            + 1e-3 * rng.permutation(n).reshape(shape) / n)


# --- calculus -------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(c_per=st.integers(1, 3), o_per=st.integers(1, 3), groups=st.integers(1, 4), k=st.integers(1, 3),
       stride=st.integers(1, 2), padding=st.integers(0, 2), dilation=st.integers(1, 3), bias=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_conv2d_groups_and_dilation_gradcheck(c_per, o_per, groups, k, stride, padding, dilation, bias, seed):
    rng = np.random.default_rng(seed)
    C, O = c_per * groups, o_per * groups
    H = max(dilation * (k - 1) + 1 - 2 * padding, 1) + int(rng.integers(0, 4))
    x, w = _noise(rng, (2, C, H, H + 1)), _noise(rng, (O, c_per, k, k))
    args = [x, w] + ([rng.standard_normal(O)] if bias else [])
    err = mg.gradcheck(lambda *t: mg.conv2d(t[0], t[1], t[2] if bias else None, stride, padding, dilation, groups),
                       args)
    assert err < TOL


@pytest.mark.parametrize("k, s, p, d, ceil", [(3, 2, 1, 1, True), (2, 2, 0, 1, True), (3, 1, 1, 2, False),
                                               (3, 3, 1, 2, True), (2, 3, 1, 1, True)])
def test_max_pool2d_dilation_and_ceil_mode_gradcheck(k, s, p, d, ceil):
    x = _noise(np.random.default_rng(k + s + p + d), (2, 3, 11, 10))
    assert mg.gradcheck(lambda t: mg.max_pool2d(t, k, s, p, d, ceil), [x]) < TOL


@pytest.mark.parametrize("size", [(7, 7), (3, 5), 1, (15, 13), (5, None), (11, 10)])
@pytest.mark.parametrize("op", [mg.adaptive_avg_pool2d, mg.adaptive_max_pool2d])
def test_adaptive_pools_gradcheck(op, size):
    x = _noise(np.random.default_rng(0), (2, 3, 11, 10))
    assert mg.gradcheck(lambda t: op(t, size), [x]) < TOL


@pytest.mark.parametrize("batch_stats", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (3, 3, 5), (2, 3, 4, 5)])
def test_batch_norm_gradcheck(shape, batch_stats):
    rng = np.random.default_rng(len(shape))
    axes = (0,) + tuple(range(2, len(shape)))
    running = rng.standard_normal(3), rng.uniform(0.5, 2, 3)

    def f(x, w, b):
        mean, var = (x.data.mean(axis=axes), x.data.var(axis=axes)) if batch_stats else running
        # the statistics of the perturbed x, as a training-mode layer computes them
        return mg.batch_norm(x, mean, var, w, b, eps=1e-5, batch_stats=batch_stats)

    assert mg.gradcheck(f, [rng.standard_normal(shape) * 2 + 1, rng.standard_normal(3), rng.standard_normal(3)]) < TOL


def test_relu6_gradcheck_and_kinks():
    x = _noise(np.random.default_rng(1), (3, 20)) * 5
    assert mg.gradcheck(mg.relu6, [x]) < TOL
    t = mg.Tensor(np.array([-1.0, 0.0, 3.0, 6.0, 7.0, np.nan]), requires_grad=True)
    y = mg.relu6(t)
    np.testing.assert_array_equal(y.data[:5], [0, 0, 3, 6, 6])
    assert np.isnan(y.data[5])
    np.testing.assert_array_equal(mg.grad(y, [t], seed=np.ones(6))[0][:5], [0, 0, 1, 0, 0])


# --- fast paths against reference paths -----------------------------------------------------------
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("C, m, k, s, p, d", [(8, 1, 3, 1, 1, 1), (6, 2, 3, 2, 1, 1), (5, 1, 5, 1, 2, 2), (4, 3, 1, 1, 0, 1),
                                              (3, 1, 3, 2, 0, 1), (3, 2, 3, 3, 4, 1), (4, 1, 3, (2, 1), (3, 0), (1, 2)),
                                              (2, 1, 5, (1, 3), (0, 2), (2, 1))])
def test_depthwise_kernels_equal_the_grouped_im2col_path(dtype, tol, C, m, k, s, p, d):
    rng = np.random.default_rng(C * m)
    x, w, b = (rng.standard_normal(sh).astype(dtype) for sh in [(3, C, 13, 10), (C * m, 1, k, k), (C * m,)])
    g = None
    results = []
    for depthwise in (None, False):
        with mg.kernels(depthwise=depthwise):
            X, W, B = (mg.Tensor(a, requires_grad=True) for a in (x, w, b))
            y = mg.conv2d(X, W, B, s, p, d, groups=C)
            g = rng.standard_normal(y.shape).astype(dtype) if g is None else g
            results.append([y.data] + mg.grad(y, [X, W, B], seed=g))
    for fast, ref in zip(*results):
        assert fast.dtype == dtype
        np.testing.assert_allclose(fast, ref, atol=tol * np.abs(ref).max())



def test_depthwise_gradients_keep_the_grouped_paths_infinities_and_nans():
    """An infinite or NaN input pixel: the depthwise kernels' weight gradient is inf or NaN in the same
    entries as the grouped im2col path's (the dropped columns of their flat loops add no 0 * inf)."""
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 3, 9, 9)), rng.standard_normal((3, 1, 3, 3))
    x[0, 2, 4, 4], x[1, 0, 0, 8], x[1, 1, 8, 0] = np.inf, np.nan, -np.inf
    g = rng.standard_normal((2, 3, 9, 9))
    results = []
    for depthwise in (None, False):
        with mg.kernels(depthwise=depthwise):
            X, W = mg.Tensor(x, requires_grad=True), mg.Tensor(w, requires_grad=True)
            results.append(mg.grad(mg.conv2d(X, W, None, 1, 1, groups=3), [W], seed=g)[0])
    fast, ref = results
    assert (~np.isfinite(ref)).any()
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(fast), np.isinf(ref))
    np.testing.assert_allclose(fast[np.isfinite(ref)], ref[np.isfinite(ref)], rtol=1e-12)


# --- PyTorch's numbers ------------------------------------------------------------------------------
def _torch_pair(rng, shape, f_mg, f_torch, params=()):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape)
    X = mg.Tensor(x, requires_grad=True)
    y = f_mg(X)
    g = rng.standard_normal(y.shape)
    ours = [y.data] + mg.grad(y, [X] + [q for q, _ in params], seed=g)
    tx = torch.tensor(x, requires_grad=True)
    ty = f_torch(tx)
    ty.backward(torch.tensor(g))
    theirs = [ty.detach().numpy(), tx.grad.numpy()] + [t.grad.numpy() for _, t in params]
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("C, O, groups, k, s, p, d", [(4, 6, 2, 3, 1, 1, 1), (6, 12, 6, 3, 2, 1, 1), (6, 6, 6, 3, 1, 2, 2),
                                                      (3, 4, 1, 5, 2, 3, 2), (64, 64, 1, 3, 1, 2, 2), (8, 16, 4, 1, 1, 0, 1)])
def test_conv2d_layer_equals_torch(C, O, groups, k, s, p, d):
    torch = pytest.importorskip("torch")
    conv = L.Conv2d(C, O, k, s, p, d, groups, rng=0)
    tconv = torch.nn.Conv2d(C, O, k, s, p, d, groups).double()
    with torch.no_grad():
        tconv.weight.copy_(torch.tensor(conv.weight.data))
        tconv.bias.copy_(torch.tensor(conv.bias.data))
    assert conv.weight.shape == tuple(tconv.weight.shape)
    _torch_pair(np.random.default_rng(C + O), (2, C, 11, 9), conv, tconv,
                [(conv.weight, tconv.weight), (conv.bias, tconv.bias)])


@pytest.mark.parametrize("k, s, p, d, ceil", [(3, 2, 1, 1, True), (2, 2, 0, 1, True), (3, 2, 1, 2, False), (3, 3, 1, 2, True)])
def test_max_pool2d_layer_equals_torch(k, s, p, d, ceil):
    torch = pytest.importorskip("torch")
    _torch_pair(np.random.default_rng(k * s), (2, 3, 11, 10), L.MaxPool2d(k, s, p, d, ceil),
                torch.nn.MaxPool2d(k, s, p, d, ceil_mode=ceil))


@pytest.mark.parametrize("size", [(7, 7), (3, 5), 1, (15, 13), (5, None)])
def test_adaptive_pool_layers_equal_torch(size):
    torch = pytest.importorskip("torch")
    for ours, theirs in [(L.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size)),
                         (L.AdaptiveMaxPool2d(size), torch.nn.AdaptiveMaxPool2d(size))]:
        _torch_pair(np.random.default_rng(3), (2, 3, 11, 10), ours, theirs)


def test_relu6_and_identity_equal_torch():
    torch = pytest.importorskip("torch")
    _torch_pair(np.random.default_rng(4), (3, 40), lambda t: L.ReLU6()(t * 4), lambda t: torch.nn.ReLU6()(t * 4))
    _torch_pair(np.random.default_rng(5), (3, 4), L.Identity(), torch.nn.Identity())


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("cls, shape", [("BatchNorm2d", (4, 3, 5, 6)), ("BatchNorm1d", (5, 3)), ("BatchNorm1d", (5, 3, 4))])
def test_batch_norm_layers_equal_torch_in_train_and_eval(cls, shape, momentum):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    ours, theirs = getattr(L, cls)(3, momentum=momentum), getattr(torch.nn, cls)(3, momentum=momentum).double()
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    ours.weight.data[:], ours.bias.data[:] = w, b
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
        theirs.bias.copy_(torch.tensor(b))
    for _ in range(3):  # the running statistics move as torch's
        _torch_pair(rng, shape, ours, theirs, [(ours.weight, theirs.weight), (ours.bias, theirs.bias)])
        theirs.weight.grad = theirs.bias.grad = None
    mine, ref = ours.state_dict(), theirs.state_dict()
    assert list(mine) == list(ref)
    for key in ref:
        np.testing.assert_allclose(mine[key], ref[key].numpy(), rtol=1e-14, atol=1e-15)
        assert mine[key].dtype == ref[key].numpy().dtype
    ours.eval(), theirs.eval()
    _torch_pair(rng, shape, ours, theirs, [(ours.weight, theirs.weight), (ours.bias, theirs.bias)])


def test_batch_norm_without_running_statistics_or_affine_equals_torch():
    torch = pytest.importorskip("torch")
    ours = L.BatchNorm2d(3, affine=False, track_running_stats=False).eval()
    theirs = torch.nn.BatchNorm2d(3, affine=False, track_running_stats=False).double().eval()
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    _torch_pair(np.random.default_rng(7), (4, 3, 5, 6), ours, theirs)  # batch statistics even in eval


# --- modules --------------------------------------------------------------------------------------
def test_buffers_are_state_but_not_parameters():
    bn = L.BatchNorm2d(4)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    bn.float()
    assert bn.running_mean.dtype == np.float32 and bn.num_batches_tracked.dtype == np.int64
    state = bn.state_dict()
    del state["num_batches_tracked"]  # checkpoints from before PyTorch 0.4.1
    state["running_mean"] = np.arange(4.0)
    bn.load_state_dict(state)
    np.testing.assert_array_equal(bn.running_mean.data, np.arange(4.0))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        L.BatchNorm1d(4)(np.ones((1, 4)))
    with pytest.raises(ValueError, match="expected 4 channels, got 3"):
        L.BatchNorm2d(4)(np.ones((2, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"2-D or 3-D"):
        L.BatchNorm1d(4)(np.ones((2, 4, 2, 2)))


def test_bad_arguments_of_the_new_layers_name_them():
    with pytest.raises(ValueError, match="divisible by groups"):
        L.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="groups: expected an int >= 1"):
        L.Conv2d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match="channels and weight"):
        mg.conv2d(np.ones((1, 4, 5, 5)), np.ones((4, 3, 3, 3)), groups=2)
    with pytest.raises(ValueError, match=r"dilation 4x4: spans 9x9\) is larger than the padded input"):
        L.Conv2d(1, 1, 3, dilation=4)(np.ones((1, 1, 6, 6)))
    with pytest.raises(ValueError, match="output_size"):
        L.AdaptiveAvgPool2d((1, 2, 3))(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="output_size"):
        L.AdaptiveMaxPool2d(0)(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="momentum"):
        L.BatchNorm2d(3, momentum=1.5)
    with pytest.raises(TypeError, match="num_features"):
        L.BatchNorm2d(3.0)


# --- rules at the new ops ---------------------------------------------------------------------------
def test_guided_and_deconvnet_rules_on_relu6():
    rng = np.random.default_rng(8)
    x = _noise(rng, (4, 30)) * 5
    g = rng.standard_normal((4, 30))
    t = mg.Tensor(x, requires_grad=True)
    y = mg.relu6(t)
    with mg.rules(relu6="guided"):
        guided, = mg.grad(y, [t], seed=g)
    with mg.rules(relu6="deconvnet"):
        deconv, = mg.grad(y, [t], seed=g)
    np.testing.assert_array_equal(guided, np.maximum(g, 0) * ((x > 0) & (x < 6)))
    np.testing.assert_array_equal(deconv, np.maximum(g, 0))


class _Block(L.Module):
    """conv-BN-ReLU-conv-BN plus the identity, then ReLU: a ResNet basic block."""

    def __init__(self, c, rng):
        self.conv1, self.bn1, self.relu = L.Conv2d(c, c, 3, padding=1, bias=False, rng=rng), L.BatchNorm2d(c), L.ReLU()
        self.conv2, self.bn2 = L.Conv2d(c, c, 3, padding=1, bias=False, rng=rng), L.BatchNorm2d(c)

    def forward(self, x):
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + x)


def _randomize_bn(bn, rng, shift=True):
    c = bn.num_features
    bn.weight.data = rng.uniform(0.5, 1.5, c)
    bn.running_var.data = rng.uniform(0.5, 2, c)
    bn.bias.data = rng.standard_normal(c) * shift
    bn.running_mean.data = rng.standard_normal(c) * shift


def test_lrp_folds_batchnorm_into_the_convolution_before_it():
    rng = np.random.default_rng(9)
    conv, bn = L.Conv2d(3, 5, 3, padding=1, rng=rng), L.BatchNorm2d(5)
    _randomize_bn(bn, rng)
    net = L.Sequential(conv, bn, L.ReLU(), L.GlobalAvgPool2d(), L.Linear(5, 4, rng=rng)).eval()
    scale = bn.weight.data / np.sqrt(bn.running_var.data + bn.eps)
    folded = L.Conv2d(3, 5, 3, padding=1)
    folded.weight.data = conv.weight.data * scale[:, None, None, None]
    folded.bias.data = (conv.bias.data - bn.running_mean.data) * scale + bn.bias.data
    by_hand = L.Sequential(folded, L.ReLU(), L.GlobalAvgPool2d(), L.Linear(5, 4))
    by_hand[3].weight.data, by_hand[3].bias.data = net[4].weight.data, net[4].bias.data
    x = rng.standard_normal((2, 3, 8, 8))
    import methods
    for rule in ("epsilon", "gamma", "alpha1beta0"):
        ours = methods.lrp(net, x, [1, 2], layer_rules={conv: rule})
        ref = methods.lrp(by_hand, x, [1, 2], layer_rules={folded: rule})
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(methods.excitation_backprop(net, x, [1, 2]),
                               methods.excitation_backprop(by_hand, x, [1, 2]), rtol=1e-10, atol=1e-14)


def test_lrp_through_a_residual_block_conserves_relevance():
    """Zero biases and zero BatchNorm shifts: LRP-0 through conv, BN, ReLU and the sum conserves
    the score exactly; the sum's rule alone splits R in proportion to a and b."""
    import methods
    rng = np.random.default_rng(10)
    block = _Block(4, rng)
    for bn in (block.bn1, block.bn2):
        _randomize_bn(bn, rng, shift=False)
    net = L.Sequential(L.Conv2d(3, 4, 3, padding=1, bias=False, rng=rng), L.ReLU(), block, L.GlobalAvgPool2d(),
                       L.Linear(4, 3, bias=False, rng=rng)).eval()
    x = rng.standard_normal((2, 3, 6, 6))
    r, delta = methods.lrp(net, x, [0, 2], epsilon=0.0, return_convergence_delta=True)
    logits = net(x).data
    np.testing.assert_allclose(r.reshape(2, -1).sum(axis=1), logits[[0, 1], [0, 2]], rtol=1e-10)
    np.testing.assert_allclose(delta, 0, atol=1e-10 * np.abs(logits).max())

    a, b = mg.Tensor(rng.standard_normal((2, 3)), requires_grad=True), mg.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    with running_module(block):  # a sum inside a layer, as in the block's forward
        s = a + b
    R = rng.standard_normal((2, 3))
    with mg.rules(**relevance.relevance_rules({}, relevance.epsilon(0.0))):
        ra, rb = mg.grad(s, [a, b], seed=R)
    np.testing.assert_allclose(ra, a.data / s.data * R)
    np.testing.assert_allclose(ra + rb, R)
    with mg.rules(**relevance.relevance_rules({}, relevance.excitation())):
        pa, pb = mg.grad(s, [a, b], seed=np.abs(R))
    pos_a, pos_b = np.maximum(a.data, 0), np.maximum(b.data, 0)
    np.testing.assert_allclose(pa, pos_a / (pos_a + pos_b + 1e-20) * np.abs(R))
    assert (pa >= 0).all() and (pb >= 0).all()


def test_guided_backprop_and_deconvnet_pass_the_residual_sum_as_the_gradient():
    """Captum modifies only the ReLUs: at a sum the guided and deconvnet passes give each summand g."""
    rng = np.random.default_rng(11)
    block = _Block(3, rng).eval()
    x = mg.Tensor(rng.uniform(0.1, 1, (1, 3, 5, 5)), requires_grad=True)
    with mg.capture(block.bn2) as acts:
        y = block(x)
    g = rng.standard_normal(y.shape)
    for rule in ("guided", "deconvnet"):
        with mg.rules(relu=rule):
            at_branch, at_input_of_sum = mg.grad(y, [acts[block.bn2], x], seed=g)
        # the final ReLU's rule, then the sum hands its gradient to the branch unchanged
        expected = np.maximum(g, 0) * (y.data > 0) if rule == "guided" else np.maximum(g, 0)
        np.testing.assert_allclose(at_branch, expected)
        assert np.abs(at_input_of_sum).max() > 0
