"""Visualization methods built on minigrad's swappable backward rules.

Every attribution method has the signature ``method(model, x, target, **options) -> np.ndarray``
with x (N, C, H, W) or a single (C, H, W) image (several methods also take Captum's tuple of
inputs, see ``methods.inputs_and_targets``), and ``target`` a class index, one index per
sample, or a callable mapping the model's output to one scalar per sample. The methods that
optimise an image share one loop, ``optimize_input``, with objectives (``methods.objectives``),
regularisers (``methods.regularizers``), transforms (``methods.image_transforms``) and
parameterisations (``methods.parameterizations``) as small parts.
"""
import minigrad  # noqa: F401  first: it configures OpenBLAS before NumPy loads
from methods.adversarial import fgsm, fooling_image, pgd
from methods.cam import cam, gradcam, gradcam_plus_plus, guided_gradcam
from methods.cam_family import eigencam, eigengradcam, hirescam, layercam, random_cam, xgradcam
from methods.cam_scored import ablationcam, scorecam
from methods.conductance import internal_influence, layer_conductance, layer_integrated_gradients, neuron_conductance
from methods.deeplift import deeplift, deeplift_shap
from methods.gradients import deconvnet, gradient, guided_backprop, input_x_gradient, saliency
from methods.dissection import concept_masks, dissection
from methods.faithfulness import infidelity, noisy_linear_imputation, road, sensitivity_max
from methods.feature_ablation import feature_ablation
from methods.feature_maps import activation_statistics, activations, filter_smoothness, filters
from methods.fullgrad import fullgrad
from methods.gradient_shap import gradient_shap, gradient_shap_draws
from methods.image_optimization import (class_model_visualization, deep_dream, feature_inversion,
                                       style_transfer, texture_synthesis, unit_visualization)
from methods.integrated_gradients import integrated_gradients, smoothgrad
from methods.localization import localization_score
from methods.objectives import content_loss, gram_matrix, style_loss, tv_loss
from methods.occlusion import occlusion
from methods.optimize_input import optimize_input
from methods.receptive_fields import receptive_field, top_patches
from methods.relevance_propagation import excitation_backprop, layer_lrp, lrp
from methods.sanity import model_randomization, rank_correlation, ssim
from methods.shapley import shapley_value_sampling, shapley_values
from methods.surrogate_models import kernel_shap, lime
from methods.upsample import bilinear_resize, resize

__all__ = ["ablationcam", "activation_statistics", "activations", "bilinear_resize", "cam",
           "class_model_visualization", "concept_masks", "content_loss", "deconvnet", "deep_dream",
           "deeplift", "deeplift_shap", "dissection", "eigencam", "eigengradcam", "excitation_backprop",
           "feature_ablation", "feature_inversion", "fgsm", "filter_smoothness", "filters", "fooling_image",
           "fullgrad", "gradcam", "gradcam_plus_plus", "gradient", "gradient_shap", "gradient_shap_draws",
           "gram_matrix", "guided_backprop", "guided_gradcam", "hirescam", "infidelity", "input_x_gradient",
           "integrated_gradients", "internal_influence", "kernel_shap", "layer_conductance",
           "layer_integrated_gradients", "layer_lrp", "layercam", "lime", "localization_score", "lrp",
           "model_randomization", "neuron_conductance", "noisy_linear_imputation", "occlusion",
           "optimize_input", "pgd", "random_cam", "rank_correlation", "receptive_field", "resize", "road",
           "saliency", "scorecam", "sensitivity_max", "shapley_value_sampling", "shapley_values",
           "smoothgrad", "ssim", "style_loss", "style_transfer", "texture_synthesis", "top_patches",
           "tv_loss", "unit_visualization", "xgradcam"]
