"""torchvision's architectures in minigrad (layers.vgg, layers.resnet, layers.mobilenet, layers.from_torch)
against the same networks in PyTorch (tests/reference/torchvision_nets.py).

Parity goes the way a user's weights go: a torch model (random BatchNorm affine, a few SGD steps in train mode
so the running statistics move) is saved with ``torch.save``, and a child process in which ``import torch``
fails reads it with ``layers.load_checkpoint`` into the minigrad builder. Its eval-mode float64 logits, input
gradient and every parameter gradient, the running statistics after one train-mode forward (the BatchNorm
networks but VGG) and float32 logits (all but VGG) are compared with torch's. Inputs are small and odd-sized, so stride-2 layers see odd maps and the
adaptive pools of VGG and AlexNet see maps smaller than their 7x7 / 6x6 output.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import layers
import minigrad as mg

torch = pytest.importorskip("torch")
nn = torch.nn
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "reference"))
import torchvision_nets as tv  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL64, TOL32 = 1e-10, 1e-4
NUM_CLASSES = 7
# name -> input shape. Every case checks float64 logits and gradients; VGG's 10^8-weight classifier makes the
# float32 and running-statistics checks slow there, and the others already cover its layers.
CASES = {"resnet18": (2, 3, 33, 47), "resnet50": (2, 3, 33, 47), "mobilenet_v2": (2, 3, 33, 47),
         "vgg11_bn": (2, 3, 33, 47), "alexnet": (2, 3, 65, 71)}
FLOAT32 = ["resnet18", "resnet50", "mobilenet_v2", "alexnet"]
# BatchNorm momentum of the running-statistics check (None: torch's cumulative average 1 / num_batches_tracked)
MOMENTUM = {"resnet18": 0.1, "resnet50": 0.1, "mobilenet_v2": None}


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """torch on one thread here: with 2 cores shared, a second OpenMP thread waits at every barrier for a core
    (MobileNetV2's many small ops trained 30x slower with 2 threads while another process ran)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def rel_err(got, want):
    """max |got - want| / max |want| (max |got| when want is 0)."""
    diff = np.atleast_1d(np.subtract(got, want, dtype=np.float64))
    scale = np.max(np.abs(want))
    return float(np.max(np.abs(diff, out=diff)) / (scale if scale > 0 else 1))


def _keys_and_shapes(state):
    return [(k, tuple(v.shape)) for k, v in state.items()]


class _UndrawnLinear(layers.Module):
    """Linear's parameters as zeros, never drawn: VGG's classifier holds 1.2 * 10^8 weights, and drawing them
    (twice: PyTorch's default, then torchvision's) for each of eight builders took half a minute here.
    The real layers are built for vgg11_bn and alexnet in the parity checks, whose strict ``load_state_dict``
    of torch's checkpoint checks their keys and shapes too."""

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float64):
        self.weight = layers.Parameter(np.zeros((out_features, in_features), dtype))
        self.bias = layers.Parameter(np.zeros(out_features, dtype)) if bias else None


@pytest.mark.parametrize("name", list(tv.BUILDERS))
def test_state_dict_keys_shapes_and_parameter_names_are_torchvisions(name, monkeypatch):
    monkeypatch.setattr(layers.vgg, "Linear", _UndrawnLinear)
    monkeypatch.setattr(layers.vgg, "init_like_torchvision", lambda model, rng=None, linear_std=0.01: model)
    with torch.device("meta"):  # shapes and keys without memory or initialisation
        ref = tv.BUILDERS[name](NUM_CLASSES)
    model = getattr(layers, name)(NUM_CLASSES, seed=0, dtype=np.float32)
    assert _keys_and_shapes(model.state_dict()) == _keys_and_shapes(ref.state_dict())
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float32)}


def test_initialisation_follows_torchvision_and_the_seed():
    a, b = layers.resnet18(5, seed=1), layers.resnet18(5, seed=1)
    for (k, p), q in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=k)
    w = a.layer3[0].conv2.weight.data  # kaiming normal, mode fan_out: std sqrt(2 / (256 * 9))
    assert abs(w.std() / np.sqrt(2 / (256 * 9)) - 1) < 0.02 and a.bn1.weight.data.tolist() == [1.0] * 64
    m = layers.mobilenet_v2(5, seed=1)
    assert abs(m.classifier[1].weight.data.std() / 0.01 - 1) < 0.05 and not m.classifier[1].bias.data.any()
    residual = layers.ResNet(layers.Bottleneck, [1, 1, 1, 1], 5, zero_init_residual=True, rng=0)
    assert not residual.layer2[0].bn3.weight.data.any() and residual.layer2[0].bn2.weight.data.all()


# --- parity through a checkpoint read without torch ------------------------------------------------------

_CHILD = r"""
import json, os, sys
sys.modules["torch"] = None  # from here on `import torch` raises ImportError
try:
    import torch
    raise SystemExit("import torch succeeded in the child")
except ImportError:
    pass
import numpy as np
import layers
import minigrad as mg


def save(job, key, array):  # one .npy per array: the parent maps them, and no zip CRC runs over 10^8 numbers
    np.save(os.path.join(job["out"], key + ".npy"), array)


for job in json.loads(sys.argv[1]):
    model = getattr(layers, job["name"])(job["num_classes"], seed=0)
    state = layers.load_checkpoint(job["checkpoint"])
    model.load_state_dict(state)
    del state
    with np.load(job["inputs"]) as f:
        x, seed = f["x"], f["seed"]
    names, params = zip(*model.named_parameters())
    xt = mg.Tensor(x, requires_grad=True)
    logits = model.eval()(xt)
    grads = mg.grad(logits, [xt, *params], seed=seed)
    save(job, "logits", logits.data)
    save(job, "x", grads[0])
    for n, g in zip(names, grads[1:]):
        save(job, "param." + n, g)
    del logits, grads
    if "momentum" in job:
        for m in model.modules():
            if isinstance(m, layers.BatchNorm2d):
                m.momentum = job["momentum"]
        with mg.no_grad():
            model.train()(x)
        for k, v in model.state_dict().items():
            if "running" in k or "num_batches" in k:
                save(job, "stat." + k, v)
    if job["float32"]:
        with mg.no_grad():
            save(job, "logits32", model.eval().float()(x.astype(np.float32)).data)
print(json.dumps({"torch_modules": sorted(m for m, v in sys.modules.items() if m.split(".")[0] == "torch" and v)}))
"""


def _trained_torch_model(name, shape, seed):
    """The torch reference in float64, BatchNorm affine random, after 2 SGD steps in train mode."""
    torch.manual_seed(seed)
    model = tv.BUILDERS[name](NUM_CLASSES, dtype=torch.float64)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.normal_(m.bias, 0.0, 0.1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    for _ in range(2):
        x = torch.randn(shape, dtype=torch.float64)
        loss = nn.functional.cross_entropy(model(x), torch.randint(0, NUM_CLASSES, (shape[0],)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    """name -> dict(checkpoint, x, seed, results): the torch checkpoint, the input and the seed of the
    input gradient, and the directory of minigrad's results, after one run of the torch-free child."""
    d = tmp_path_factory.mktemp("real_networks")
    cases, jobs = {}, []
    for i, (name, shape) in enumerate(CASES.items()):
        checkpoint, inputs, results = str(d / f"{name}.pt"), str(d / f"{name}.inputs.npz"), d / name
        torch.save(_trained_torch_model(name, shape, seed=i).state_dict(), checkpoint)
        rng = np.random.default_rng(i)
        x, seed = rng.standard_normal(shape), rng.standard_normal((shape[0], NUM_CLASSES))
        np.savez(inputs, x=x, seed=seed)
        results.mkdir()
        cases[name] = dict(checkpoint=checkpoint, x=x, seed=seed, results=str(results))
        jobs.append(dict(name=name, num_classes=NUM_CLASSES, checkpoint=checkpoint, inputs=inputs, out=str(results),
                         float32=name in FLOAT32, **({"momentum": MOMENTUM[name]} if name in MOMENTUM else {})))
    run = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(jobs)], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"torch_modules": []}
    return cases


def _results(case):
    return sorted(f.removesuffix(".npy") for f in os.listdir(case["results"]))


def _result(case, key):
    return np.load(os.path.join(case["results"], key + ".npy"), mmap_mode="r")


def _torch_model(name, case):
    """The case's torch model as saved (float64, momentum 0.1), built on the meta device and given the
    checkpoint's (memory-mapped) tensors: no initialisation, no copy of VGG's 10^8 weights."""
    with torch.device("meta"):
        model = tv.BUILDERS[name](NUM_CLASSES, dtype=torch.float64)
    model.load_state_dict(torch.load(case["checkpoint"], mmap=True, weights_only=True), assign=True)
    return model


def _train_forward(model, case, momentum):
    """One train-mode forward of the case's input with every BatchNorm's ``momentum`` set (updates statistics)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = momentum
    with torch.no_grad():
        model.train()(torch.tensor(case["x"]))
    return model


@pytest.mark.parametrize("name", list(CASES))
def test_float64_logits_and_every_gradient_match_torch_through_a_checkpoint(parity, name):
    case = parity[name]
    model = _torch_model(name, case).eval()
    x = torch.tensor(case["x"], requires_grad=True)
    logits = model(x)
    logits.backward(torch.tensor(case["seed"]))
    want = {"logits": logits.detach().numpy(), "x": x.grad.numpy()}
    want.update(("param." + n, p.grad.numpy()) for n, p in model.named_parameters())
    assert [k for k in _results(case) if not k.startswith(("stat.", "logits32"))] == sorted(want)
    errors = {k: rel_err(_result(case, k), w) for k, w in want.items()}
    assert max(errors.values()) <= TOL64, sorted(errors.items(), key=lambda kv: -kv[1])[:5]


@pytest.mark.parametrize("name", list(MOMENTUM))
def test_a_train_mode_forward_updates_the_running_statistics_as_torch(parity, name):
    case = parity[name]
    model = _train_forward(_torch_model(name, case), case, MOMENTUM[name])
    want = {k: v.numpy() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    assert [k[5:] for k in _results(case) if k.startswith("stat.")] == sorted(want)
    for k, w in want.items():
        got = _result(case, "stat." + k)
        assert got.dtype == w.dtype and rel_err(got, w) <= TOL64, k
    assert {int(w) for k, w in want.items() if k.endswith("num_batches_tracked")} == {3}


@pytest.mark.parametrize("name", FLOAT32)
def test_float32_logits_match_torch(parity, name):
    case = parity[name]
    model = _torch_model(name, case)
    if name in MOMENTUM:  # the child's float32 pass follows its train-mode forward
        _train_forward(model, case, MOMENTUM[name])
    with torch.no_grad():
        want = model.eval().float()(torch.tensor(case["x"], dtype=torch.float32)).numpy()
    got = _result(case, "logits32")
    assert got.dtype == np.float32 and rel_err(got, want) <= TOL32


# --- from_torch ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_from_torch_computes_torchs_logits(parity, name):
    model = _torch_model(name, parity[name]).eval()
    x = parity[name]["x"]
    converted = layers.from_torch(model)
    assert type(converted).__name__ == type(model).__name__
    assert list(converted.state_dict()) == list(model.state_dict())
    with torch.no_grad():
        want = model(torch.tensor(x)).numpy()
    with mg.no_grad():
        assert rel_err(converted(x).data, want) <= TOL64


def test_from_torch_converts_every_supported_layer():
    torch.manual_seed(0)
    zoo = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding="same", dilation=2), nn.BatchNorm2d(6), nn.ReLU6(),
        nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True),
        nn.Conv2d(6, 6, 3, groups=3, padding=1), nn.BatchNorm2d(6, affine=False, track_running_stats=False),
        nn.AvgPool2d(2, stride=1, padding=1), nn.AdaptiveMaxPool2d((7, 5)), nn.AdaptiveAvgPool2d((4, 3)),
        nn.Sigmoid(), nn.Identity(), nn.Flatten(), nn.Dropout(0.3), nn.Linear(72, 8), nn.BatchNorm1d(8),
        nn.Tanh(), nn.ReLU(), nn.Linear(8, 3, bias=False)).double().eval()
    for m in zoo.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.affine:
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.normal_(m.bias)
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2)
    x = np.random.default_rng(0).standard_normal((2, 3, 17, 15))
    xt, xm = torch.tensor(x, requires_grad=True), mg.Tensor(x, requires_grad=True)
    want = zoo(xt)
    want.sum().backward()
    got = layers.from_torch(zoo)(xm)
    assert rel_err(got.data, want.detach().numpy()) <= TOL64
    assert rel_err(mg.grad(got.sum(), [xm])[0], xt.grad.numpy()) <= TOL64


def test_from_torch_grouped_dilated_resnet_equals_the_builder_and_torch():
    kw = dict(groups=2, width_per_group=16, replace_stride_with_dilation=[False, True, True])
    torch.manual_seed(0)
    ref = tv.ResNet(tv.Bottleneck, [1, 2, 1, 1], 5, **kw).double().eval()
    built = layers.ResNet(layers.Bottleneck, [1, 2, 1, 1], 5, **kw, rng=0)
    assert _keys_and_shapes(built.state_dict()) == _keys_and_shapes(ref.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 3, 29, 23))
    with torch.no_grad():
        want = ref(torch.tensor(x)).numpy()
    with mg.no_grad():
        assert rel_err(layers.from_torch(ref)(x).data, want) <= TOL64
        assert rel_err(built.load_state_dict(ref.state_dict()).eval()(x).data, want) <= TOL64


def test_from_torch_keeps_modes_dtypes_sharing_and_requires_grad():
    torch.manual_seed(0)
    ref = tv.resnet18(4).eval()  # float32
    ref.layer2.train()
    ref.layer3[1].bn1.train()
    ref.fc.weight.requires_grad_(False)
    seq = nn.Sequential(ref.conv1, nn.ReLU(), ref.conv1)  # one module at two places
    converted = layers.from_torch(ref)
    modes = {n: m.training for n, m in ref.named_modules()}
    assert {n: m.training for n, m in converted.named_modules()} == modes
    assert {p.dtype for p in converted.parameters()} == {np.dtype(np.float32)}
    assert converted.layer1[0].bn1.running_var.data.dtype == np.float32
    assert not converted.fc.weight.requires_grad and converted.fc.bias.requires_grad
    shared = layers.from_torch(seq)
    assert shared[0] is shared[2]


def test_from_torch_names_the_submodule_it_cannot_convert():
    torch.manual_seed(0)
    net = tv.MobileNetV2(3)
    net.features[3] = nn.LSTM(2, 2)
    with pytest.raises(TypeError, match=r"features\.3 \(LSTM\)"):
        layers.from_torch(net)
    with pytest.raises(TypeError, match=r"1\.0 \(Conv2d\): unsupported setting padding_mode='reflect'"):
        layers.from_torch(nn.Sequential(nn.ReLU(), nn.Sequential(nn.Conv2d(1, 2, 3, padding_mode="reflect"))))
    block = tv.BasicBlock(4, 4)
    block.extra = nn.ReLU()  # a block whose forward might use more than torchvision's does
    with pytest.raises(TypeError, match=r"the module itself \(BasicBlock\).*unexpected \['extra'\]"):
        layers.from_torch(block)
    with pytest.raises(TypeError, match="module: expected a torch.nn.Module, got ndarray"):
        layers.from_torch(np.zeros(3))
