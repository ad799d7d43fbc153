"""The faithfulness and CAM family figures (demos/figures_faithfulness.py) show what their captions
claim: the scores come from the curves drawn, the random baselines behave as baselines, the maps
are scored against the right masks, and the captions print the measured values."""
import json
import os
from types import SimpleNamespace

import numpy as np
import pytest

import layers as L
import methods
from demos import figures_faithfulness, gallery
from demos.figures_attribution import examples
from demos.gallery_models import gallery_model


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return SimpleNamespace(out=str(tmp_path_factory.mktemp("faithfulness")), seed=0, quick=True, mode="quick",
                           progress=False, shapes=gallery_model("shapes"), predict=gallery.Context.predict)


@pytest.fixture(scope="module")
def faithfulness(ctx):
    return figures_faithfulness.faithfulness(ctx)


@pytest.fixture(scope="module")
def cam_family(ctx):
    return figures_faithfulness.cam_family(ctx)


def test_the_section_is_on_the_page():
    sections = {title: fns for title, _, fns in gallery.SECTIONS}
    assert sections["Are the maps faithful? ROAD, infidelity, the CAM family"] == figures_faithfulness.FIGURES


def test_the_examples_are_the_other_figures_examples(ctx):
    x_all, y_all, idx_all = examples(ctx, 6)  # a class each, in order: examples(ctx, n) is its first n
    for n in (2, 3, 6):
        x, y, idx = figures_faithfulness.first_examples(ctx, n)
        assert np.array_equal(idx, idx_all[:n]) and np.array_equal(y, y_all[:n]) and np.array_equal(x, x_all[:n])


def test_mean_height_is_the_mean_of_a_constant_and_of_a_line():
    shares = np.array([0.0, 10, 30, 60])
    assert figures_faithfulness.mean_height(shares, np.full(4, 2.5)) == pytest.approx(2.5)
    assert figures_faithfulness.mean_height(shares, 1 - shares / 60) == pytest.approx(0.5)


def test_the_road_scores_come_from_the_curves_and_start_at_the_models_logit(ctx, faithfulness):
    c = faithfulness.claims
    json.dumps(c)  # plain values, as claims.json needs
    assert os.path.getsize(os.path.join(ctx.out, faithfulness.file)) > 0
    names, shares = c["methods"], np.array(c["percentiles"], dtype=np.float64)
    morf, lerf = np.array(c["morf_curves"]), np.array(c["lerf_curves"])
    assert morf.shape == lerf.shape == (len(names), len(shares)) and names[-1] == "random map"
    # nothing removed at 0%: every curve starts at the target's logit on the intact images
    net, X = ctx.shapes.model, ctx.shapes.data["X_test"]
    idx = np.array(c["indices"])
    y = ctx.shapes.data["y_test"][idx]
    logit = L.predict(net, X[idx])[np.arange(len(idx)), y].mean()
    assert shares[0] == 0 and np.allclose(morf[:, 0], logit, rtol=1e-5) and np.allclose(lerf[:, 0], logit, rtol=1e-5)
    # the areas are the curves' mean heights, the gap their difference
    width = shares[-1] - shares[0]
    for key, curves in (("morf_auc", morf), ("lerf_auc", lerf)):
        by_hand = [((cv[1:] + cv[:-1]) / 2 * np.diff(shares)).sum() / width for cv in curves]
        assert np.allclose(c[key], by_hand, rtol=1e-10)
    assert np.allclose(c["gap"], np.array(c["lerf_auc"]) - np.array(c["morf_auc"]))


def test_the_random_map_is_a_baseline_the_methods_beat(faithfulness):
    c = faithfulness.claims
    gap = dict(zip(c["methods"], c["gap"]))
    # a random order removes the same kind of pixels first and last: MoRF and LeRF agree
    assert abs(gap["random map"]) < 0.1 * max(gap.values()), gap
    assert c["beat_random"] == sorted((m for m in c["methods"][:-1] if gap[m] > gap["random map"]),
                                      key=gap.get, reverse=True)
    # maps made to find the object: removing its pixels first costs far more than removing them last
    for name in ("saliency", "Grad-CAM", "occlusion", "integrated gradients"):
        assert gap[name] > gap["random map"] + 0.25 * max(gap.values()), (name, gap)
    infid = dict(zip(c["methods"], c["infidelity"]))
    assert c["below_random_infidelity"] == [m for m in sorted(infid, key=infid.get)
                                            if m != "random map" and infid[m] < infid["random map"]]
    # the caption prints the measured values
    for text in (f"{len(c['beat_random'])} of {len(c['methods']) - 1} methods",
                 f"random map's {gap['random map']:+.2f}", f"random map's {infid['random map']:.2g}",
                 f"on {c['images']} correctly classified", f"over 0-{c['percentiles'][-1]}% removed"):
        assert text in faithfulness.caption, text


def test_the_cam_shares_are_measured_inside_the_right_masks(ctx, cam_family):
    c = cam_family.claims
    json.dumps(c)
    assert os.path.getsize(os.path.join(ctx.out, cam_family.file)) > 0
    idx = np.array(c["indices"])
    net, x = ctx.shapes.model, ctx.shapes.data["X_test"][idx]
    y, masks = ctx.shapes.data["y_test"][idx], ctx.shapes.data["masks_test"][idx]
    share = dict(zip(c["methods"], c["energy_inside"]))
    assert c["mask_area"] == pytest.approx(masks.mean())
    # Grad-CAM's share, by hand in NumPy from its maps
    maps = np.maximum(methods.gradcam(net, x, y, net.features[-1]), 0)
    assert share["Grad-CAM"] == pytest.approx(((maps * masks).sum(axis=(1, 2)) / maps.sum(axis=(1, 2))).mean())
    # on a network ending ReLU -> global average pooling -> Linear, the gradient at the last ReLU is
    # constant over each channel: HiResCAM and XGrad-CAM give Grad-CAM's map up to a positive factor
    for name in ("HiResCAM", "XGrad-CAM"):
        assert share[name] == pytest.approx(share["Grad-CAM"], abs=1e-5), name
    # the random CAM's share: the mean over its draws, seeds seed, seed + 1, ..., drawn again here
    shares = []
    for k in range(figures_faithfulness.RANDOM_CAM_DRAWS):
        m = np.maximum(methods.random_cam(net, x, y, net.features[-1], seed=ctx.seed + k), 0)
        shares.append((m * masks).sum(axis=(1, 2)) / m.sum(axis=(1, 2)))
    assert share["random CAM"] == pytest.approx(np.mean(shares))


def test_the_cam_caption_groups_the_maps_by_their_distance_to_the_random_cam(cam_family):
    c = cam_family.claims
    share = dict(zip(c["methods"], c["energy_inside"]))
    chance, margin = share["random CAM"], figures_faithfulness.CAM_MARGIN
    groups = c["above_random"] + c["near_random"] + c["below_random"]
    assert sorted(groups) == sorted(m for m in c["methods"] if m != "random CAM")
    assert all(share[m] > chance + margin for m in c["above_random"])
    assert all(share[m] < chance - margin for m in c["below_random"])
    assert all(abs(share[m] - chance) <= margin for m in c["near_random"])
    for name, value in share.items():
        assert f"{name} {value:.2f}" in cam_family.caption, name
    assert f"mean over {figures_faithfulness.RANDOM_CAM_DRAWS} draws, its map the first; {chance:.2f})" \
        in cam_family.caption
