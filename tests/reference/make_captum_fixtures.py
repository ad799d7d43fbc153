"""Write Captum reference attributions for ``methods`` to ``captum_methods.npz``.

    python tests/reference/make_captum_fixtures.py

A small random torch CNN in float64 (conv-ReLU-maxpool-conv-ReLU-GAP-linear, the same keys as
``layers.GAPNet(in_channels=3, num_classes=4, widths=(6, 8))``) and a linear classifier;
the tests load their state dicts into ``layers`` models and compare.
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "captum_methods.npz")
TARGET = [1, 3, 0]
OCCLUSION = dict(window=(3, 2), stride=(2, 1), baseline=0.25)
#: per-layer LRP rules (torch module path -> (rule, parameter)), the rest epsilon 1e-9
LRP_MIXED = {"features.0": ("gamma", 0.25), "features.3": ("epsilon", 0.01), "fc": ("alpha1beta0", None)}


def torch_gapnet():
    import torch
    from torch import nn

    class GAP(nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                          nn.Conv2d(6, 8, 3, padding=1), nn.ReLU())
            self.gap = GAP()
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            return self.fc(self.gap(self.features(x)))

    torch.manual_seed(0)
    return Net().double().eval()


def captum_cases():
    import warnings

    import torch
    from captum import attr

    warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
    warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
    net = torch_gapnet()
    x0 = np.random.default_rng(0).standard_normal((3, 3, 12, 12))
    target = torch.tensor(TARGET)

    def x():  # Captum marks its input as requiring grad: a fresh tensor for each method
        return torch.from_numpy(x0.copy())

    out = {f"state.{k}": v.detach().numpy() for k, v in net.state_dict().items()}
    out["x"] = x0
    out["gradient"] = attr.Saliency(net).attribute(x(), target=target, abs=False).detach().numpy()
    out["saliency_abs"] = attr.Saliency(net).attribute(x(), target=target, abs=True).detach().numpy()
    out["input_x_gradient"] = attr.InputXGradient(net).attribute(x(), target=target).detach().numpy()
    out["guided_backprop"] = attr.GuidedBackprop(net).attribute(x(), target=target).detach().numpy()
    out["deconvnet"] = attr.Deconvolution(net).attribute(x(), target=target).detach().numpy()
    layer = net.features[4]
    gc = attr.LayerGradCam(net, layer).attribute(x(), target=target, relu_attributions=True)
    out["gradcam_layer"] = gc[:, 0].detach().numpy()
    up = attr.LayerAttribution.interpolate(gc, (12, 12), "bilinear")
    out["gradcam_up"] = up[:, 0].detach().numpy()
    out["guided_gradcam"] = attr.GuidedGradCam(net, layer).attribute(
        x(), target=target, interpolate_mode="bilinear").detach().numpy()
    out["integrated_gradients"] = attr.IntegratedGradients(net).attribute(
        x(), baselines=0.0, target=target, n_steps=50, method="gausslegendre").detach().numpy()
    out["integrated_gradients_trapezoid"] = attr.IntegratedGradients(net).attribute(
        x(), baselines=0.1, target=target, n_steps=20, method="riemann_trapezoid").detach().numpy()
    wh, ww = OCCLUSION["window"]
    sh, sw = OCCLUSION["stride"]
    out["occlusion"] = attr.Occlusion(net).attribute(
        x(), sliding_window_shapes=(3, wh, ww), strides=(3, sh, sw), baselines=OCCLUSION["baseline"],
        target=target)[:, 0].numpy()
    out.update(lrp_cases(x, target))
    return out


def lrp_cases(x, target):
    """Captum's LRP with its default rules (epsilon 1e-9; the custom GAP module needs one set
    explicitly) and with the per-layer rules of ``LRP_MIXED``."""
    from captum import attr
    from captum.attr._utils import lrp_rules

    out = {}
    for name, chosen in [("lrp_epsilon", {}), ("lrp_mixed", LRP_MIXED)]:
        net = torch_gapnet()
        net.gap.rule = lrp_rules.EpsilonRule()
        for path, (rule, arg) in chosen.items():
            layer = net.get_submodule(path)
            layer.rule = {"gamma": lrp_rules.GammaRule, "epsilon": lrp_rules.EpsilonRule,
                          "alpha1beta0": lambda _: lrp_rules.Alpha1_Beta0_Rule()}[rule](arg)
        r, delta = attr.LRP(net).attribute(x(), target=target, return_convergence_delta=True)
        out[name], out[name + "_delta"] = r.detach().numpy(), delta.detach().numpy()
    return out


if __name__ == "__main__":
    import captum

    cases = captum_cases()
    np.savez_compressed(FIXTURE, captum_version=np.array(captum.__version__), **cases)
    print(f"wrote {len(cases)} arrays to {FIXTURE} (captum {captum.__version__})")
