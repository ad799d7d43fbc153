"""Issue 29, the rest of the CAM family: HiResCAM, XGrad-CAM, LayerCAM, Eigen-CAM, Eigen-Grad-CAM,
Score-CAM, Ablation-CAM, FullGrad and the random baseline. Identities from the papers (HiResCAM and
LayerCAM are Grad-CAM where the gradient is constant and positive; XGrad-CAM's map sums to the score
of a homogeneous network; FullGrad's decomposition is complete), brute-force loops written here
(Score-CAM, Ablation-CAM, the SVD of Eigen-CAM), Captum's layer gradients on the torch twin of the
small GAPNet, and every method on the gallery's network and on ResNet-18."""
import os
import sys

import numpy as np
import pytest

import layers as L
import methods
import minigrad
from demos.gallery_models import gallery_model
from methods.cam_family import eigencam, eigengradcam, hirescam, layercam, random_cam, xgradcam
from methods.cam_scored import ablationcam, scorecam
from methods.fullgrad import _full_gradient, fullgrad
from methods.upsample import resize
from minigrad import Tensor

sys.path.insert(0, os.path.dirname(__file__))
from gapnet_twins import gapnet_twins  # noqa: E402

X = np.random.default_rng(1).uniform(0, 1, (2, 3, 12, 12))
TARGETS = np.array([1, 3])


def _close(ours, theirs, tol=1e-10):
    """Equal to ``tol`` relative to the largest value of ``theirs``."""
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    scale = max(np.abs(theirs).max(), 1e-300)
    assert np.abs(ours - theirs).max() <= tol * scale, np.abs(ours - theirs).max() / scale


def _randomize_batch_norms(net, rng):
    """BatchNorm affine parameters and running statistics drawn at random, then eval mode."""
    for m in net.modules():
        if isinstance(m, L.BatchNorm2d):
            c = m.num_features
            m.weight.data = rng.uniform(0.5, 1.5, c)
            m.bias.data = rng.standard_normal(c) * 0.3
            m.running_mean.data = rng.standard_normal(c) * 0.3
            m.running_var.data = rng.uniform(0.5, 2.0, c)
    return net.eval()


def _gapnet(batch_norm=False):
    """GAPNet(3, 4, widths=(6, 8)): features = conv, [bn], relu, maxpool, conv, [bn], relu; 12x12 -> 6x6."""
    return _randomize_batch_norms(L.GAPNet(3, 4, widths=(6, 8), seed=0, batch_norm=batch_norm),
                                  np.random.default_rng(2))


def _residual_net():
    """conv-bn-relu, two BasicBlocks (identity shortcuts: a sum in the graph), GAP, flatten, linear."""
    rng = np.random.default_rng(3)
    net = L.Sequential(L.Conv2d(3, 5, 3, padding=1, rng=rng), L.BatchNorm2d(5), L.ReLU(),
                       L.BasicBlock(5, 5, rng=rng, dtype=np.float64), L.BasicBlock(5, 5, rng=rng, dtype=np.float64),
                       L.AdaptiveAvgPool2d(1), L.Flatten(), L.Linear(5, 4, rng=rng))
    return _randomize_batch_norms(net, rng)


def _layer(model, x, target, layer):
    """Scores y (N,), the layer's output A and the gradient dy/dA, from minigrad directly."""
    with minigrad.capture(layer) as acts:
        out = model(Tensor(x))
    y = out[np.arange(len(x)), np.broadcast_to(target, (len(x),))]
    g, = minigrad.grad(y, [acts[layer]])
    return y.data, acts[layer].data, g


def _map(weights, A, size):
    """ReLU(sum_k w_k A^k) at the layer's resolution, then resized to ``size``."""
    return resize(np.maximum(np.einsum("nk,nkhw->nhw", weights, A), 0), size)


# --- gradient-weighted maps ---------------------------------------------------------------------


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("upsample", [True, False])
def test_hirescam_is_gradcam_where_the_gradient_is_constant_over_the_map(relu, upsample):
    """Before GAP and a linear layer dy/dA^k_ij = w_ck / hw at every location: HiResCAM's map is
    Grad-CAM's (Draelos & Carin 2020). At an earlier layer the gradient varies, and they differ."""
    net = _gapnet()
    last, inner = net.features[4], net.features[1]
    _close(hirescam(net, X, TARGETS, last, relu=relu, upsample=upsample),
           methods.gradcam(net, X, TARGETS, last, relu=relu, upsample=upsample), 1e-12)
    ours, theirs = hirescam(net, X, TARGETS, inner, relu=False), methods.gradcam(net, X, TARGETS, inner, relu=False)
    assert np.abs(ours - theirs).max() > 0.01 * np.abs(theirs).max()


def test_hirescam_is_captums_layer_gradient_x_activation_summed_over_channels():
    torch = pytest.importorskip("torch")
    captum_attr = pytest.importorskip("captum.attr")
    theirs, ours = gapnet_twins()
    for layer in (1, 4):
        ref = captum_attr.LayerGradientXActivation(theirs, theirs.features[layer]).attribute(
            torch.from_numpy(X), target=TARGETS.tolist())
        _close(hirescam(ours, X, TARGETS, ours.features[layer], relu=False, upsample=False),
               ref.detach().numpy().sum(axis=1), 1e-8)


def test_xgradcam_map_sums_to_the_score_of_a_homogeneous_network():
    """Fu et al. 2020: for a ReLU network without biases after the layer, sum A g = y_c
    (Euler), and XGrad-CAM's weights make its map sum to exactly that. With the final layer's bias
    back, the map sums to y_c - b_c."""
    net = _gapnet()
    fc_bias = net.fc.bias.data.copy()
    for m in net.modules():
        if isinstance(m, (L.Conv2d, L.Linear)):
            m.bias.data[:] = 0
    for layer in (net.features[1], net.features[4]):
        y = _layer(net, X, TARGETS, layer)[0]
        _close(xgradcam(net, X, TARGETS, layer, relu=False, upsample=False).sum(axis=(1, 2)), y, 1e-12)
    net.fc.bias.data[:] = fc_bias
    y = _layer(net, X, TARGETS, net.features[4])[0]
    _close(xgradcam(net, X, TARGETS, net.features[4], relu=False, upsample=False).sum(axis=(1, 2)),
           y - fc_bias[TARGETS], 1e-12)


def test_xgradcam_weights_against_a_loop():
    net = _gapnet(batch_norm=True)
    layer = net.features[2]
    _, A, g = _layer(net, X, TARGETS, layer)
    w = np.array([[(A[n, k] * g[n, k]).sum() / A[n, k].sum() if A[n, k].sum() != 0 else 0.0
                   for k in range(A.shape[1])] for n in range(len(X))])
    _close(xgradcam(net, X, TARGETS, layer), _map(w, A, X.shape[2:]))


def test_layercam_is_gradcam_where_the_gradients_are_positive():
    """With the target's final weights made positive, relu(g) = g and g is constant over each map:
    LayerCAM is Grad-CAM. With mixed signs it is the Grad-CAM-like map whose negative channel
    weights are clipped, ReLU(sum_k relu(w_ck) / hw A^k), which Grad-CAM is not."""
    net = _gapnet()
    layer = net.features[4]
    c = 2
    _, A, _ = _layer(net, X, c, layer)
    assert (net.fc.weight.data[c] < 0).any() and (net.fc.weight.data[c] > 0).any()
    clipped = np.maximum(net.fc.weight.data[c], 0) / (A.shape[2] * A.shape[3])
    _close(layercam(net, X, c, layer), _map(np.tile(clipped, (len(X), 1)), A, X.shape[2:]), 1e-12)
    assert not np.allclose(layercam(net, X, c, layer), methods.gradcam(net, X, c, layer))
    net.fc.weight.data[c] = np.abs(net.fc.weight.data[c])
    _close(layercam(net, X, c, layer), methods.gradcam(net, X, c, layer), 1e-12)


def test_random_cam_draws_uniform_weights_from_its_seed():
    net = _gapnet()
    layer = net.features[4]
    _, A, _ = _layer(net, X, 0, layer)
    w = np.random.default_rng(5).uniform(-1, 1, A.shape[:2])
    _close(random_cam(net, X, 0, layer, seed=5), _map(w, A, X.shape[2:]), 1e-12)
    np.testing.assert_array_equal(random_cam(net, X, 0, layer, seed=np.random.default_rng(5)),
                                  random_cam(net, X, 0, layer, seed=5))
    assert not np.allclose(random_cam(net, X, 0, layer, seed=6), random_cam(net, X, 0, layer, seed=5))


# --- principal components -------------------------------------------------------------------------


def _svd_projection(maps, orient=True):
    """pytorch-grad-cam's recipe, a loop: centred (hw, K) rows projected on VT[0] of a full SVD;
    with ``orient``, the sign that correlates with the channel sum."""
    out = []
    for m in maps:
        rows = m.reshape(m.shape[0], -1).T
        rows = rows - rows.mean(axis=0)
        vt = np.linalg.svd(rows, full_matrices=True)[2]
        p = rows @ vt[0]
        out.append((-p if orient and p @ rows.sum(axis=1) < 0 else p).reshape(m.shape[1:]))
    return np.array(out)


def test_eigencam_projects_the_activations_on_their_first_principal_component():
    net = _gapnet(batch_norm=True)
    for layer in (net.features[2], net.features[6]):
        _, A, _ = _layer(net, X, 0, layer)
        proj = _svd_projection(A)
        _close(eigencam(net, X, 0, layer, relu=False, upsample=False), proj, 1e-10)
        _close(eigencam(net, X, 0, layer), resize(np.maximum(proj, 0), X.shape[2:]), 1e-10)
        _close(eigencam(net, X, 0, layer, sign="svd", relu=False, upsample=False), _svd_projection(A, False), 1e-10)
        for a, p in zip(A, proj):  # the sign-free fact: the top eigenvector of the covariance
            rows = a.reshape(a.shape[0], -1).T
            rows = rows - rows.mean(axis=0)
            top = np.linalg.eigh(rows.T @ rows)[1][:, -1]
            _close(np.abs(p.ravel()), np.abs(rows @ top), 1e-8)
            assert p.ravel() @ a.sum(axis=0).ravel() > 0


def test_eigengradcam_projects_captums_gradient_x_activation():
    """At the last layer LAPACK's sign of Captum's g * A and of ours differ (the arrays differ by
    in the last bits): the default orientation is the same for both."""
    torch = pytest.importorskip("torch")
    captum_attr = pytest.importorskip("captum.attr")
    theirs, ours = gapnet_twins()
    for layer in (1, 4):
        ref = captum_attr.LayerGradientXActivation(theirs, theirs.features[layer]).attribute(
            torch.from_numpy(X), target=TARGETS.tolist()).detach().numpy()
        _close(eigengradcam(ours, X, TARGETS, ours.features[layer], relu=False, upsample=False),
               _svd_projection(ref), 1e-8)


# --- perturbation-scored maps ---------------------------------------------------------------------


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


@pytest.mark.parametrize("softmax", [True, False])
def test_scorecam_against_a_loop_over_channels(softmax):
    """Each channel's map resized, rescaled to [0, 1], multiplied into one image at a time; the
    target's probability (or score) weights it. Channel 0 of the last conv is dead (a constant map):
    weight 0. batch_size=3 leaves a remainder of the 8 channels."""
    net = _gapnet()
    net.features[3].bias.data[0] = -100.0
    layer = net.features[4]
    _, A, _ = _layer(net, X, TARGETS, layer)
    assert np.all(A[:, 0] == 0)
    w = np.zeros(A.shape[:2])
    for n in range(len(X)):
        for k in range(A.shape[1]):
            up = resize(A[n, k], X.shape[2:])
            if up.max() > up.min():
                out = net(Tensor(X[n:n + 1] * (up - up.min()) / (up.max() - up.min()))).data[0]
                w[n, k] = (_softmax(out) if softmax else out)[TARGETS[n]]
    _close(scorecam(net, X, TARGETS, layer, softmax=softmax, batch_size=3), _map(w, A, X.shape[2:]), 1e-12)


def test_scorecam_gives_a_callable_target_the_softmax():
    net = _gapnet()
    layer = net.features[4]
    np.testing.assert_array_equal(scorecam(net, X, lambda p: p[:, 2], layer), scorecam(net, X, 2, layer))
    summed = L.Sequential(net, _Sum())
    with pytest.raises(ValueError, match="softmax"):
        scorecam(summed, X, None, layer)  # no softmax over one value per sample...
    _check_maps(scorecam(summed, X, None, layer, softmax=False, relu=False), (2, 12, 12), signed=True)  # ...raw: fine


class _Sum(L.Module):
    """(N, classes) -> (N,): one score per sample."""

    def forward(self, x):
        return x.sum(axis=1)


class _Shifted(L.Module):
    """The GAPNet's logits plus a per-sample shift passed after x: model(x, shift)."""

    def __init__(self, net):
        self.net = net

    def forward(self, x, shift):
        return self.net(x) + Tensor(shift[:, None])


@pytest.mark.parametrize("method", [scorecam, ablationcam])
def test_additional_forward_args_follow_the_copies_of_each_sample(method):
    """A batch of two with a shift per sample is each sample alone with its own shift. Shifting
    every logit changes Ablation-CAM's ratio (y - y_k) / y and Score-CAM's raw scores (the softmax
    would cancel it, hence softmax=False), so a shift that did not follow its sample would show."""
    model = _Shifted(_gapnet())
    layer = model.net.features[4]
    shift = np.array([0.5, -2.0])
    options = dict(softmax=False) if method is scorecam else {}
    both = method(model, X, TARGETS, layer, additional_forward_args=shift, batch_size=3, **options)
    for n in range(len(X)):
        _close(both[n], method(model, X[n], TARGETS[n], layer, additional_forward_args=(shift[n:n + 1],),
                               batch_size=3, **options), 1e-12)
    assert not np.allclose(both, method(model, X, TARGETS, layer, additional_forward_args=shift[::-1],
                                        batch_size=3, **options))


def _ablation_weights(y, A, downstream, targets):
    """(y - y_k) / y, with y_k the score after ``downstream`` (a function of the layer's output)
    runs on A with channel k set to 0, one channel at a time."""
    w = np.zeros(A.shape[:2])
    for k in range(A.shape[1]):
        ablated = A.copy()
        ablated[:, k] = 0
        y_k = downstream(Tensor(ablated)).data[np.arange(len(A)), targets]
        w[:, k] = (y - y_k) / y
    return w


@pytest.mark.parametrize("batch_size", [1, 4, 32])
def test_ablationcam_against_a_loop_over_channels(batch_size):
    """The layers after the first ReLU (max-pool, conv, ReLU, GAP, linear) run by hand on each
    ablated output; batch_size 4 leaves a remainder of the 6 channels, 32 is more than 6."""
    net = _gapnet()
    layer = net.features[1]
    y, A, _ = _layer(net, X, TARGETS, layer)

    def downstream(h):
        for m in list(net.features)[2:]:
            h = m(h)
        return net.fc(net.gap(h))

    w = _ablation_weights(y, A, downstream, TARGETS)
    _close(ablationcam(net, X, TARGETS, layer, batch_size=batch_size), _map(w, A, X.shape[2:]), 1e-12)


def test_ablationcam_replays_a_residual_block_and_a_reshape():
    """After the first BasicBlock come a second one (its shortcut a sum of two graph branches),
    pooling, a reshape and a linear layer; one image without its batch axis."""
    net = _residual_net()
    layer = net[3]
    x = X[0]
    y, A, _ = _layer(net, x[None], 2, layer)

    def downstream(h):
        for m in list(net)[4:]:
            h = m(h)
        return h

    w = _ablation_weights(y, A, downstream, 2)
    _close(ablationcam(net, x, 2, layer, batch_size=2), _map(w, A, x.shape[1:])[0], 1e-12)


# --- FullGrad -------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [_gapnet, lambda: _gapnet(batch_norm=True), _residual_net])
def test_fullgrad_decomposition_is_complete_for_a_piecewise_linear_network(make):
    """Srinivas & Fleuret 2019: <df/dx, x> + sum_l <df/db_l, b_l> = f(x), with conv and linear
    biases and the folded BatchNorm biases, through max-pooling and residual sums."""
    net = make()
    _, y, (gx,), bias_gradients = _full_gradient(net, X, TARGETS)
    total = (gx * X).sum(axis=(1, 2, 3)) + sum(bg.reshape(len(X), -1).sum(axis=1) for bg in bias_gradients)
    _close(total, y, 1e-12)
    assert len(bias_gradients) >= 3


def _rescaled(maps):
    """|maps| min-max rescaled per (h, w) map, a loop."""
    out = np.zeros_like(maps)
    for idx in np.ndindex(maps.shape[:-2]):
        m = np.abs(maps[idx])
        if m.max() > m.min():
            out[idx] = (m - m.min()) / (m.max() - m.min())
    return out


def test_fullgrad_map_from_captums_gradients():
    """The input term from Captum's InputXGradient, each conv layer's bias-gradient from Captum's
    layer gradient (LayerGradientXActivation with multiply_by_inputs=False) times the bias; the
    post-processing written as loops here."""
    torch = pytest.importorskip("torch")
    captum_attr = pytest.importorskip("captum.attr")
    theirs, ours = gapnet_twins()
    xt = torch.from_numpy(X).requires_grad_()
    input_term = captum_attr.InputXGradient(theirs).attribute(xt, target=TARGETS.tolist()).detach().numpy()
    ref = _rescaled(input_term).sum(axis=1)
    for conv in (theirs.features[0], theirs.features[3]):
        g = captum_attr.LayerGradientXActivation(theirs, conv, multiply_by_inputs=False).attribute(
            xt, target=TARGETS.tolist()).detach().numpy()
        bias_gradient = g * conv.bias.detach().numpy()[:, None, None]
        ref = ref + resize(_rescaled(bias_gradient).sum(axis=1), X.shape[2:])
    _close(fullgrad(ours, X, TARGETS), ref, 1e-8)


def test_fullgrad_refuses_batch_norm_that_normalises_by_the_batch():
    net = _gapnet(batch_norm=True).train()
    with pytest.raises(ValueError, match="model:.*eval"):
        fullgrad(net, X, 0)


# --- every method on real networks ----------------------------------------------------------------

LAYER_METHODS = [hirescam, xgradcam, layercam, eigencam, eigengradcam, random_cam, scorecam, ablationcam]


def _check_maps(maps, shape, dtype=np.float64, signed=False):
    """The shape and dtype wanted, finite, not all 0, and >= 0 unless ``signed``."""
    assert maps.shape == shape and maps.dtype == dtype and np.all(np.isfinite(maps)) and np.abs(maps).max() > 0
    assert signed or maps.min() >= 0


def test_every_method_on_the_gallery_network():
    """float32 in, float32 out; every map but the random one puts at least 1.3 times the object's
    share of the image inside the object's mask (a uniform map would put exactly its share)."""
    gm = gallery_model("shapes")
    x, y, masks = gm.data["X_test"][:2], gm.data["y_test"][:2], gm.data["masks_test"][:2]
    layer = gm.model.features[-1]
    for method in LAYER_METHODS + [fullgrad]:
        maps = fullgrad(gm.model, x, y) if method is fullgrad else method(gm.model, x, y, layer)
        _check_maps(maps, (2, 48, 48), np.float32)
        inside = (maps * masks).sum(axis=(1, 2)) / maps.sum(axis=(1, 2))
        assert method is random_cam or np.all(inside > 1.3 * masks.mean(axis=(1, 2))), (method.__name__, inside)


def test_every_method_on_resnet18():
    """Random weights, one 64x64 image, the top class; the maps before the ReLU (a random network's
    positive part may be empty at a 2x2 layer); Score-CAM at layer1 (64 channels: one forward pass
    per channel)."""
    net = _randomize_batch_norms(L.resnet18(num_classes=10, seed=0), np.random.default_rng(4))
    x = np.random.default_rng(5).uniform(0, 1, (3, 64, 64))
    top = int(L.predict(net, x[None]).argmax())
    for method in LAYER_METHODS:
        options = {"scorecam": dict(batch_size=64), "ablationcam": dict(batch_size=8)}.get(method.__name__, {})
        layer = net.layer1 if method is scorecam else net.layer4
        _check_maps(method(net, x, top, layer, relu=False, **options), (64, 64), signed=True)
    _check_maps(fullgrad(net, x, top), (64, 64))
    _, y, (gx,), bias_gradients = _full_gradient(net, x, top)
    _close(np.array([(gx * x).sum() + sum(bg.sum() for bg in bias_gradients)]), y, 1e-10)


# --- arguments ----------------------------------------------------------------------------------


def test_bad_options_name_the_argument():
    net = _gapnet()
    layer = net.features[4]
    with pytest.raises(ValueError, match="batch_size"):
        scorecam(net, X, 0, layer, batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        ablationcam(net, X, 0, layer, batch_size=2.0)
    with pytest.raises(TypeError, match="softmax"):
        scorecam(net, X, 0, layer, softmax="yes")
    with pytest.raises(ValueError, match="seed"):
        random_cam(net, X, 0, layer, seed=-1)
    with pytest.raises(TypeError, match="relu"):
        hirescam(net, X, 0, layer, relu=1)
    with pytest.raises(TypeError, match="x"):
        scorecam(net, (X,), 0, layer)
    with pytest.raises(ValueError, match="interpolate_mode"):
        fullgrad(net, X, 0, interpolate_mode="area")
    with pytest.raises(ValueError, match="layer"):
        eigencam(net, X, 0, L.ReLU())
    with pytest.raises(ValueError, match="sign"):
        eigengradcam(net, X, 0, layer, sign="positive")
