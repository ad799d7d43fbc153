"""Image optimisation: objectives, regularisers, transforms and parameterisations gradchecked; the
Gram/content/style/TV losses and the class-model loop against PyTorch; the methods on a network
trained here; determinism and bad inputs."""
import importlib.util
import os
import sys

import numpy as np
import pytest

import layers as L
import methods
import minigrad as mg
from demos.shapes import make_shapes
from methods import image_transforms as T
from methods import objectives as O
from methods import regularizers as R
from methods.parameterizations import as_parameterization

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "reference"))
import make_optimize_fixtures as ref  # noqa: E402

TOL = 1e-7  # gradcheck's worst relative error


def small_net(seed=0):
    return L.GAPNet(in_channels=3, num_classes=4, widths=(6, 8), seed=seed)


def x_batch(shape=(2, 3, 10, 10), seed=0):
    return np.random.default_rng(seed).uniform(0.1, 0.9, shape)


def through_net(objective, net):
    """fn(x) -> objective(net(x)) for gradcheck, capturing what the objective reads."""
    def fn(x):
        if not objective.layers:
            return objective(net(x), {})
        with mg.capture(*objective.layers) as acts:
            out = net(x)
        return objective(out, acts)
    return fn


# --- calculus -------------------------------------------------------------------------------
def objectives_to_check(net):
    A = net.features[4]
    rng = np.random.default_rng(3)
    target = rng.standard_normal((2, 8, 5, 5))
    grams = [rng.standard_normal((6, 6)), rng.standard_normal((8, 8))]
    return {
        "class_score": O.class_score(1), "class_probability": O.class_probability(2),
        "channel": O.channel(A, 3), "neuron": O.neuron(A, 2, 1, 3), "direction": O.direction(A, rng.standard_normal(8)),
        "dream": O.dream(A), "feature_match": O.feature_match(A, target), "content": O.content(A, target),
        "style": O.style([net.features[1], A], grams, [0.4, 0.6]),
        "composed": 2.0 * O.channel(A, 1) - O.class_score(0) + (-O.dream(A)),
    }


@pytest.mark.parametrize("name", list(objectives_to_check(small_net())))
def test_objective_gradients(name):
    net = small_net()
    obj = objectives_to_check(net)[name]
    assert mg.gradcheck(through_net(obj, net), [x_batch()]) < TOL


@pytest.mark.parametrize("reg", [R.L2(0.3), R.AlphaNorm(0.2, 6.0), R.AlphaNorm(0.2, 2.5), R.TotalVariation(0.5, 2.0),
                                 R.TotalVariation(0.5, 1.5)], ids=repr)
def test_penalty_gradients(reg):
    assert mg.gradcheck(reg.penalty, [x_batch() - 0.5]) < TOL


@pytest.mark.parametrize("transform", [T.RandomScale((1.15,)), T.RandomRotate((23.0,)), T.Jitter(3), T.Pad(2)], ids=repr)
def test_transform_gradients(transform):
    assert mg.gradcheck(lambda x: transform(x, np.random.default_rng(0)), [x_batch()]) < TOL


@pytest.mark.parametrize("name", ["pixel", "fourier", "decorrelated"])
@pytest.mark.parametrize("shape", [(2, 3, 8, 9), (1, 1, 6, 6)])
def test_parameterizations_invert_and_gradcheck(name, shape):
    x0 = x_batch(shape)
    p = as_parameterization(name)
    params = p.init(x0)
    np.testing.assert_allclose(p.image([mg.Tensor(a) for a in params]).data, x0, atol=1e-12)
    assert mg.gradcheck(lambda *ps: p.image(list(ps)), params) < TOL


@pytest.mark.parametrize("size", [(6, 8), (5, 7)])
def test_irfft2_op(size):
    rng = np.random.default_rng(0)
    re, im = rng.standard_normal((2, 2, size[0], size[1] // 2 + 1)), rng.standard_normal((2, 2, size[0], size[1] // 2 + 1))
    np.testing.assert_allclose(mg.irfft2(re, im, size).data, np.fft.irfft2(re + 1j * im, s=size), atol=1e-15)
    assert mg.gradcheck(lambda a, b: mg.irfft2(a, b, size), [re, im]) < TOL


def test_resampling_identities():
    x = x_batch((1, 2, 8, 8))
    np.testing.assert_array_equal(T.affine(mg.Tensor(x)).data, x)
    np.testing.assert_allclose(T.affine(mg.Tensor(x), angle=90.0).data, np.rot90(x, 1, axes=(2, 3)), atol=1e-12)
    np.testing.assert_array_equal(T.roll(mg.Tensor(x), 2, -3).data, np.roll(x, (2, -3), axis=(2, 3)))


def test_resize_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    x = x_batch((2, 3, 7, 9))
    ours = T.resize(mg.Tensor(x), (14, 18)).data
    theirs = torch.nn.functional.interpolate(torch.tensor(x), size=(14, 18), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-14)


def test_dream_gradient_is_the_activation_exactly():
    net = small_net()
    x = mg.Tensor(x_batch(), requires_grad=True)
    with mg.capture(net.features[4]) as acts:
        net(x)
    A = acts[net.features[4]]
    g, = mg.grad(O.dream(net.features[4])(None, acts).sum(), [A])
    np.testing.assert_array_equal(g, A.data)


# --- references ------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["fixture", "live"])
def torch_case(request):
    if request.param == "fixture":
        with np.load(ref.FIXTURE) as f:
            c = {k: f[k] for k in f.files}
    else:
        if importlib.util.find_spec("torch") is None:
            pytest.skip("torch is not installed: live comparison skipped (the fixtures still ran)")
        c = ref.torch_cases()
    net = small_net()
    net.load_state_dict({k[6:]: v for k, v in c.items() if k.startswith("state.")})
    return net, c


def _losses_and_grads(net, c, loss):
    x = mg.Tensor(c["x"], requires_grad=True)
    with mg.capture(net.features[1], net.features[4]) as acts:
        net(x)
    per_image = loss(x, acts[net.features[1]], acts[net.features[4]])
    g, = mg.grad(per_image.sum(), [x])
    return per_image.data, g, acts


def close(ours, theirs, tol=1e-10):
    scale = max(np.abs(theirs).max(), 1e-300)
    assert np.abs(ours - theirs).max() <= tol * scale, np.abs(ours - theirs).max() / scale


def test_gram_content_style_tv_against_torch(torch_case):
    net, c = torch_case
    _, _, acts = _losses_and_grads(net, c, lambda x, a1, a4: a4.sum(axis=(1, 2, 3)))
    close(methods.gram_matrix(acts[net.features[1]]).data, c["gram_1"])
    close(methods.gram_matrix(acts[net.features[4]]).data, c["gram_4"])
    v, g, _ = _losses_and_grads(net, c, lambda x, a1, a4: methods.content_loss(a4, c["content_target"]))
    close(v, c["content"]), close(g, c["content_grad"])
    grams = [c["gram_target_0"], c["gram_target_1"]]
    v, g, _ = _losses_and_grads(net, c, lambda x, a1, a4: methods.style_loss([a1, a4], grams, ref.STYLE_WEIGHTS))
    close(v, c["style"]), close(g, c["style_grad"])
    for beta in (2.0, 1.5):
        v, g, _ = _losses_and_grads(net, c, lambda x, a1, a4: methods.tv_loss(x, beta))
        close(v, c[f"tv_{beta}"]), close(g, c[f"tv_{beta}_grad"])


def test_class_model_loop_equals_the_same_loop_in_torch(torch_case):
    net, c = torch_case
    p = ref.CLASS_MODEL
    x, history = methods.class_model_visualization(net, p["target"], p["shape"], preset="cs231n", steps=p["steps"],
                                                   lr=p["lr"], seed=p["seed"], progress_bar=False)
    close(x, c["class_model"], tol=1e-8)
    assert history["objective"].shape == (p["steps"], 1) and history["l2"].shape == (p["steps"], 1)


# --- on a network trained here ---------------------------------------------------------------
@pytest.fixture(scope="module")
def trained():
    X, y, masks = make_shapes(1500, size=20, seed=2)
    net = L.GAPNet(num_classes=6, seed=0).float()  # float32 to train (~8 s), float64 to test
    L.fit(net, X[:1200], y[:1200], epochs=12, batch_size=32, optimizer=L.Adam(net.parameters(), lr=3e-3),
          progress_bar=False, verbose=False)
    return net.double(), X[1200:].astype(np.float64), y[1200:], masks[1200:]


@pytest.mark.parametrize("preset", ["simonyan", "cs231n", "yosinski", "lucid"])
def test_class_model_beats_the_classes_real_images(trained, preset):
    net, X, y, _ = trained
    logits = L.predict(net, X)
    for c in (0, 4):
        img, history = methods.class_model_visualization(net, c, (3, 20, 20), preset=preset, steps=100,
                                                         progress_bar=False)
        assert img.shape == (3, 20, 20) and 0 <= img.min() and img.max() <= 1
        score = L.predict(net, img[None])[0]
        assert score[c] > logits[y == c, c].mean(), (preset, c, score[c], logits[y == c, c].mean())
        assert history["objective"][-1, 0] > history["objective"][0, 0]


def test_unit_visualization_with_diversity(trained):
    net, *_ = trained
    layer = net.features[3]  # the second convolution: its output, before the ReLU, as lucid optimises it
    imgs, history = methods.unit_visualization(net, layer, 5, (3, 20, 20), batch=3, diversity=0.5, steps=30,
                                               progress_bar=False)
    assert imgs.shape == (3, 3, 20, 20) and history["objective"].shape == (30, 3)
    with mg.capture(layer) as acts:
        net(mg.Tensor(imgs))
    start = 0.5 + 0.01 * np.random.default_rng(0).standard_normal((1, 3, 20, 20))
    with mg.capture(layer) as acts0:
        net(mg.Tensor(start))
    assert acts[layer].data[:, 5].mean() > acts0[layer].data[:, 5].mean()
    assert not np.allclose(imgs[0], imgs[1])


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_pgd_stays_in_its_ball_and_range(trained, norm):
    net, X, y, _ = trained
    eps = 0.03 if norm == "inf" else 0.5
    result = methods.pgd(net, X[:6], y[:6], eps=eps, step=eps / 4, steps=10, norm=norm, seed=0)
    d = (result.x - X[:6]).reshape(6, -1)
    size = np.abs(d).max(1) if norm == "inf" else np.sqrt((d * d).sum(1))
    assert np.all(size <= eps * (1 + 1e-9)) and result.x.min() >= 0 and result.x.max() <= 1
    again = methods.pgd(net, X[:6], y[:6], eps=eps, step=eps / 4, steps=10, norm=norm, seed=0)
    np.testing.assert_array_equal(result.x, again.x)


def test_fgsm_moves_every_pixel_by_eps_and_raises_the_loss(trained):
    net, X, y, _ = trained
    result = methods.fgsm(net, X[:8], y[:8], eps=0.02, clip=None)
    np.testing.assert_allclose(np.abs(result.x - X[:8]).max(), 0.02)
    before = L.cross_entropy(mg.Tensor(L.predict(net, X[:8])), y[:8]).item()
    after = L.cross_entropy(mg.Tensor(L.predict(net, result.x)), y[:8]).item()
    assert after > before


def test_feature_inversion_through_an_invertible_first_layer():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    conv = L.Conv2d(3, 3, 1, bias=False)
    conv.weight.data = Q[:, :, None, None].copy()
    net = L.Sequential(conv)
    x = rng.uniform(0, 1, (3, 10, 10))
    # the loss ||W(x - x0)||^2 / ||W x0||^2 has Hessian 2 I / ||W x0||^2 for orthogonal W:
    # plain ascent with lr = ||W x0||^2 / 2 reaches the minimum
    lr = float((x ** 2).sum()) / 2
    rec, history = methods.feature_inversion(net, x, conv, steps=3, lr=lr, optimizer="ascent", alpha_weight=0,
                                             tv_weight=0, progress_bar=False)
    assert np.abs(rec - x).max() < 1e-6


def test_texture_synthesis_lowers_the_style_loss_tenfold():
    net = L.RandomMultiScaleNet(in_channels=3, width=8, kernel_sizes=(3, 5), seed=0)
    yy, xx = np.mgrid[0:16, 0:16]
    texture = np.stack([0.5 + 0.4 * np.sin(xx * 0.9), 0.5 + 0.4 * np.cos(yy * 0.7), 0.5 + 0.3 * np.sin((xx + yy) * 0.5)])
    img, history = methods.texture_synthesis(net, texture, list(net.branches), steps=150, lr=0.05, progress_bar=False)
    loss = -history["objective"][:, 0]
    assert loss[-1] < loss[0] / 10, (loss[0], loss[-1])


def test_style_transfer_moves_towards_the_style_and_keeps_content():
    net = L.RandomMultiScaleNet(in_channels=3, width=8, kernel_sizes=(3, 5), seed=0)
    rng = np.random.default_rng(0)
    content_img, style_img = rng.uniform(0, 1, (3, 12, 12)), rng.uniform(0, 1, (3, 16, 16)) ** 3
    img, history = methods.style_transfer(net, content_img, style_img, net.branches[0], list(net.branches),
                                          steps=40, lr=0.02, progress_bar=False)
    assert img.shape == content_img.shape and history["objective"][-1, 0] > history["objective"][0, 0]


def test_deep_dream_amplifies_the_layer():
    net = small_net()
    x = x_batch((3, 16, 16))
    out = methods.deep_dream(net, x, net.features[4], octaves=2, steps=5, lr=0.05)
    assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1

    def energy(img):
        with mg.capture(net.features[4]) as acts:
            net(mg.Tensor(img[None]))
        return (acts[net.features[4]].data ** 2).sum()
    assert energy(out) > energy(x)


def test_dissection_finds_a_planted_detector():
    rng = np.random.default_rng(0)
    N, H = 40, 12
    masks = np.zeros((N, 2, H, H), dtype=bool)
    for n in range(N):  # concept 0: a square, concept 1: another square elsewhere
        i, j = rng.integers(0, H - 4, 2)
        masks[n, 0, i:i + 4, j:j + 4] = True
        i, j = rng.integers(0, H - 3, 2)
        masks[n, 1, i:i + 3, j:j + 3] = True
    images = np.stack([masks[:, 0], masks[:, 1], np.zeros((N, H, H), bool)], axis=1).astype(float)
    images += 0.05 * rng.standard_normal(images.shape)
    conv = L.Conv2d(3, 4, 1, rng=1)
    conv.weight.data[:, :2] = 0  # the other units see only the noise channel
    conv.weight.data[2] = 0
    conv.weight.data[2, 1, 0, 0] = 1.0  # unit 2 fires where concept 1 is
    conv.bias.data[2] = 0
    net = L.Sequential(conv, L.ReLU())
    result = methods.dissection(net, net[1], images, masks, quantile=0.9)
    assert result["ranking"][0] == 2 and result["concept"][2] == 1 and result["iou"][2] > 0.5
    assert result["detector"][2] and result["iou_matrix"].shape == (4, 2)


def test_concept_masks_from_labels():
    masks = np.zeros((3, 4, 4), dtype=bool)
    masks[:, 1:3, 1:3] = True
    cm = methods.concept_masks(masks, np.array([2, 0, 2]), 3)
    assert cm.shape == (3, 3, 4, 4) and cm[0, 2].sum() == 4 and cm[0, 0].sum() == 0 and cm[1, 0].sum() == 4


# --- determinism and bad inputs ----------------------------------------------------------------
def test_same_seed_same_image_bit_for_bit():
    net = small_net()
    a, _ = methods.class_model_visualization(net, 1, (3, 12, 12), preset="lucid", steps=5, seed=7, progress_bar=False)
    b, _ = methods.class_model_visualization(net, 1, (3, 12, 12), preset="lucid", steps=5, seed=7, progress_bar=False)
    c, _ = methods.class_model_visualization(net, 1, (3, 12, 12), preset="lucid", steps=5, seed=8, progress_bar=False)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_callback_can_stop_the_loop():
    net = small_net()
    seen = []
    x, history = methods.optimize_input(net, O.class_score(0), x_batch(), 50, 0.1, progress_bar=False,
                                        callback=lambda step, x, h: seen.append(step) or step == 4)
    assert seen == [0, 1, 2, 3, 4] and history["objective"].shape == (5, 2)


@pytest.mark.parametrize("call, name", [
    (lambda n: methods.class_model_visualization(n, 9, (3, 12, 12)), "target"),
    (lambda n: methods.class_model_visualization(n, 1.5, (3, 12, 12)), "target"),
    (lambda n: methods.class_model_visualization(n, 1, (3, 12, 12), preset="vgg"), "preset"),
    (lambda n: methods.class_model_visualization(n, 1, (3, 12, 12), steps=0), "steps"),
    (lambda n: methods.class_model_visualization(n, 1, (3, 12, 12), lr=-1.0), "lr"),
    (lambda n: methods.class_model_visualization(n, 1, (3, 12, 12), lr=float("nan")), "lr"),
    (lambda n: methods.class_model_visualization(n, 1, (3, -12, 12)), "shape"),
    (lambda n: methods.unit_visualization(n, L.ReLU(), 0, (3, 12, 12)), "layer"),
    (lambda n: methods.unit_visualization(n, n.features[4], 8, (3, 12, 12)), "unit"),
    (lambda n: methods.unit_visualization(n, n.features[4], -1, (3, 12, 12)), "unit"),
    (lambda n: methods.optimize_input(n, O.class_score(0), np.full((1, 3, 8, 8), np.nan), 3, 0.1), "x0"),
    (lambda n: methods.optimize_input(n, O.class_score(0), np.zeros((3, 8)), 3, 0.1), "x0"),
    (lambda n: methods.optimize_input(n, O.class_score(0), np.array([["a"]]), 3, 0.1), "x0"),
    (lambda n: methods.optimize_input(n, O.class_score(0), x_batch(), 3, 0.1, optimizer="lbfgs"), "optimizer"),
    (lambda n: methods.optimize_input(n, O.class_score(0), x_batch(), 3, 0.1, parameterization="dct"), "parameterization"),
    (lambda n: methods.optimize_input(n, O.class_score(0), x_batch(), 3, 0.1, parameterization="fourier",
                                      regularizers=[R.GaussianBlur(1.0)]), "regularizers"),
    (lambda n: methods.optimize_input(n, 42, x_batch(), 3, 0.1), "objective"),
    (lambda n: methods.fgsm(n, x_batch(), 1, eps=-0.1), "eps"),
    (lambda n: methods.pgd(n, x_batch(), 1, eps=0.1, step=0.01, steps=0), "steps"),
    (lambda n: methods.pgd(n, x_batch(), 1, eps=0.1, step=0.01, steps=3, norm="1"), "norm"),
    (lambda n: methods.fooling_image(n, x_batch(), 7), "target"),
    (lambda n: methods.fooling_image(n, x_batch(), 1, max_steps=0), "max_steps"),
    (lambda n: methods.deep_dream(n, x_batch(), n.features[4], octaves=0), "octaves"),
    (lambda n: methods.dissection(n, n.features[4], x_batch(), np.zeros((2, 1, 10, 10))), "masks"),
    (lambda n: methods.dissection(n, n.features[4], x_batch(), np.zeros((3, 1, 10, 10), bool)), "masks"),
    (lambda n: methods.gram_matrix(np.zeros((2, 3, 4))), "A"),
    (lambda n: methods.tv_loss(np.zeros((1, 1, 4, 4)), beta=0), "beta"),
    (lambda n: R.GaussianBlur(sigma=-1), "sigma"),
    (lambda n: R.ClipNorm(150), "percentile"),
    (lambda n: T.Jitter(-2), "pixels"),
])
def test_bad_inputs_raise_naming_the_argument(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call(small_net())


@pytest.mark.parametrize("mode", [True, False])
def test_methods_restore_the_models_mode(mode):
    net = small_net().train(mode)
    x = x_batch((1, 3, 10, 10))
    methods.class_model_visualization(net, 1, (3, 10, 10), steps=2, progress_bar=False)
    methods.fooling_image(net, x, 1, max_steps=2)
    methods.fgsm(net, x, 1, eps=0.01)
    methods.feature_inversion(net, x, net.features[4], steps=2, progress_bar=False)
    assert all(m.training == mode for m in net.modules())
