"""Write PyTorch references for the image-optimisation methods to ``torch_optimize.npz``.

    python tests/reference/make_optimize_fixtures.py

On the float64 torch CNN of ``make_captum_fixtures`` (the keys of
``layers.GAPNet(in_channels=3, num_classes=4, widths=(6, 8))``):
- Gram matrices, content, style and TV losses of the layers' outputs, and their gradients with
  respect to the input, written here from the papers' formulas in torch;
- 20 steps of the cs231n class-model recipe (L2 1e-3 penalty on x - 0.5, jitter by a roll drawn as
  ``rng.integers(-j, j + 1, size=2)`` from ``numpy.random.default_rng(SEED)``, normalised gradient ascent,
  clamp to [0, 1], Gaussian blur sigma 0.5 with edge padding every 10 steps), written in torch.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "torch_optimize.npz")
sys.path.insert(0, HERE)
from make_captum_fixtures import torch_gapnet  # noqa: E402

STYLE_WEIGHTS = [0.3, 0.7]
CLASS_MODEL = dict(target=2, shape=(3, 12, 12), steps=20, lr=1.0, l2=1e-3, jitter=1, seed=0, blur_every=10,
                   sigma=0.5)


def _gram(A):
    N, C, H, W = A.shape
    F = A.reshape(N, C, H * W)
    return F @ F.transpose(1, 2) / (C * H * W)


def _tv(x, beta):
    dx = x[:, :, :-1, 1:] - x[:, :, :-1, :-1]
    dy = x[:, :, 1:, :-1] - x[:, :, :-1, :-1]
    return ((dx ** 2 + dy ** 2) ** (beta / 2)).sum(dim=(1, 2, 3))


def _blur(x, sigma):
    import torch

    r = int(np.ceil(3 * sigma))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype) / sigma) ** 2)
    k = k / k.sum()
    C = x.shape[1]
    x = torch.nn.functional.pad(x, (r, r, r, r), mode="replicate")
    x = torch.nn.functional.conv2d(x, k.view(1, 1, -1, 1).repeat(C, 1, 1, 1), groups=C)
    return torch.nn.functional.conv2d(x, k.view(1, 1, 1, -1).repeat(C, 1, 1, 1), groups=C)


def torch_cases():
    import torch

    net = torch_gapnet()
    out = {f"state.{k}": v.detach().numpy() for k, v in net.state_dict().items()}
    rng = np.random.default_rng(1)
    x0 = rng.uniform(0, 1, (2, 3, 12, 12))
    target = rng.standard_normal((2, 8, 6, 6))
    grams_t = [rng.standard_normal((6, 6)), rng.standard_normal((8, 8))]
    out.update(x=x0, content_target=target, gram_target_0=grams_t[0], gram_target_1=grams_t[1])

    def run(loss_fn):
        x = torch.from_numpy(x0.copy()).requires_grad_(True)
        a1 = net.features[1](net.features[0](x))
        a4 = net.features[4](net.features[3](net.features[2](a1)))
        per_image = loss_fn(x, a1, a4)
        g, = torch.autograd.grad(per_image.sum(), x)
        return per_image.detach().numpy(), g.numpy(), a1, a4

    _, _, a1, a4 = run(lambda x, a1, a4: a4.sum(dim=(1, 2, 3)))
    out["gram_1"], out["gram_4"] = _gram(a1).detach().numpy(), _gram(a4).detach().numpy()
    out["content"], out["content_grad"], _, _ = run(
        lambda x, a1, a4: 0.5 * ((a4 - torch.from_numpy(target)) ** 2).sum(dim=(1, 2, 3)))
    out["style"], out["style_grad"], _, _ = run(lambda x, a1, a4: sum(
        w * 0.25 * ((_gram(a) - torch.from_numpy(t)) ** 2).sum(dim=(1, 2))
        for a, t, w in zip((a1, a4), grams_t, STYLE_WEIGHTS)))
    for beta in (2.0, 1.5):
        out[f"tv_{beta}"], out[f"tv_{beta}_grad"], _, _ = run(lambda x, a1, a4: _tv(x, beta))
    out["class_model"] = class_model_loop(net)
    return out


def class_model_loop(net):
    """The cs231n class-model recipe in torch; the jitter drawn as minigrad's Jitter draws it."""
    import torch

    c = CLASS_MODEL
    rng = np.random.default_rng(c["seed"])
    x = torch.from_numpy(0.5 + 0.01 * np.random.default_rng(c["seed"]).standard_normal((1,) + c["shape"]))
    for step in range(c["steps"]):
        dy, dx = (int(v) for v in rng.integers(-c["jitter"], c["jitter"] + 1, size=2))
        x = x.detach().requires_grad_(True)
        score = net(torch.roll(x, (dy, dx), dims=(2, 3)))[:, c["target"]].sum() - c["l2"] * ((x - 0.5) ** 2).sum()
        g, = torch.autograd.grad(score, x)
        with torch.no_grad():
            x = (x + c["lr"] * g / g.norm()).clamp(0, 1)  # the cs231n step: normalised per image
            if (step + 1) % c["blur_every"] == 0:
                x = _blur(x, c["sigma"])
    return x.detach().numpy()[0]


if __name__ == "__main__":
    np.savez(FIXTURE, **torch_cases())
    print(f"wrote {FIXTURE}")
