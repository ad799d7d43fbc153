"""References: minigrad against PyTorch, from the stored fixtures always and live when torch imports."""
import importlib.util
import os
import sys

import numpy as np
import pytest

import layers as L
import minigrad as mg

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "reference"))
import make_fixtures  # noqa: E402

TOL = 1e-10


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.fixture(scope="module", params=["fixture", "live"])
def cases(request):
    if request.param == "fixture":
        with np.load(make_fixtures.FIXTURE) as f:
            return {k: f[k] for k in f.files}
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed: live comparison skipped (the fixtures still ran)")
    return make_fixtures.torch_cases()


def vjp(fn, inputs, seed):
    ts = [mg.Tensor(a, requires_grad=True) for a in inputs]
    y = fn(*ts)
    return y.data, mg.grad(y, ts, seed=seed)


@pytest.mark.parametrize("per_sample, small_weight_gradient, winograd",
                         [(None, None, None), (True, False, False), (False, False, False), (False, True, False),
                          (None, None, True)],
                         ids=["chosen", "GEMM per sample, BLAS dW", "one GEMM, BLAS dW", "one GEMM, compiled dW",
                              "Winograd where it applies"])
@pytest.mark.parametrize("i", range(len(make_fixtures.CONV_CONFIGS)))
def test_conv2d(cases, i, per_sample, small_weight_gradient, winograd):
    with mg.kernels(per_sample=per_sample, small_weight_gradient=small_weight_gradient, winograd=winograd):
        _check_conv2d(cases, i)


def _check_conv2d(cases, i):
    k = f"conv2d.{i}"
    _, _, stride, padding, bias = make_fixtures.CONV_CONFIGS[i]
    inputs = [cases[f"{k}.x"], cases[f"{k}.w"]] + ([cases[f"{k}.b"]] if bias else [])
    out, grads = vjp(lambda *t: mg.conv2d(*t, stride=stride, padding=padding), inputs, cases[f"{k}.seed"])
    assert rel_err(out, cases[f"{k}.out"]) < TOL
    for g, name in zip(grads, ["gx", "gw", "gb"]):
        assert rel_err(g, cases[f"{k}.{name}"]) < TOL, name


@pytest.mark.parametrize("i", range(len(make_fixtures.CONV_CONFIGS)))
def test_conv2d_reference_loops(cases, i):
    """The readable loops of minigrad/kernels/reference.py against PyTorch, as the fast paths are."""
    with mg.kernels("reference"):
        _check_conv2d(cases, i)


@pytest.mark.parametrize("path", ["fast", "reference"])
@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("i", range(len(make_fixtures.POOL_CONFIGS)))
def test_pooling(cases, name, i, path):
    with mg.kernels(path):
        _check_pooling(cases, name, i)


def _check_pooling(cases, name, i):
    k = f"{name}.{i}"
    _, kernel, stride, padding = make_fixtures.POOL_CONFIGS[i]
    fn = getattr(mg, name)
    out, (gx,) = vjp(lambda t: fn(t, kernel, stride, padding), [cases[f"{k}.x"]], cases[f"{k}.seed"])
    assert rel_err(out, cases[f"{k}.out"]) < TOL
    assert rel_err(gx, cases[f"{k}.gx"]) < TOL


def test_linear(cases):
    out, grads = vjp(mg.linear, [cases["linear.x"], cases["linear.w"], cases["linear.b"]], cases["linear.seed"])
    assert rel_err(out, cases["linear.out"]) < TOL
    for g, name in zip(grads, ["gx", "gw", "gb"]):
        assert rel_err(g, cases[f"linear.{name}"]) < TOL


def test_cross_entropy(cases):
    logits = mg.Tensor(cases["cross_entropy.logits"], requires_grad=True)
    loss = L.cross_entropy(logits, cases["cross_entropy.target"])
    assert rel_err(loss.data, cases["cross_entropy.loss"]) < TOL
    assert rel_err(mg.grad(loss, [logits])[0], cases["cross_entropy.glogits"]) < TOL


@pytest.mark.parametrize("size", [28, 8])
def test_lenet_loaded_from_a_torch_state_dict(cases, size):
    k = f"lenet{size}"
    net = L.LeNet(input_size=size)
    state = {name[len(k) + 7:]: v for name, v in cases.items() if name.startswith(f"{k}.state.")}
    net.load_state_dict(state)  # torch keys and layouts load unchanged
    x = mg.Tensor(cases[f"{k}.x"], requires_grad=True)
    logits = net(x)
    assert rel_err(logits.data, cases[f"{k}.logits"]) < TOL
    grads = mg.grad(logits, [x] + net.parameters(), seed=cases[f"{k}.seed"])
    assert rel_err(grads[0], cases[f"{k}.gx"]) < TOL
    for (name, _), g in zip(net.named_parameters(), grads[1:]):
        assert rel_err(g, cases[f"{k}.grad.{name}"]) < TOL, name
