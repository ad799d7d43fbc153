"""Every method on the real networks (issue 26): ResNet-18 and MobileNetV2 with random weights and
moved BatchNorm statistics, small odd inputs. Grad-CAM, guided backprop and the deconvnet against
Captum on the same torch network; CAM against Grad-CAM (the identity of Selvaraju et al. 2017,
sec. 3.1); LRP's conservation and excitation backprop's winning probabilities through the residual
sums and folded BatchNorms; the looking-inside and image-optimisation methods run end to end."""
import os
import sys

import numpy as np
import pytest

import layers as L
import methods
import tsne

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "reference"))

SIZE = (3, 45, 53)  # odd: stride-2 layers see odd maps


def _randomize_batch_norms(net, rng, shifts=True):
    """BatchNorm weights, biases and running statistics drawn at random (a fresh net has 1, 0, 0, 1)."""
    for m in net.modules():
        if isinstance(m, L.BatchNorm2d):
            c = m.num_features
            m.weight.data = rng.uniform(0.5, 1.5, c).astype(m.weight.dtype)
            m.running_var.data = rng.uniform(0.5, 2.0, c).astype(m.weight.dtype)
            m.bias.data = (rng.standard_normal(c) * 0.1 * shifts).astype(m.weight.dtype)
            m.running_mean.data = (rng.standard_normal(c) * 0.1 * shifts).astype(m.weight.dtype)
    return net.eval()


@pytest.fixture(scope="module")
def resnet():
    return _randomize_batch_norms(L.resnet18(num_classes=10, seed=0), np.random.default_rng(0))


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).uniform(0, 1, (2,) + SIZE)


def _torch_twin(net, builder):
    torch = pytest.importorskip("torch")
    pytest.importorskip("captum")
    import torchvision_nets
    twin = getattr(torchvision_nets, builder)(num_classes=10, dtype=torch.float64)
    twin.load_state_dict({k: torch.tensor(v) for k, v in net.state_dict().items()})
    return twin.eval()


def _close(ours, theirs, tol):
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= tol * np.abs(theirs).max()


def test_gradcam_at_layer4_equals_captums_layer_gradcam(resnet, images):
    import torch
    from captum.attr import LayerAttribution, LayerGradCam
    twin = _torch_twin(resnet, "resnet18")
    target = [3, 7]
    x = torch.tensor(images)
    attr = LayerGradCam(twin, twin.layer4).attribute(x, target=target, relu_attributions=True)
    at_layer = methods.gradcam(resnet, images, target, layer=resnet.layer4, upsample=False)
    assert at_layer.shape == (2, 2, 2)  # 45x53 -> 23x27 -> 12x14 -> 6x7 -> 3x4 -> 2x2
    _close(at_layer, attr[:, 0].detach().numpy(), 1e-6)
    upsampled = LayerAttribution.interpolate(attr, SIZE[1:], interpolate_mode="bilinear")
    _close(methods.gradcam(resnet, images, target, layer=resnet.layer4), upsampled[:, 0].detach().numpy(), 1e-6)


@pytest.mark.parametrize("ours, captums", [("guided_backprop", "GuidedBackprop"), ("deconvnet", "Deconvolution")])
def test_guided_backprop_and_deconvnet_through_residual_sums_equal_captum(resnet, images, ours, captums):
    import captum.attr
    import torch
    twin = _torch_twin(resnet, "resnet18")
    theirs = getattr(captum.attr, captums)(twin).attribute(torch.tensor(images), target=[1, 4])
    _close(getattr(methods, ours)(resnet, images, [1, 4]), theirs.detach().numpy(), 1e-9)


def test_cam_on_resnet_is_gradcam_without_its_relu_times_the_map_size(resnet, images):
    cam = methods.cam(resnet, images, [2, 5], upsample=False)
    grad = methods.gradcam(resnet, images, [2, 5], layer=resnet.layer4, relu=False, upsample=False)
    np.testing.assert_allclose(cam, grad * cam.shape[1] * cam.shape[2], rtol=1e-9, atol=1e-12 * np.abs(cam).max())


def test_lrp_conserves_the_score_through_resnet18_without_biases(images):
    net = _randomize_batch_norms(L.resnet18(num_classes=10, seed=2), np.random.default_rng(2), shifts=False)
    net.fc.bias.data[:] = 0
    r, delta = methods.lrp(net, images, [0, 9], epsilon=0.0, return_convergence_delta=True)
    logits = net(images).data
    assert r.shape == images.shape and np.isfinite(r).all()
    assert np.abs(delta).max() <= 1e-8 * np.abs(logits).max()


def test_excitation_backprop_probabilities_sum_to_one_at_every_stage(resnet, images):
    for layer in (resnet.layer4, resnet.layer3, resnet.layer1, resnet.maxpool):
        p = methods.excitation_backprop(resnet, images, [6, 8], layer=layer, upsample=False)
        np.testing.assert_allclose(p.reshape(2, -1).sum(axis=1), 1.0, rtol=1e-9)
        assert (p >= -1e-12).all()


@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v2"])
def test_every_attribution_method_runs_on_the_real_networks(arch, images, resnet):
    net = resnet if arch == "resnet18" else _randomize_batch_norms(L.mobilenet_v2(num_classes=10, seed=3),
                                                                    np.random.default_rng(3))
    net.float()
    x = images.astype(np.float32)
    layer = net.layer4 if arch == "resnet18" else net.features[18]
    results = {
        "gradient": methods.gradient(net, x, 1), "saliency": methods.saliency(net, x, 1),
        "input_x_gradient": methods.input_x_gradient(net, x, 1), "guided": methods.guided_backprop(net, x, 1),
        "deconvnet": methods.deconvnet(net, x, 1),
        "integrated_gradients": methods.integrated_gradients(net, x, 1, n_steps=8),
        "smoothgrad": methods.smoothgrad(methods.gradient, net, x, 1, n_samples=3),
        "gradcam": methods.gradcam(net, x, 1, layer=layer, relu=False),  # a random net's ReLU may zero it all
        "gradcam++": methods.gradcam_plus_plus(net, x, 1, layer=layer),
        "guided_gradcam": methods.guided_gradcam(net, x, 1, layer=layer),
        "occlusion": methods.occlusion(net, x, 1, window=15, stride=15),
        "lrp": methods.lrp(net, x, 1), "excitation": methods.excitation_backprop(net, x, 1, layer=layer),
        "contrastive": methods.excitation_backprop(net, x, 1, layer=layer, contrastive=True),
    }
    if arch == "resnet18":  # avgpool + fc, CAM's shape
        results["cam"] = methods.cam(net, x, 1)
    else:  # torchvision's MobileNetV2 pools with a function call, not a layer
        with pytest.raises(ValueError, match="use gradcam"):
            methods.cam(net, x, 1)
    for name, r in results.items():
        assert r.shape[0] == 2 and r.shape[-2:] == SIZE[1:], name
        assert np.isfinite(r).all(), name
        assert np.abs(r).max() > 0 or name in ("gradcam++", "guided_gradcam"), name
    net.double()


def test_looking_inside_and_optimising_images_on_resnet(resnet, images):
    net = resnet
    assert methods.filters(net.conv1).shape[0] == 64
    acts = methods.activations(net, images, [net.layer2, net.layer4])
    assert acts[net.layer4].shape[:2] == (2, 512)
    stats = methods.activation_statistics(net, images, net.layer3)
    assert stats["mean"].shape == (256,) and np.isfinite(stats["mean"]).all()
    img, history = methods.class_model_visualization(net, 3, SIZE, preset="simonyan", seed=0, steps=4)
    assert img.shape == SIZE and np.isfinite(img).all()
    assert history["objective"][-1] > history["objective"][0]  # the ascent raised the class score
    unit, _ = methods.unit_visualization(net, net.layer3, 5, SIZE, steps=4, seed=0)
    assert np.isfinite(unit).all()
    dream = methods.deep_dream(net, images[0], net.layer2, octaves=1, steps=2)
    assert dream.shape == SIZE and np.isfinite(dream).all()
    inverted = methods.feature_inversion(net, images[0], net.layer2, steps=3)
    inverted = inverted[0] if isinstance(inverted, tuple) else inverted
    assert inverted.shape == SIZE and np.isfinite(inverted).all()
    masks = (np.random.default_rng(4).uniform(size=(2, 2) + SIZE[1:]) > 0.7)  # 2 concepts per image
    table = methods.dissection(net, net.layer3, images, masks)
    assert table["iou"].shape == (256,) and ((table["iou"] >= 0) & (table["iou"] <= 1)).all()
    features = methods.activations(net, np.random.default_rng(5).uniform(0, 1, (40,) + SIZE), [net.layer4])[net.layer4]
    emb = tsne.TSNE(perplexity=5, random_state=0, max_iter=250).fit_transform(features.mean(axis=(2, 3)))
    assert emb.shape == (40, 2) and np.isfinite(emb).all()
