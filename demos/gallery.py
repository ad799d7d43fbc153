"""``minigrad gallery``: train (or load) the small networks, draw the lectures' figures, write a page.

    minigrad gallery [--out DIR] [--mnist DIR] [--seed N] [--quick | --full]

Every figure is a function of a ``Context`` (the trained networks, their data, the output folder
and the mode) returning a ``Figure``; a section lists the figure functions of one topic.
"""
import json
import os
import sys
import time
import traceback

import numpy as np

import layers as L
from demos import (figure_code, figures_activations, figures_animation, figures_attribution, figures_dissection,
                   figures_embedding, figures_faithfulness, figures_network, figures_optimization, figures_sanity,
                   figures_texture, figures_weights, gallery_models, page)
from layers import progress

SECTIONS = [
    ("Learned weights", "Lectures 003 (weight templates) and 004 (MLP weights on 2-D input, filters)",
     figures_weights.FIGURES),
    ("Activations, distributions and top patches",
     "Lectures 001 (top regions, receptive fields), 002 (red/blue activation maps), 004 (distributions)",
     figures_activations.FIGURES),
    ("Which pixels matter: occlusion, gradients, CAM, relevance",
     "Lectures 000, 001, 003 and 004 (occlusion, saliency, SmoothGrad, deconvnet, guided backprop, CAM, Grad-CAM)",
     figures_attribution.FIGURES),
    ("Network dissection", "Lecture 001 (Bau et al. 2017)", figures_dissection.FIGURES),
    ("Optimising the input", "Lectures 001 (class models, regularisers, DeepDream, neural style) and 003 "
     "(gradient ascent, adversarial examples, style transfer)", figures_optimization.FIGURES + figures_texture.FIGURES),
    ("Layers as embeddings: PCA and t-SNE", "Lectures 000 (t-SNE, perplexity) and 002 (PCA vs t-SNE, swiss roll, "
     "successive layers)", figures_embedding.FIGURES + figures_animation.FIGURES),
    ("Sanity checks and localisation", "Adebayo et al. 2018; the pointing game on the shapes' masks",
     figures_sanity.FIGURES),
    ("Are the maps faithful? ROAD, infidelity, the CAM family",
     "Rong et al. 2022 (ROAD), Yeh et al. 2019 (infidelity); Grad-CAM's successors as pytorch-grad-cam collects them",
     figures_faithfulness.FIGURES),
]

#: The figures README.md shows, copied to docs/ by ``minigrad gallery --docs docs``.
README_FIGURES = ("attributions.png", "class_models.png", "layer_embeddings.png")


class Context:
    """What the figure functions read: out, seed, quick, progress and the gallery's networks
    (``shapes``, ``shapes_check``, ``lenet``, ``linear``, ``moons``: ``gallery_models.GalleryModel``)."""

    def __init__(self, out, seed, mode, progress_bar):
        # the default is the quick settings: every claim holds with them, and the main job stays
        # within its budget (30 s with the kernels compiled); 'full' draws with more steps and points
        self.out, self.seed, self.quick, self.progress = out, seed, mode != "full", progress_bar
        self.mode = mode

    @staticmethod
    def predict(model, X):
        """The model's outputs for X (cast to the model's dtype), in eval mode."""
        return L.predict(model, np.asarray(X).astype(model.parameters()[0].dtype))


#: The attribute of ``Context`` each gallery network is stored under, and its ``gallery_model`` name.
NETWORKS = (("shapes", "shapes"), ("shapes_check", "shapes_check"), ("lenet", "digits_lenet"),
            ("linear", "digits_linear"), ("moons", "moons_mlp"))


def train_all(ctx, mnist_dir=None):
    """Load (shipped or cached in ``ctx.out/cache``) or train the four networks; -> a dict of what
    each took (for the page)."""
    cache = os.path.join(ctx.out, "cache")
    summary = {}
    for attr, name in progress(NETWORKS, desc="networks", enabled=ctx.progress):
        gm = gallery_models.gallery_model(name, out=cache, seed=ctx.seed, progress_bar=ctx.progress,
                                          mnist_dir=mnist_dir if name == "digits_lenet" else None)
        setattr(ctx, attr, gm)
        source = gm.info["source"]
        how = f"trained in {gm.info.get('seconds', 0):.0f} s" if source == "trained" else source
        summary[f"{attr} network"] = f"accuracy {gm.info['accuracy']:.3f} ({how})"
    return summary


def run(out="gallery", mnist_dir=None, seed=0, mode="default", progress_bar=True, network=None):
    """Write every figure and ``out/index.html``; -> (path of the page, number of failed figures).
    ``network``: None, or (architecture name, ImageNet model from ``imagenet.load_network``), which
    adds a section on that network (``figures_network``; the model is ``ctx.network``)."""
    start = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    ctx = Context(out, seed, mode, progress_bar)
    summary = {"mode": mode, "seed": seed, **train_all(ctx, mnist_dir)}
    extra = []
    if network is not None:
        ctx.arch, ctx.network = network
        extra = [figures_network.section(ctx.arch)]
    sections, failed = [], 0
    for title, lectures, figure_fns in SECTIONS + extra:
        figures, errors = [], []
        for fn in progress(figure_fns, desc=f"{title[:28]:28s}", enabled=progress_bar):
            t = time.perf_counter()
            try:
                fig = fn(ctx)
            except Exception as e:  # one broken figure must not lose the others: report it on the page
                failed += 1
                errors.append(f"{fn.__name__} failed: {type(e).__name__}: {e}")
                traceback.print_exc(file=sys.stderr)
                continue
            fig.numbers["seconds"] = f"{time.perf_counter() - t:.1f}"
            fig.code, fig.notebook = figure_code.library_calls(fn), figure_code.notebook_for(fn)
            figures.append(fig)
        sections.append((title, lectures, figures, errors))
    summary["total time"] = f"{time.perf_counter() - start:.0f} s"
    path = os.path.join(out, "index.html")
    page.write(path, "minigrad: inside small convolutional networks", summary, sections)
    _write_claims(os.path.join(out, "claims.json"), sections)
    return path, failed


def _write_claims(path, sections):
    """``{figure file: {claim: value}}`` for every figure drawn, written atomically."""
    claims = {f.file: {k: (v.item() if hasattr(v, "item") else v) for k, v in f.claims.items()}
              for _, _, figures, _ in sections for f in figures}
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(claims, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
