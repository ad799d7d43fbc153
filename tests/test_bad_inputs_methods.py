"""Bad inputs to methods: every row raises ValueError/TypeError naming its argument."""
import os
import sys

import numpy as np
import pytest

import layers as L
import methods
from methods import image_transforms as T
from methods import objectives as O
from methods import regularizers as R
from minigrad import relevance

sys.path.insert(0, os.path.dirname(__file__))
from bad_inputs import ids, rejects  # noqa: E402

NET = L.GAPNet(in_channels=3, num_classes=4, widths=(4, 6), seed=0)
LAYER = NET.features[-1]
X = np.random.default_rng(0).uniform(0, 1, (2, 3, 8, 8))
M = np.random.default_rng(1).random((2, 8, 8))
MASKS = M > 0.5

TABLE = [
    # the shared front: x and target
    ("x 2-D", lambda: methods.gradient(NET, np.ones((8, 8)), 0), "x"),
    ("x strings", lambda: methods.gradient(NET, np.array([[["a"]]]), 0), "x"),
    ("x NaN", lambda: methods.saliency(NET, np.full((1, 3, 8, 8), np.nan), 0), "x"),
    ("x empty batch", lambda: methods.gradient(NET, np.ones((0, 3, 8, 8)), 0), "x"),
    ("target out of range", lambda: methods.gradient(NET, X, 4), "target"),
    ("target negative", lambda: methods.guided_backprop(NET, X, -1), "target"),
    ("target float", lambda: methods.deconvnet(NET, X, 1.7), "target"),
    ("target wrong count", lambda: methods.input_x_gradient(NET, X, [0, 1, 2]), "target"),
    ("target callable wrong shape", lambda: methods.gradient(NET, X, lambda out: out.sum()), "target"),
    ("occlusion target float", lambda: methods.occlusion(NET, X, 1.7, window=2), "target"),
    ("occlusion batch_size -1", lambda: methods.occlusion(NET, X, 1, window=2, batch_size=-1), "batch_size"),
    ("occlusion batch_size 0", lambda: methods.occlusion(NET, X, 1, window=2, batch_size=0), "batch_size"),
    ("occlusion window 0", lambda: methods.occlusion(NET, X, 1, window=0), "window"),
    ("occlusion window too big", lambda: methods.occlusion(NET, X, 1, window=9), "window"),
    ("occlusion stride float", lambda: methods.occlusion(NET, X, 1, window=2, stride=0.5), "stride"),
    ("occlusion baseline shape", lambda: methods.occlusion(NET, X, 1, window=2, baseline=np.ones(5)), "baseline"),
    ("occlusion baseline NaN", lambda: methods.occlusion(NET, X, 1, window=2, baseline=np.nan), "baseline"),
    ("IG n_steps 0", lambda: methods.integrated_gradients(NET, X, 1, n_steps=0), "n_steps"),
    ("IG method", lambda: methods.integrated_gradients(NET, X, 1, method="simpson"), "method"),
    ("IG trapezoid 1 step", lambda: methods.integrated_gradients(NET, X, 1, n_steps=1, method="riemann_trapezoid"),
     "n_steps"),
    ("IG baseline shape", lambda: methods.integrated_gradients(NET, X, 1, baseline=np.ones((3, 3))), "baseline"),
    ("IG internal_batch_size 0", lambda: methods.integrated_gradients(NET, X, 1, internal_batch_size=0),
     "internal_batch_size"),
    ("smoothgrad n_samples 0", lambda: methods.smoothgrad(methods.saliency, NET, X, 1, n_samples=0), "n_samples"),
    ("smoothgrad noise -0.1", lambda: methods.smoothgrad(methods.saliency, NET, X, 1, noise_level=-0.1),
     "noise_level"),
    ("smoothgrad noise nan", lambda: methods.smoothgrad(methods.saliency, NET, X, 1, noise_level=float("nan")),
     "noise_level"),
    ("smoothgrad kind", lambda: methods.smoothgrad(methods.saliency, NET, X, 1, kind="mean"), "kind"),
    ("smoothgrad method", lambda: methods.smoothgrad("saliency", NET, X, 1), "method"),
    ("gradcam foreign layer", lambda: methods.gradcam(NET, X, 1, L.ReLU()), "layer"),
    ("gradcam 2-D layer", lambda: methods.gradcam(NET, X, 1, NET.gap), "layer"),
    ("cam callable target", lambda: methods.cam(NET, X, lambda out: out[:, 0]), "target"),
    ("cam without GAP", lambda: methods.cam(L.MLP((192, 4)), X, 0), "cam"),
    ("lrp rules not dict", lambda: methods.lrp(NET, X, 1, layer_rules=[1]), "layer_rules"),
    ("lrp foreign layer", lambda: methods.lrp(NET, X, 1, layer_rules={L.ReLU(): "epsilon"}), "layer"),
    ("lrp rule name", lambda: methods.lrp(NET, X, 1, layer_rules={NET.fc: "epsilom"}), "epsilom"),
    ("lrp epsilon negative", lambda: methods.lrp(NET, X, 1, epsilon=-1), "epsilon"),
    ("excitation foreign layer", lambda: methods.excitation_backprop(NET, X, 1, layer=L.ReLU()), "layer"),
    ("excitation classifier", lambda: methods.excitation_backprop(NET, X, 1, contrastive=True, classifier=L.Linear(2, 2)),
     "classifier"),
    ("filters of a ReLU", lambda: methods.filters(L.ReLU()), "layer"),
    ("filters shape", lambda: methods.filters(NET.fc, shape=(5, 5)), "shape"),
    ("activations foreign layer", lambda: methods.activations(NET, X, L.ReLU()), "layers"),
    ("activation_statistics foreign", lambda: methods.activation_statistics(NET, X, L.ReLU()), "layers"),
    ("receptive_field foreign", lambda: methods.receptive_field(NET, L.ReLU()), "layer"),
    ("top_patches channel", lambda: methods.top_patches(NET, X, LAYER, 6), "channel"),
    ("top_patches channel float", lambda: methods.top_patches(NET, X, LAYER, 1.0), "channel"),
    ("top_patches k 0", lambda: methods.top_patches(NET, X, LAYER, 1, k=0), "k"),
    ("activations batch_size 0", lambda: methods.activations(NET, X, LAYER, batch_size=0), "batch_size"),
    ("activation_statistics batch_size", lambda: methods.activation_statistics(NET, X, LAYER, batch_size=-2),
     "batch_size"),
    ("localization shapes", lambda: methods.localization_score(M, MASKS[:1]), "masks"),
    ("localization masks dtype", lambda: methods.localization_score(M, M), "masks"),
    ("localization NaN", lambda: methods.localization_score(np.full_like(M, np.nan), MASKS), "maps"),
    ("ssim window -3", lambda: methods.ssim(M[0], M[1], window=-3), "window"),
    ("ssim window too big", lambda: methods.ssim(M[0], M[1], window=9), "window"),
    ("ssim shapes", lambda: methods.ssim(M[0], M[0, :4], window=3), "a, b"),
    ("ssim 3-D", lambda: methods.ssim(M, M), "a"),
    ("rank_correlation NaN", lambda: methods.rank_correlation([1.0, np.nan, 3.0], [1.0, 2.0, 3.0]), "a"),
    ("rank_correlation sizes", lambda: methods.rank_correlation([1.0, 2.0], [1.0, 2.0, 3.0]), "a, b"),
    ("rank_correlation empty", lambda: methods.rank_correlation([], []), "a"),
    ("bilinear_resize negative", lambda: methods.bilinear_resize(M, (-2, 5)), "size"),
    ("bilinear_resize zero", lambda: methods.bilinear_resize(M, (0, 5)), "size"),
    ("bilinear_resize 1-D", lambda: methods.bilinear_resize(np.ones(5), (2, 2)), "maps"),
    ("model_randomization 3-D x", lambda: methods.model_randomization(methods.gradient, NET, X[0], 0), "x"),
    ("model_randomization method", lambda: methods.model_randomization("gradient", NET, X, 0), "method"),
    ("model_randomization cascade", lambda: methods.model_randomization(methods.gradient, NET, X, 0, cascade="yes"),
     "cascade"),
    # image optimisation
    ("optimize steps 0", lambda: methods.optimize_input(NET, O.class_score(0), X, 0, 0.1), "steps"),
    ("optimize steps float", lambda: methods.optimize_input(NET, O.class_score(0), X, 2.5, 0.1), "steps"),
    ("optimize lr 0", lambda: methods.optimize_input(NET, O.class_score(0), X, 3, 0.0), "lr"),
    ("optimize lr inf", lambda: methods.optimize_input(NET, O.class_score(0), X, 3, float("inf")), "lr"),
    ("optimize x0 NaN", lambda: methods.optimize_input(NET, O.class_score(0), np.full_like(X, np.nan), 3, 0.1), "x0"),
    ("optimize optimizer", lambda: methods.optimize_input(NET, O.class_score(0), X, 3, 0.1, optimizer="rmsprop"),
     "optimizer"),
    ("optimize regularizer type", lambda: methods.optimize_input(NET, O.class_score(0), X, 3, 0.1, regularizers=[3]),
     "regularizers"),
    ("optimize transform type", lambda: methods.optimize_input(NET, O.class_score(0), X, 3, 0.1, transforms=[3]),
     "transforms"),
    ("optimize callback", lambda: methods.optimize_input(NET, O.class_score(0), X, 3, 0.1, callback=3), "callback"),
    ("optimize objective", lambda: methods.optimize_input(NET, "class 0", X, 3, 0.1), "objective"),
    ("objective scaled by NaN", lambda: O.class_score(0) * float("nan"), "objective"),
    ("class model target 4", lambda: methods.class_model_visualization(NET, 4, (3, 8, 8)), "target"),
    ("class model shape", lambda: methods.class_model_visualization(NET, 1, (3, 8)), "shape"),
    ("class model preset", lambda: methods.class_model_visualization(NET, 1, (3, 8, 8), preset="vgg"), "preset"),
    ("unit out of range", lambda: methods.unit_visualization(NET, LAYER, 6, (3, 8, 8)), "unit"),
    ("unit kind", lambda: methods.unit_visualization(NET, LAYER, 1, (3, 8, 8), kind="pixel"), "kind"),
    ("unit batch 0", lambda: methods.unit_visualization(NET, LAYER, 1, (3, 8, 8), batch=0), "batch"),
    ("unit diversity -1", lambda: methods.unit_visualization(NET, LAYER, 1, (3, 8, 8), diversity=-1), "diversity"),
    ("deep_dream octave_scale 0.5", lambda: methods.deep_dream(NET, X, LAYER, octave_scale=0.5), "octave_scale"),
    ("fooling max_steps 0", lambda: methods.fooling_image(NET, X, 1, max_steps=0), "max_steps"),
    ("fooling lr 0", lambda: methods.fooling_image(NET, X, 1, lr=0), "lr"),
    ("fooling objective", lambda: methods.fooling_image(NET, X, 1, objective="margin"), "objective"),
    ("fgsm eps -0.1", lambda: methods.fgsm(NET, X, 1, eps=-0.1), "eps"),
    ("fgsm eps nan", lambda: methods.fgsm(NET, X, 1, eps=float("nan")), "eps"),
    ("pgd step negative", lambda: methods.pgd(NET, X, 1, eps=0.1, step=-0.01, steps=3), "step"),
    ("pgd target float", lambda: methods.pgd(NET, X, 0.5, eps=0.1, step=0.01, steps=3), "target"),
    ("inversion foreign layer", lambda: methods.feature_inversion(NET, X, L.ReLU()), "layer"),
    ("texture no layers", lambda: methods.texture_synthesis(NET, X[0], []), "layers"),
    ("style init", lambda: methods.style_transfer(NET, X[0], X[1], LAYER, [LAYER], init="zeros"), "init"),
    ("style content_layer", lambda: methods.style_transfer(NET, X[0], X[1], L.ReLU(), [LAYER]), "content_layer"),
    ("gram_matrix 3-D", lambda: methods.gram_matrix(np.ones((2, 3, 4))), "A"),
    ("content_loss target shape", lambda: methods.content_loss(np.ones((1, 2, 3, 3)), np.ones((2, 2))), "target"),
    ("style_loss layer count", lambda: methods.style_loss([np.ones((1, 2, 3, 3))], []), "target_grams"),
    ("style_loss weights count", lambda: methods.style_loss([np.ones((1, 2, 3, 3))], [np.eye(2)], [1, 2]), "weights"),
    ("style_loss gram size", lambda: methods.style_loss([np.ones((1, 2, 3, 3))], [np.eye(3)]), "target_grams"),
    ("tv_loss beta 0", lambda: methods.tv_loss(np.ones((1, 1, 4, 4)), beta=0), "beta"),
    ("tv_loss 1-pixel", lambda: methods.tv_loss(np.ones((1, 1, 1, 4))), "x"),
    ("L2 weight negative", lambda: R.L2(-1.0), "weight"),
    ("AlphaNorm alpha 0", lambda: R.AlphaNorm(0.1, alpha=0), "alpha"),
    ("Decay theta 1", lambda: R.Decay(1.0), "theta"),
    ("GaussianBlur every 0", lambda: R.GaussianBlur(1.0, every=0), "every"),
    ("ClipNorm percentile 100", lambda: R.ClipNorm(100), "percentile"),
    ("Clamp low >= high", lambda: R.Clamp(1.0, 0.0), "low, high"),
    ("Jitter negative", lambda: T.Jitter(-1), "pixels"),
    ("RandomScale zero", lambda: T.RandomScale((0.0,)), "scales"),
    ("RandomRotate empty", lambda: T.RandomRotate(()), "angles"),
    ("Pad float", lambda: T.Pad(1.5), "pixels"),
    ("parameterization name", lambda: methods.optimize_input(NET, O.class_score(0), X, 3, 0.1, parameterization="dct"),
     "parameterization"),
    ("dissection masks dtype", lambda: methods.dissection(NET, LAYER, X, M[:, None]), "masks"),
    ("dissection masks count", lambda: methods.dissection(NET, LAYER, X, MASKS[:1, None]), "masks"),
    ("dissection quantile 1", lambda: methods.dissection(NET, LAYER, X, MASKS, quantile=1.0), "quantile"),
    ("concept_masks labels", lambda: methods.concept_masks(MASKS, np.array([0]), 2), "labels"),
    ("gamma rule negative", lambda: relevance.gamma(-0.5), "gamma"),
]


@pytest.mark.parametrize("case, call, name", TABLE, ids=ids(TABLE))
def test_bad_input(case, call, name):
    rejects(call, name)
