"""Layers as embeddings (lectures 000 and 002): t-SNE of successive layers of LeNet with PCA beside
it, PCA vs t-SNE on a swiss roll with a noise dimension, and a perplexity sweep."""
import os

import numpy as np

import methods
from demos import plots
from demos.digits import load_digits
from demos.figure import Figure
from tsne import TSNE, pca


def _tsne(X, ctx, perplexity=30.0):
    """Exact t-SNE for the gallery's small sets (it compiles 4x faster than Barnes-Hut, and is exact)."""
    # the gallery draws its own progress: no t-SNE bar inside it
    model = TSNE(perplexity=perplexity, method="exact", random_state=ctx.seed, max_iter=300 if ctx.quick else 750,
                 progress_bar=False)
    return model.fit_transform(X), model.kl_divergence_


def layer_embeddings(ctx):
    net = ctx.lenet.model
    if ctx.lenet.info["dataset"] == "digits":
        X, y = load_digits()
    else:
        X, y = ctx.lenet.data["X_test"], ctx.lenet.data["y_test"]
    n = 400 if ctx.quick else 600
    X, y = X[:n], y[:n]
    stages = [("input", None), ("conv1 + pool", net.features[2]), ("conv2 + pool", net.features[5]),
              ("fc1", net.classifier[2]), ("fc2", net.classifier[4])]
    acts = methods.activations(net, X, [m for _, m in stages if m is not None])
    feats = [X.reshape(n, -1) if m is None else acts[m].reshape(n, -1) for _, m in stages]
    fig, axes = plots.charts(2, len(stages), 2.3, 2.3)
    numbers = {}
    for j, ((name, _), F) in enumerate(zip(stages, feats)):
        F = F.astype(np.float64)
        plots.scatter(axes[0, j], pca(F, 2), y, title=f"PCA: {name} ({F.shape[1]}-D)")
        Y, kl = _tsne(F, ctx)
        plots.scatter(axes[1, j], Y, y, title=f"t-SNE: {name}, KL {kl:.2f}")
        numbers[f"KL {name}"] = f"{kl:.3f}"
    plots.save(fig, os.path.join(ctx.out, "layer_embeddings.png"))
    return Figure("layer_embeddings.png", "Each layer as an embedding of the digits",
                  f"{n} digits through LeNet (held-out accuracy {ctx.lenet.info['accuracy']:.3f}): the input and the "
                  "output of successive layers, projected by PCA (top) and by t-SNE (bottom; van der Maaten & Hinton "
                  "2008, perplexity 30, exact gradient). Classes separate more with depth (lecture 002, after "
                  "Fleuret). Colours are the digit labels, which neither projection sees.", numbers)


def swiss_roll(ctx):
    rng = np.random.default_rng(ctx.seed)
    n = 600 if ctx.quick else 1000
    t = 1.5 * np.pi * (1 + 2 * rng.uniform(0, 1, n))
    X = np.c_[t * np.cos(t), 21 * rng.uniform(0, 1, n), t * np.sin(t), 8 * rng.standard_normal(n)]
    Y, kl = _tsne(X, ctx, perplexity=30.0)
    fig, axes = plots.charts(1, 2, 3, 2.8)
    for ax, Z, title in ((axes[0, 0], pca(X, 2), "PCA"), (axes[0, 1], Y, f"t-SNE (KL {kl:.2f})")):
        plots.scatter_values(ax, Z, t, title=title)
    plots.save(fig, os.path.join(ctx.out, "swiss_roll.png"))
    return Figure("swiss_roll.png", "A swiss roll with a noise dimension: PCA vs t-SNE",
                  "A 2-D sheet rolled up in 3-D, plus a fourth dimension of pure noise with the largest variance "
                  "(lecture 002). PCA keeps directions of large variance and mixes the roll's turns; t-SNE keeps "
                  "neighbourhoods, so the colour (the position along the roll) varies smoothly.",
                  {"points": n, "KL": f"{kl:.3f}"})


def perplexity_sweep(ctx):
    X, y = load_digits()
    n = 400 if ctx.quick else 600
    X, y = X[:n].reshape(n, -1).astype(np.float64), y[:n]
    perplexities = (5, 30, 100)
    fig, axes = plots.charts(1, len(perplexities), 3, 3)
    numbers = {}
    for ax, p in zip(axes[0], perplexities):
        Y, kl = _tsne(X, ctx, perplexity=float(p))
        plots.scatter(ax, Y, y, title=f"perplexity {p}: KL {kl:.2f}")
        numbers[f"KL at perplexity {p}"] = f"{kl:.3f}"
    plots.save(fig, os.path.join(ctx.out, "perplexity_sweep.png"))
    return Figure("perplexity_sweep.png", "The perplexity sets the size of a neighbourhood",
                  "t-SNE of the raw 8x8 digits at perplexity 5, 30 and 100: each point's Gaussian width sigma_i is "
                  "set so that 2^H(P_i) equals the perplexity (van der Maaten & Hinton 2008, eq. 4; lecture 000). "
                  "Small values show local structure and split clusters; large values show the global layout.",
                  numbers)


FIGURES = (layer_embeddings, swiss_roll, perplexity_sweep)
