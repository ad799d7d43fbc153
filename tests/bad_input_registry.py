"""Kinds of bad input, and one valid call of every public function, for the fuzz script
(``benchmarks/bad_input_fuzz.py``) and the table-driven test (``tests/test_bad_input_kinds.py``).

A *kind* is a family of mistakes (complex data, a dtype minigrad does not compute in, None as an
operand, NaN/inf, an empty batch, a non-integer size, a bad seed, a wrong target). Which argument of
which function a kind applies to is read from the signatures: a parameter named ``dtype`` takes the
dtype kind, ``seed``/``rng``/``random_state`` the seed kind, ``kernel_size``/``stride``/... the size
kind, an argument whose valid value is an ndarray the array kinds, ``target`` the target kind. So a
new public function is walked as soon as it is registered in ``BASE`` below, and
``public_functions_missing_a_base_call`` lists the ones that take such an argument but are not.

Each call is classified:
- ``clear``: ValueError/TypeError whose message names the argument (or the file, for file kinds);
- ``unclear``: another exception, or a message that does not name it;
- ``silent``: a result was returned for a mistake (or, for a value that must be *accepted*, e.g.
  a ``numpy.random.Generator`` as a seed: ``clear`` when it is accepted, ``unclear`` when refused).
"""
import inspect
import os
import struct
import tempfile
import warnings

import numpy as np

import demos
import layers as L
import methods
import minigrad as mg
import tsne
from demos import attribution_display as demo_display
from demos import images as demo_images
from demos import mnist as demo_mnist
from demos import shapes as demo_shapes

# ---------------------------------------------------------------- small valid data
R = np.random.default_rng(0)
NET = L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0)
LAYER = NET.features[3]
X = R.uniform(0, 1, (2, 3, 8, 8))
X4 = R.standard_normal((1, 2, 5, 5))
W4 = R.standard_normal((3, 2, 3, 3))
V = R.standard_normal((3, 4))
TX = R.random((30, 4))
SQ = tsne.squared_distances(TX)
P = tsne.joint_probabilities(SQ, 5.0)
_NN = tsne.nearest_neighbors(TX, 15)
P_NN = tsne.joint_probabilities_nn(_NN[0], _NN[1], 5.0)
A_NN = tsne.PerplexityBasedNN(TX, perplexity=5.0)
Y2 = R.standard_normal((30, 2))
MAPS = R.random((2, 8, 8))
MASKS = R.random((2, 8, 8)) > 0.5
MASK8 = 2 * (np.arange(8)[:, None] >= 4) + (np.arange(8)[None, :] >= 4)  # four feature groups


def _tsne_fit(X, **params):
    return tsne.TSNE(**params).fit_transform(X)


_tsne_fit.signature_of = tsne.TSNE  # the parameters walked are TSNE's (plus X)


def _smoothgrad(x, target, n_samples=2, seed=0, **kw):
    return methods.smoothgrad(methods.saliency, NET, x, target, n_samples=n_samples, seed=seed, **kw)


_smoothgrad.signature_of = methods.smoothgrad


def _sensitivity_max(x, target, n_perturb_samples=2, seed=0, **kw):
    return methods.sensitivity_max(methods.saliency, NET, x, target, n_perturb_samples=n_perturb_samples, seed=seed,
                                   **kw)


_sensitivity_max.signature_of = methods.sensitivity_max


def _objective():
    return methods.objectives.class_score(0)


# name -> (function, keyword arguments of one valid, cheap call). Big models are built only with
# bad arguments (checked before any weight is drawn), never with good ones ("cheap": False).
BASE = {
    # minigrad
    "minigrad.Tensor": (mg.Tensor, dict(data=V)),
    "minigrad.conv2d": (mg.conv2d, dict(x=X4, weight=W4, stride=1, padding=0, dilation=1, groups=1)),
    "minigrad.max_pool2d": (mg.max_pool2d, dict(x=X4, kernel_size=2, stride=2, padding=0, dilation=1)),
    "minigrad.avg_pool2d": (mg.avg_pool2d, dict(x=X4, kernel_size=2, stride=2, padding=0)),
    "minigrad.adaptive_avg_pool2d": (mg.adaptive_avg_pool2d, dict(x=X4, output_size=2)),
    "minigrad.adaptive_max_pool2d": (mg.adaptive_max_pool2d, dict(x=X4, output_size=2)),
    "minigrad.linear": (mg.linear, dict(x=V, weight=R.standard_normal((2, 4)))),
    "minigrad.add": (mg.add, dict(a=V, b=V)),
    "minigrad.sub": (mg.sub, dict(a=V, b=V)),
    "minigrad.mul": (mg.mul, dict(a=V, b=V)),
    "minigrad.div": (mg.div, dict(a=V, b=V + 10)),
    "minigrad.matmul": (mg.matmul, dict(a=V, b=V.T)),
    "minigrad.relu": (mg.relu, dict(x=V)),
    "minigrad.exp": (mg.exp, dict(a=V)),
    "minigrad.softmax": (mg.softmax, dict(x=V)),
    "minigrad.sum": (mg.sum, dict(x=V)),
    "minigrad.gradcheck": (mg.gradcheck, dict(fn=mg.tanh, inputs=[V], n_directions=1, seed=0)),
    # layers
    "layers.Conv2d": (L.Conv2d, dict(in_channels=2, out_channels=3, kernel_size=3, stride=1, padding=1, dilation=1,
                                     groups=1, rng=0, dtype=np.float32)),
    "layers.Linear": (L.Linear, dict(in_features=3, out_features=2, rng=0, dtype=np.float32)),
    "layers.BatchNorm1d": (L.BatchNorm1d, dict(num_features=3, dtype=np.float32)),
    "layers.BatchNorm2d": (L.BatchNorm2d, dict(num_features=3, dtype=np.float32)),
    "layers.MaxPool2d": (L.MaxPool2d, dict(kernel_size=2, stride=2, padding=0, dilation=1)),
    "layers.AvgPool2d": (L.AvgPool2d, dict(kernel_size=2, stride=2, padding=0)),
    "layers.AdaptiveAvgPool2d": (L.AdaptiveAvgPool2d, dict(output_size=2)),
    "layers.AdaptiveMaxPool2d": (L.AdaptiveMaxPool2d, dict(output_size=2)),
    "layers.Dropout": (L.Dropout, dict(p=0.5, rng=0)),
    "layers.MLP": (L.MLP, dict(sizes=(4, 3, 2), seed=0, dtype=np.float32)),
    "layers.GAPNet": (L.GAPNet, dict(in_channels=3, num_classes=4, widths=(4, 6), seed=0, dtype=np.float32,
                                     first_kernel=3, first_stride=1)),
    "layers.LeNet": (L.LeNet, dict(in_channels=1, num_classes=10, input_size=28, seed=0, dtype=np.float32)),
    "layers.RandomMultiScaleNet": (L.RandomMultiScaleNet, dict(in_channels=3, width=4, seed=0, dtype=np.float32)),
    "layers.Conv2dNormActivation": (L.Conv2dNormActivation, dict(in_channels=2, out_channels=4, kernel_size=3,
                                                                 stride=1, rng=0, dtype=np.float32)),
    "layers.InvertedResidual": (L.InvertedResidual, dict(inp=4, oup=4, stride=1, expand_ratio=2, rng=0,
                                                         dtype=np.float32)),
    "layers.BasicBlock": (L.BasicBlock, dict(inplanes=4, planes=4, stride=1, rng=0, dtype=np.float32)),
    "layers.Bottleneck": (L.Bottleneck, dict(inplanes=16, planes=4, stride=1, rng=0, dtype=np.float32)),
    "layers.manual_seed": (L.manual_seed, dict(seed=0)),
    "layers.cross_entropy": (L.cross_entropy, dict(logits=V, target=np.array([0, 1, 3]))),
    "layers.mse_loss": (L.mse_loss, dict(prediction=V, target=V + 1)),
    "layers.predict": (L.predict, dict(model=NET, X=X, batch_size=2)),
    "layers.accuracy": (L.accuracy, dict(model=NET, X=X, y=np.array([0, 1]), batch_size=2)),
    "layers.fit": (L.fit, dict(model=L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0), X=X,
                               y=np.array([0, 1]), epochs=1, batch_size=2, seed=0, progress_bar=False,
                               verbose=False)),
    # methods
    "methods.saliency": (methods.saliency, dict(model=NET, x=X, target=1)),
    "methods.gradient": (methods.gradient, dict(model=NET, x=X, target=1)),
    "methods.guided_backprop": (methods.guided_backprop, dict(model=NET, x=X, target=1)),
    "methods.deconvnet": (methods.deconvnet, dict(model=NET, x=X, target=1)),
    "methods.input_x_gradient": (methods.input_x_gradient, dict(model=NET, x=X, target=1)),
    "methods.cam": (methods.cam, dict(model=NET, x=X, target=1)),
    "methods.gradcam": (methods.gradcam, dict(model=NET, x=X, target=1, layer=LAYER)),
    "methods.gradcam_plus_plus": (methods.gradcam_plus_plus, dict(model=NET, x=X, target=1, layer=LAYER)),
    "methods.guided_gradcam": (methods.guided_gradcam, dict(model=NET, x=X, target=1, layer=LAYER)),
    "methods.integrated_gradients": (methods.integrated_gradients, dict(model=NET, x=X, target=1, n_steps=4)),
    "methods.smoothgrad": (_smoothgrad, dict(x=X, target=1, n_samples=2, seed=0)),
    "methods.occlusion": (methods.occlusion, dict(model=NET, x=X, target=1, window=4, stride=4, batch_size=4)),
    "methods.lrp": (methods.lrp, dict(model=NET, x=X, target=1)),
    "methods.feature_ablation": (methods.feature_ablation, dict(model=NET, x=X, target=1, baselines=X * 0.5,
                                                                feature_mask=MASK8, perturbations_per_eval=2)),
    "methods.shapley_values": (methods.shapley_values, dict(model=NET, x=X, target=1, baselines=X * 0.5,
                                                            feature_mask=MASK8)),
    "methods.shapley_value_sampling": (methods.shapley_value_sampling,
                                       dict(model=NET, x=X, target=1, baselines=X * 0.5, feature_mask=MASK8,
                                            n_samples=2, seed=0)),
    "methods.kernel_shap": (methods.kernel_shap, dict(model=NET, x=X, target=1, baselines=X * 0.5, feature_mask=MASK8,
                                                      n_samples=6, seed=0)),
    "methods.lime": (methods.lime, dict(model=NET, x=X, target=1, baselines=X * 0.5, feature_mask=MASK8, n_samples=6,
                                        seed=0)),
    "methods.hirescam": (methods.hirescam, dict(model=NET, x=X, target=1, layer=LAYER)),
    "methods.xgradcam": (methods.xgradcam, dict(model=NET, x=X, target=1, layer=LAYER)),
    "methods.layercam": (methods.layercam, dict(model=NET, x=X, target=1, layer=LAYER)),
    "methods.random_cam": (methods.random_cam, dict(model=NET, x=X, target=1, layer=LAYER, seed=0)),
    "methods.eigencam": (methods.eigencam, dict(model=NET, x=X, target=1, layer=LAYER)),
    "methods.eigengradcam": (methods.eigengradcam, dict(model=NET, x=X, target=1, layer=LAYER)),
    "methods.scorecam": (methods.scorecam, dict(model=NET, x=X, target=1, layer=LAYER)),
    "methods.ablationcam": (methods.ablationcam, dict(model=NET, x=X, target=1, layer=LAYER)),
    "methods.fullgrad": (methods.fullgrad, dict(model=NET, x=X, target=1)),
    "methods.deeplift": (methods.deeplift, dict(model=NET, x=X, target=1, baselines=0.0)),
    "methods.deeplift_shap": (methods.deeplift_shap, dict(model=NET, x=X, target=1, baselines=X)),
    "methods.gradient_shap": (methods.gradient_shap, dict(model=NET, x=X, target=1, baselines=X, n_samples=2, seed=0)),
    "methods.gradient_shap_draws": (methods.gradient_shap_draws, dict(x=X, baselines=X, n_samples=2, seed=0)),
    "methods.layer_conductance": (methods.layer_conductance, dict(model=NET, x=X, target=1, layer=LAYER, n_steps=4)),
    "methods.internal_influence": (methods.internal_influence, dict(model=NET, x=X, target=1, layer=LAYER, n_steps=4)),
    "methods.neuron_conductance": (methods.neuron_conductance,
                                   dict(model=NET, x=X, target=1, layer=LAYER, neuron=(1, 2, 3), n_steps=4)),
    "methods.layer_integrated_gradients": (methods.layer_integrated_gradients,
                                           dict(model=NET, x=X, target=1, layer=LAYER, n_steps=4)),
    "methods.road": (methods.road, dict(model=NET, x=X, target=1, attributions=X, percentiles=(10, 50), seed=0)),
    "methods.infidelity": (methods.infidelity, dict(model=NET, x=X, target=1, attributions=X, n_perturb_samples=2,
                                                    seed=0)),
    "methods.sensitivity_max": (_sensitivity_max, dict(x=X, target=1, n_perturb_samples=2, seed=0)),
    "methods.noisy_linear_imputation": (methods.noisy_linear_imputation, dict(image=X[0], removed=MASKS[0], seed=0)),
    "demos.attribution_display.visualize_image_attr": (demo_display.visualize_image_attr,
                                                       dict(attr=X[0], original_image=X[1], method="blended_heat_map")),
    "demos.attribution_display.normalized_attribution": (demo_display.normalized_attribution, dict(attr=MAPS[0])),
    "methods.layer_lrp": (methods.layer_lrp, dict(model=NET, x=X, target=1, layer=LAYER)),
    "methods.excitation_backprop": (methods.excitation_backprop, dict(model=NET, x=X, target=1)),
    "methods.fgsm": (methods.fgsm, dict(model=NET, x=X, target=1, eps=0.01)),
    "methods.pgd": (methods.pgd, dict(model=NET, x=X, target=1, eps=0.01, step=0.005, steps=2, seed=0)),
    "methods.fooling_image": (methods.fooling_image, dict(model=NET, x=X[:1], target=1, max_steps=2)),
    "methods.optimize_input": (methods.optimize_input, dict(model=NET, objective=_objective(), x0=X, steps=2, lr=0.1,
                                                            seed=0, progress_bar=False)),
    "methods.class_model_visualization": (methods.class_model_visualization, dict(
        model=NET, target=1, shape=(3, 8, 8), seed=0, steps=2, progress_bar=False)),
    "methods.deep_dream": (methods.deep_dream, dict(model=NET, x=X[:1], layer=LAYER, octaves=1, steps=2, seed=0)),
    "methods.feature_inversion": (methods.feature_inversion, dict(model=NET, x=X[:1], layer=LAYER, steps=2, seed=0,
                                                                  progress_bar=False)),
    "methods.texture_synthesis": (methods.texture_synthesis, dict(model=NET, texture=X[0], layers=[LAYER], steps=2,
                                                                  seed=0, progress_bar=False)),
    "methods.style_transfer": (methods.style_transfer, dict(model=NET, content_image=X[0], style_image=X[1],
                                                            content_layer=LAYER, style_layers=[LAYER], steps=2,
                                                            seed=0, progress_bar=False)),
    "methods.unit_visualization": (methods.unit_visualization, dict(model=NET, layer=LAYER, unit=1, shape=(3, 8, 8),
                                                                    seed=0, steps=2, progress_bar=False)),
    "methods.model_randomization": (methods.model_randomization, dict(method=methods.saliency, model=NET, x=X,
                                                                      target=1, seed=0)),
    "methods.activations": (methods.activations, dict(model=NET, x=X, layers=[LAYER], batch_size=2)),
    "methods.activation_statistics": (methods.activation_statistics, dict(model=NET, data=X, layer=LAYER,
                                                                          batch_size=2)),
    "methods.top_patches": (methods.top_patches, dict(model=NET, data=X, layer=LAYER, channel=1, k=2, batch_size=2)),
    "methods.filter_smoothness": (methods.filter_smoothness, dict(weight=W4)),
    "methods.bilinear_resize": (methods.bilinear_resize, dict(maps=MAPS, size=(4, 4))),
    "methods.resize": (methods.resize, dict(maps=MAPS, size=(4, 4))),
    "methods.ssim": (methods.ssim, dict(a=MAPS[0], b=MAPS[1], window=3)),
    "methods.rank_correlation": (methods.rank_correlation, dict(a=MAPS[0], b=MAPS[1])),
    "methods.localization_score": (methods.localization_score, dict(maps=MAPS, masks=MASKS)),
    "methods.gram_matrix": (methods.gram_matrix, dict(A=X)),
    "methods.tv_loss": (methods.tv_loss, dict(x=X)),
    "methods.image_transforms.Jitter": (methods.image_transforms.Jitter, dict(pixels=2)),
    "methods.image_transforms.Pad": (methods.image_transforms.Pad, dict(pixels=2)),
    "methods.regularizers.GaussianBlur": (methods.regularizers.GaussianBlur, dict(sigma=1.0, every=1)),
    "methods.objectives.class_score": (methods.objectives.class_score, dict(c=1)),
    "methods.objectives.class_probability": (methods.objectives.class_probability, dict(c=1)),
    "methods.objectives.channel": (methods.objectives.channel, dict(layer=LAYER, k=1)),
    "methods.objectives.neuron": (methods.objectives.neuron, dict(layer=LAYER, k=1, i=0, j=0)),
    "methods.objectives.direction": (methods.objectives.direction, dict(layer=LAYER, v=np.ones(6))),
    # tsne
    "tsne.TSNE": (_tsne_fit, dict(X=TX, perplexity=5.0, max_iter=250, random_state=0, n_components=2)),
    "tsne.conditional_probabilities": (tsne.conditional_probabilities, dict(sq_distances=SQ, perplexity=5.0)),
    "tsne.joint_probabilities": (tsne.joint_probabilities, dict(distances=SQ, perplexity=5.0)),
    "tsne.kl_divergence": (tsne.kl_divergence, dict(P=P, Y=Y2)),
    "tsne.PerplexityBasedNN": (tsne.PerplexityBasedNN, dict(X=TX, perplexity=5.0)),
    "tsne.Uniform": (tsne.Uniform, dict(X=TX, k_neighbors=5)),
    "tsne.Affinities": (tsne.Affinities, dict(P=P)),
    "tsne.initial_map": (tsne.initial_map, dict(affinities=A_NN, initialization="pca", random_state=0)),
    "tsne.prepare_initial": (tsne.prepare_initial, dict(affinities=A_NN, initialization="random", random_state=0)),
    "tsne.TSNEEmbedding": (tsne.TSNEEmbedding, dict(initial=Y2 * 1e-4, affinities=A_NN)),
    "tsne.spectral_embedding": (tsne.spectral_embedding, dict(P=P, n_components=2, random_state=0)),
    "tsne.uniform_affinities_nn": (tsne.uniform_affinities_nn, dict(neighbor_indices=_NN[0])),
    "tsne.choose_perplexity": (tsne.choose_perplexity, dict(X=TX, perplexities=[3.0, 5.0], max_iter=250,
                                                            random_state=0)),
    "tsne.pbic": (tsne.pbic, dict(kl_divergence=0.5, perplexity=5.0, n_samples=30)),
    "tsne.approximate_nearest_neighbors": (tsne.approximate_nearest_neighbors, dict(X=TX, k=3, random_state=0)),
    "tsne.kl_divergence_bh": (tsne.kl_divergence_bh, dict(P=P_NN, Y=Y2)),
    "tsne.kl_divergence_fft": (tsne.kl_divergence_fft, dict(P=P_NN, Y=Y2)),
    "tsne.nearest_neighbors": (tsne.nearest_neighbors, dict(X=TX, k=3)),
    "tsne.pca": (tsne.pca, dict(X=TX, n_components=2)),
    "tsne.squared_distances": (tsne.squared_distances, dict(X=TX)),
    # demos
    "demos.shapes.make_shapes": (demo_shapes.make_shapes, dict(n=2, size=16, channels=3, seed=0)),
    "demos.images.photograph": (demo_images.photograph, dict(size=16)),
    "demos.images.procedural_texture": (demo_images.procedural_texture, dict(size=16, seed=0)),
}

# Big models: their good calls take seconds, so only bad arguments are tried (refused before any
# weight is drawn).
BIG = {f"layers.{n}": getattr(L, n) for n in ("alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
                                                "vgg16_bn", "vgg19", "vgg19_bn", "resnet18", "resnet34", "resnet50",
                                                "mobilenet_v2", "AlexNet", "MobileNetV2", "demos.gallery_model")
       if hasattr(L, n)}
BIG["demos.gallery_model"] = demos.gallery_model
for _n, _f in BIG.items():
    BASE.setdefault(_n, (_f, dict(name="shapes") if _n == "demos.gallery_model" else {}))

# public callables that take no argument of any kind, or whose kinds are walked elsewhere
NOT_WALKED = {
    "layers.VGG": "takes a built `features` Sequential; its rng/dtype reach Conv2d/Linear, walked there",
    "layers.ResNet": "takes a block class and layer counts; rng/dtype reach Conv2d/Linear, walked there",
    "layers.progress": "a progress bar over any iterable",
    "methods.receptive_field": "takes a model and a layer only",
    "methods.filters": "takes a layer only",
    "methods.dissection": "walked by tests/test_bad_inputs_methods.py (needs concept masks)",
    "methods.concept_masks": "walked by tests/test_bad_inputs_methods.py",
    "methods.content_loss": "takes graph Tensors inside an objective",
    "methods.style_loss": "takes graph Tensors inside an objective",
    "minigrad.grad": "its `seed` is the output gradient (an array), walked by tests/test_bad_inputs_minigrad.py",
    "minigrad.irfft2": "an internal op of the Fourier parameterisation",
    "minigrad.batch_norm": "walked through BatchNorm1d/2d",
    "tsne.joint_probabilities_nn": "takes neighbour indices, walked by tests/test_bad_inputs_tsne.py",
    "demos.mnist.read_idx": "file kinds below",
    "demos.mnist.load_mnist": "file kinds below",
}

# ---------------------------------------------------------------- kinds, from parameter names
SIZE_NAMES = {"kernel_size", "stride", "padding", "dilation", "window", "size", "output_size", "batch_size",
              "n_steps", "steps", "max_steps", "n", "k", "n_samples", "epochs", "octaves", "channels", "in_channels",
              "out_channels", "num_features", "in_features", "out_features", "groups", "n_components",
              "num_classes", "channel", "unit", "max_iter", "internal_batch_size", "nt_samples_batch_size",
              "n_directions", "width", "input_size", "first_kernel", "first_stride", "num_concepts", "inplanes",
              "planes", "inp", "oup", "expand_ratio", "n_iter_without_progress", "callback_every", "batch",
              "pixels", "every", "c", "i", "j", "base_width", "width_per_group", "round_nearest"}
SEED_NAMES = {"seed", "rng", "random_state"}
ARRAY_KINDS = ("complex", "operand", "nan_inf", "empty")
# NaN/inf and empty arrays are valid NumPy data for the autodiff core's ops (PyTorch propagates NaN
# through max-pool; an empty tensor is a tensor): those kinds apply to the functions that take *data*.
DATA_PACKAGES = ("layers.", "methods.", "tsne.")
# NaN in, NaN out, on purpose: losses and objectives are graph Tensors (PyTorch's losses propagate
# NaN; fit stops on a NaN loss, naming the epoch and step), and resizing interpolates whatever it is
# given (the CAM family upsamples maps with it)
NAN_PROPAGATES = ("layers.cross_entropy", "layers.mse_loss", "methods.gram_matrix", "methods.tv_loss",
                  "methods.bilinear_resize", "methods.resize")
# an empty batch is a valid graph Tensor for the objectives (an empty Gram batch, as in NumPy)
EMPTY_IS_VALID = ("methods.gram_matrix", "methods.tv_loss")


def signature_of(fn):
    return inspect.signature(getattr(fn, "signature_of", fn))


def kinds_of(qualname, pname, base_value, default):
    value = base_value if base_value is not inspect.Parameter.empty else default
    kinds = []
    if pname == "dtype":
        kinds.append("dtype")
    if pname in SEED_NAMES and not qualname.startswith("minigrad.grad"):
        kinds.append("seed")
    if pname in SIZE_NAMES and (isinstance(value, (int, np.integer, tuple)) and not isinstance(value, bool)
                                or value is None and pname in ("stride", "internal_batch_size")):
        kinds.append("size")
    if pname == "target" and qualname.startswith("methods.") and qualname.count(".") == 1:
        kinds.append("target")
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        kinds += ["complex", "operand"]
        if qualname.startswith(DATA_PACKAGES):
            if qualname not in EMPTY_IS_VALID:
                kinds.append("empty")
            if qualname not in NAN_PROPAGATES:
                kinds.append("nan_inf")
    return kinds


BAD = {
    "complex": lambda v: [v + 1j],
    "operand": lambda v: [None, "abc", object()],
    "nan_inf": lambda v: [_with(v, np.nan), _with(v, np.inf)],
    "empty": lambda v: [v[:0]],
    "dtype": lambda v: ["str", np.float16, np.int32, np.complex128, "banana"],
    "size": lambda v: [2.5, "3", True],
    "seed": lambda v: [-1, 1.5, "0", True],
    "target": lambda v: [[0, 1, 2], 99, -1, 1.5, "cat"],
}
# values that must be ACCEPTED
GOOD = {"seed": lambda v: [np.random.default_rng(0)]}


def _with(v, bad):
    v = np.array(v, copy=True)
    v.flat[0] = bad
    return v


def public_callables():
    """(qualified name, callable) for every public function and class of the packages."""
    out, seen = {}, set()
    for mod in (mg, L, methods, tsne, demos, demo_mnist, demo_shapes, demo_images, demo_display, methods.objectives,
                methods.regularizers, methods.image_transforms, methods.parameterizations):
        names = getattr(mod, "__all__", None) or [n for n in vars(mod) if not n.startswith("_")]
        for n in names:
            obj = getattr(mod, n)
            if callable(obj) and id(obj) not in seen and \
                    getattr(obj, "__module__", "").split(".")[0] in ("minigrad", "layers", "methods", "tsne", "demos"):
                seen.add(id(obj))  # one name per object: methods.content_loss is methods.objectives.content_loss
                out[f"{mod.__name__}.{n}"] = obj
    return out


def public_functions_missing_a_base_call():
    missing = []
    for qn, fn in public_callables().items():
        if qn in BASE or qn in NOT_WALKED or fn in [f for f, _ in BASE.values()]:
            continue
        try:
            params = signature_of(fn).parameters.values()
        except (TypeError, ValueError):
            continue
        if any(kinds_of(qn, p.name, inspect.Parameter.empty, p.default) for p in params
               if p.name in SEED_NAMES | SIZE_NAMES | {"dtype", "target"}):
            missing.append(qn)
    return missing


def cases():
    """(kind, case id, call, argument name, must_accept) for every registered function."""
    out = []
    for qn, (fn, base) in BASE.items():
        params = signature_of(fn).parameters
        for pname, p in params.items():
            if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            bv = base.get(pname, inspect.Parameter.empty)
            for kind in kinds_of(qn, pname, bv, p.default):
                good_value = bv if bv is not inspect.Parameter.empty else p.default
                for i, bad in enumerate(BAD[kind](good_value)):
                    out.append((kind, f"{qn}({pname}={_label(bad)})", _call(fn, base, pname, bad), pname, False))
                if kind in GOOD and qn not in BIG:
                    for good in GOOD[kind](good_value):
                        out.append((kind, f"{qn}({pname}={_label(good)}) accepted", _call(fn, base, pname, good),
                                    pname, True))
    out += special_cases()
    return out


def _label(v):
    if isinstance(v, np.ndarray):
        return f"array{v.shape}{'' if v.dtype.kind != 'c' else ' complex'}" + \
               (" nan" if v.size and v.dtype.kind == "f" and np.isnan(v.flat[0]) else
                " inf" if v.size and v.dtype.kind == "f" and np.isinf(v.flat[0]) else "")
    if isinstance(v, type):
        return v.__name__
    if isinstance(v, np.random.Generator):
        return "Generator"
    return repr(v) if not type(v) is object else "object()"


def _call(fn, base, pname, value):
    return lambda: fn(**{**base, pname: value})


# ---------------------------------------------------------------- kinds that need a hand-made call
def _idx(labels=None, claimed=None, images=False):
    d = tempfile.mkdtemp(prefix="bad-idx-")
    if images:
        n = 3
        raw = struct.pack(">BBBBIII", 0, 0, 8, 3, claimed or n, 28, 28) + bytes(n * 28 * 28)
        path = os.path.join(d, "train-images-idx3-ubyte")
    else:
        labels = np.asarray(labels, dtype=np.uint8)
        raw = struct.pack(">BBBBI", 0, 0, 8, 1, claimed or len(labels)) + labels.tobytes()
        path = os.path.join(d, "train-labels-idx1-ubyte")
    with open(path, "wb") as f:
        f.write(raw)
    return d, path


def _mnist_dir(labels, claimed=None):
    d, _ = _idx(labels, claimed)
    n = len(labels)
    raw = struct.pack(">BBBBIII", 0, 0, 8, 3, n, 28, 28) + bytes(n * 28 * 28)
    with open(os.path.join(d, "train-images-idx3-ubyte"), "wb") as f:
        f.write(raw)
    return d


def _state_dict_with(key, value):
    net = L.MLP((4, 3, 2), seed=0)
    sd = {k: v.copy() for k, v in net.state_dict().items()}
    sd[key] = value(sd[key])
    return lambda: net.load_state_dict(sd)


def _exploding_fit():
    net = L.MLP((4, 8, 3), seed=0)
    Xb = np.random.default_rng(0).standard_normal((32, 4)) * 1e3
    y = np.arange(32) % 3
    return lambda: L.fit(net, Xb, y, epochs=3, batch_size=8, optimizer=L.SGD(net.parameters(), lr=1e30),
                         progress_bar=False, verbose=False)


def _precomputed(D):
    return lambda: tsne.TSNE(metric="precomputed", init="random", perplexity=2.0, max_iter=250,
                             random_state=0).fit_transform(D)


def _dist():
    D = tsne.squared_distances(TX[:10]) ** 0.5
    return D


def special_cases():
    t = mg.Tensor(V)
    D = _dist()
    neg = D.copy(); neg[0, 1] = neg[1, 0] = -1.0  # noqa: E702
    asym = D.copy(); asym[0, 1] += 1.0  # noqa: E702
    diag = D.copy(); np.fill_diagonal(diag, 1.0)  # noqa: E702
    return [
        ("operand", "Tensor + None", lambda: t + None, "None", False),
        ("operand", "Tensor * 'a'", lambda: t * "a", "str", False),
        ("operand", "Tensor @ object()", lambda: t @ object(), "object", False),
        ("operand", "None - Tensor", lambda: None - t, "None", False),
        ("complex", "Tensor + 1j", lambda: t + 1j, "complex", False),
        ("complex", "load_state_dict(complex weight)", _state_dict_with("1.weight", lambda w: w + 1j), "1.weight",
         False),
        ("nan_inf", "load_state_dict(NaN weight)", _state_dict_with("1.weight", lambda w: _with(w, np.nan)),
         "1.weight", False),
        ("nan_inf", "load_state_dict(inf bias)", _state_dict_with("3.bias", lambda w: _with(w, np.inf)),
         "3.bias", False),
        ("nan_inf", "fit(loss turns NaN/inf)", _exploding_fit(), "learning rate", False),
        ("empty", "cross_entropy(empty batch)", lambda: L.cross_entropy(np.zeros((0, 3)), np.zeros(0, int)),
         "logits", False),
        ("range", "cross_entropy(target 5 of 3 classes)", lambda: L.cross_entropy(V, np.array([0, 1, 5])),
         "target", False),
        ("range", "load_mnist(label 12)", lambda: demo_mnist.load_mnist(_mnist_dir([1, 12, 3])),
         "train-labels-idx1-ubyte", False),
        ("range", "read_idx(header claims 10 items, holds 3)",
         lambda: demo_mnist.read_idx(_idx([1, 2, 3], claimed=10)[1]), "train-labels-idx1-ubyte", False),
        ("range", "read_idx(images header claims 9 of 3)",
         lambda: demo_mnist.read_idx(_idx(images=True, claimed=9)[1]), "train-images-idx3-ubyte", False),
        ("target", "saliency(target list longer than batch)",
         lambda: methods.saliency(NET, X, [0, 1, 2, 3]), "target", False),
        ("target", "fit(y shorter than X)", lambda: L.fit(NET, X, np.array([0]), epochs=1, progress_bar=False,
                                                          verbose=False), "y", False),
        # n = 2 or 3 with perplexity < n is valid in scikit-learn, whose suite runs against TSNE
        ("tsne_samples", "TSNE(n=1)", lambda: tsne.TSNE(perplexity=0.5, init="random").fit_transform(TX[:1]),
         "X", False),
        ("tsne_samples", "TSNE(n <= perplexity)", lambda: tsne.TSNE(perplexity=10.0).fit_transform(TX[:10]),
         "perplexity", False),
        ("precomputed", "TSNE(precomputed negative)", _precomputed(neg), "X", False),
        ("precomputed", "TSNE(precomputed asymmetric)", _precomputed(asym), "X", False),
        ("precomputed", "TSNE(precomputed non-zero diagonal)", _precomputed(diag), "X", False),
        ("memory", "TSNE(exact, 10**7 points)", _huge_exact, "exact", False),
    ]


def _huge_exact():
    # 200 000 points: 6 MB of data, but exact t-SNE's n x n matrices would take 320 GB. Run under a
    # lowered address-space limit so that a missing check fails with MemoryError, not the OOM killer.
    Xh = np.random.default_rng(0).random((200_000, 4))
    with address_space_limit(3 << 30):
        return tsne.TSNE(method="exact", perplexity=5.0).fit_transform(Xh)


class address_space_limit:
    """Lower the soft RLIMIT_AS to (current size + extra bytes) inside the block."""

    def __init__(self, extra):
        self.extra = extra

    def __enter__(self):
        try:
            import resource
        except ImportError:
            self.old = None
            return self
        self.resource = resource
        self.old = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm") as f:
            current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        hard = self.old[1]
        limit = current + self.extra
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            self.resource.setrlimit(self.resource.RLIMIT_AS, self.old)


def classify(call, name, must_accept=False):
    """'clear', 'unclear', 'silent' or 'crash' (and the message)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except (ValueError, TypeError) as e:
            if must_accept:
                return "unclear", f"refused a valid value: {type(e).__name__}: {e}"
            return ("clear" if name.lower() in str(e).lower() else "unclear"), f"{type(e).__name__}: {e}"
        except MemoryError as e:
            return "unclear", f"MemoryError: {e}"
        except Exception as e:  # noqa: BLE001
            return ("clear" if must_accept is None else "unclear"), f"{type(e).__name__}: {e}"
        except BaseException as e:  # noqa: BLE001
            return "crash", f"{type(e).__name__}: {e}"
    return ("clear" if must_accept else "silent"), "returned"
