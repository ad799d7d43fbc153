"""Visualization methods built on minigrad's swappable backward rules.

Every method has the signature ``method(model, x, target, **options) -> np.ndarray`` with x
(N, C, H, W) or a single (C, H, W) image, and ``target`` a class index, one index per sample,
or a callable mapping the model's output to one scalar per sample.
"""
import minigrad  # noqa: F401  first: it configures OpenBLAS before NumPy loads
from methods.cam import cam, gradcam, gradcam_plus_plus, guided_gradcam
from methods.gradients import deconvnet, gradient, guided_backprop, input_x_gradient, saliency
from methods.feature_maps import activation_statistics, activations, filters
from methods.integrated_gradients import integrated_gradients, smoothgrad
from methods.localization import localization_score
from methods.occlusion import occlusion
from methods.receptive_fields import receptive_field, top_patches
from methods.relevance_propagation import excitation_backprop, lrp
from methods.sanity import model_randomization, rank_correlation, ssim
from methods.upsample import bilinear_resize

__all__ = ["activation_statistics", "activations", "filters", "receptive_field", "top_patches",
           "bilinear_resize", "cam", "deconvnet", "excitation_backprop", "gradcam", "gradcam_plus_plus", "gradient", "guided_backprop", "guided_gradcam",
           "input_x_gradient", "integrated_gradients", "localization_score", "lrp", "model_randomization", "occlusion",
           "rank_correlation", "saliency", "smoothgrad", "ssim"]
