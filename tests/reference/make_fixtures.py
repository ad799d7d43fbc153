"""Write PyTorch reference values for minigrad's layers to ``torch_layers.npz``.

    python tests/reference/make_fixtures.py

Each case stores its inputs (drawn with a fixed NumPy seed), PyTorch's forward output and
PyTorch's gradients with respect to the inputs and weights, in float64. The tests compare
minigrad against this file always, and against ``torch_cases()`` live when torch imports.
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "torch_layers.npz")

CONV_CONFIGS = [  # (N, C, H, W), (O, kh, kw), stride, padding, bias
    ((2, 3, 9, 7), (4, 3, 3), (1, 1), (0, 0), True),
    ((2, 2, 8, 8), (3, 3, 2), (2, 1), (1, 2), True),
    ((1, 4, 11, 6), (2, 5, 3), (3, 2), (2, 1), False),
    ((3, 1, 5, 5), (2, 1, 1), (1, 1), (0, 0), True),
    # stride 1 with O <= C (the input gradient once took a flipped-kernel correlation there)
    ((2, 5, 6, 7), (3, 3, 2), (1, 1), (2, 1), True),
    # >= 2^20 multiply-adds per sample: the one-GEMM-per-sample path, O <= C and O > C
    ((2, 32, 12, 12), (32, 3, 3), (1, 1), (1, 1), True),
    ((2, 16, 12, 11), (64, 3, 3), (1, 1), (1, 1), False),
]
POOL_CONFIGS = [  # (N, C, H, W), kernel, stride, padding
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0)),
    ((2, 2, 9, 7), (3, 3), (2, 2), (1, 1)),
    ((1, 2, 7, 10), (3, 2), (1, 3), (1, 0)),
]


def torch_lenet(in_channels=1, num_classes=10, input_size=28):
    """The same architecture as ``layers.LeNet`` in torch, with the same state-dict keys."""
    from torch import nn

    pad2 = 2 if input_size < 16 else 0
    side = (input_size // 2 + 2 * pad2 - 4) // 2
    net = nn.Module()
    net.features = nn.Sequential(nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(6, 16, 5, padding=pad2), nn.ReLU(), nn.MaxPool2d(2))
    net.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * side * side, 120), nn.ReLU(),
                                   nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes))
    net.forward = lambda x: net.classifier(net.features(x))
    return net.double()


def torch_cases():
    """dict of name -> array, computed by PyTorch on fixed inputs."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    out = {}

    def vjp(y, tensors, prefix):
        seed = rng.standard_normal(tuple(y.shape))
        out[f"{prefix}.seed"] = seed
        grads = torch.autograd.grad(y, tensors, grad_outputs=torch.from_numpy(seed))
        return [g.numpy() for g in grads]

    for i, (xs, (o, kh, kw), s, p, bias) in enumerate(CONV_CONFIGS):
        k = f"conv2d.{i}"
        x = torch.from_numpy(rng.standard_normal(xs)).requires_grad_()
        w = torch.from_numpy(rng.standard_normal((o, xs[1], kh, kw))).requires_grad_()
        b = torch.from_numpy(rng.standard_normal(o)).requires_grad_() if bias else None
        y = F.conv2d(x, w, b, stride=s, padding=p)
        ts = [x, w] + ([b] if bias else [])
        grads = vjp(y, ts, k)
        out.update({f"{k}.x": x.detach().numpy(), f"{k}.w": w.detach().numpy(), f"{k}.out": y.detach().numpy(),
                    f"{k}.gx": grads[0], f"{k}.gw": grads[1]})
        if bias:
            out.update({f"{k}.b": b.detach().numpy(), f"{k}.gb": grads[2]})

    for name, fn in (("max_pool2d", F.max_pool2d), ("avg_pool2d", F.avg_pool2d)):
        for i, (xs, kern, s, p) in enumerate(POOL_CONFIGS):
            k = f"{name}.{i}"
            x = torch.from_numpy(rng.standard_normal(xs)).requires_grad_()
            y = fn(x, kern, s, p)
            out.update({f"{k}.x": x.detach().numpy(), f"{k}.out": y.detach().numpy(),
                        f"{k}.gx": vjp(y, [x], k)[0]})

    x = torch.from_numpy(rng.standard_normal((5, 7))).requires_grad_()
    w = torch.from_numpy(rng.standard_normal((3, 7))).requires_grad_()
    b = torch.from_numpy(rng.standard_normal(3)).requires_grad_()
    y = F.linear(x, w, b)
    gx, gw, gb = vjp(y, [x, w, b], "linear")
    out.update({"linear.x": x.detach().numpy(), "linear.w": w.detach().numpy(), "linear.b": b.detach().numpy(),
                "linear.out": y.detach().numpy(), "linear.gx": gx, "linear.gw": gw, "linear.gb": gb})

    logits = torch.from_numpy(rng.standard_normal((6, 4)) * 3).requires_grad_()
    target = rng.integers(0, 4, 6)
    loss = F.cross_entropy(logits, torch.from_numpy(target))
    out.update({"cross_entropy.logits": logits.detach().numpy(), "cross_entropy.target": target,
                "cross_entropy.loss": loss.detach().numpy(),
                "cross_entropy.glogits": torch.autograd.grad(loss, [logits])[0].numpy()})

    for size in (28, 8):
        k = f"lenet{size}"
        net = torch_lenet(input_size=size)
        x = torch.from_numpy(rng.standard_normal((3, 1, size, size))).requires_grad_()
        y = net.forward(x)
        params = [p for _, p in net.named_parameters()]
        grads = vjp(y, [x] + params, k)
        out.update({f"{k}.x": x.detach().numpy(), f"{k}.logits": y.detach().numpy(), f"{k}.gx": grads[0]})
        for (name, p), g in zip(net.named_parameters(), grads[1:]):
            out[f"{k}.state.{name}"] = p.detach().numpy()
            out[f"{k}.grad.{name}"] = g
    return out


if __name__ == "__main__":
    cases = torch_cases()
    np.savez_compressed(FIXTURE, **cases)
    print(f"wrote {len(cases)} arrays to {FIXTURE}")
