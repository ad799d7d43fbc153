"""t-SNE while it optimises, as a GIF: the shapes network's penultimate features embedded
by exact t-SNE, one frame every ``_EVERY`` iterations through ``TSNE``'s ``callback``, from the
early-exaggeration phase (van der Maaten & Hinton 2008, sec. 3.4: P multiplied by a factor early on,
so that natural clusters form tight and far apart; TSNE's default, as scikit-learn's, is 12 for the
first 250 iterations) to the final map.

Each frame shows KL(P || Q) of the map it shows, computed here exactly with the *unexaggerated* P.
The callback's own ``kl`` is not that: during early exaggeration it is the objective being
minimised, sum a p_ij log(a p_ij / q_ij) = a KL(P || Q) + a log a (sum p_ij = 1) with a = 12, about
twenty times the true value; and it is computed before the update that produced the map handed over.
"""
import os

import numpy as np

import minigrad
from demos import plots
from demos.figure import Figure
from demos.shapes import CLASSES
from layers import Linear
from tsne import TSNE, kl_divergence, nearest_neighbors
from tsne.affinities import affinities_from_data

_EVERY = 10  # iterations between frames
_K = 5  # neighbours of the k-NN accuracy that measures how far the classes separate
_FRAME_MS, _LAST_FRAME_MS = 100, 2500  # the final map stays on screen before the loop restarts


def _penultimate(model, X, batch_size=64):
    """(N, D) float64: what enters the model's last Linear layer for the images X, in eval mode.

    The last Linear is the one that *runs* last (the first time each runs is the order of
    ``capture``'s keys), not the last registered: a module's attributes need not be in forward order.
    Its input is already flat (after a global pool or a Flatten); the reshape covers a Linear fed
    a map directly."""
    linears = [m for m in model.modules() if isinstance(m, Linear)]
    if not linears:
        raise ValueError(f"model: expected a network ending in a Linear layer, {type(model).__name__} has none")
    X = np.asarray(X).astype(model.parameters()[0].dtype)
    was_training = model.training
    model.eval()  # dropout and batch norm as at test time
    try:
        chunks = []
        with minigrad.no_grad():
            for i in range(0, len(X), batch_size):
                with minigrad.capture(*linears) as acts:
                    model(minigrad.Tensor(X[i:i + batch_size]))
                chunks.append(acts.inputs[list(acts)[-1]].data.reshape(len(X[i:i + batch_size]), -1))
    finally:
        model.train(was_training)
    return np.concatenate(chunks).astype(np.float64)


def _knn_accuracy(Z, labels, k=_K):
    """Leave-one-out k-NN accuracy: the fraction of points whose k nearest other points (Euclidean
    in Z) vote for their own class; a tie goes to the smallest class index."""
    idx, _ = nearest_neighbors(Z, k)
    counts = (labels[idx][:, :, None] == np.arange(labels.max() + 1)).sum(axis=1)  # (n, classes)
    return float(np.mean(counts.argmax(axis=1) == labels))


def _frame_limits(Y):
    """(centre (2,), half-width): the square that holds every point of the map, with a 5 % margin."""
    centre = (Y.max(axis=0) + Y.min(axis=0)) / 2
    return centre, float(np.abs(Y - centre).max()) * 1.05


def _run(F, seed, max_iter):
    """Exact t-SNE of F, keeping every ``_EVERY``-th map. -> (estimator, list of (iteration, Y))."""
    maps = []
    # exact: the gallery's sets are small, and it compiles 4x faster than Barnes-Hut (figures_embedding)
    estimator = TSNE(method="exact", random_state=seed, max_iter=max_iter, callback_every=_EVERY,
                     callback=lambda iteration, Y, kl: maps.append((iteration, Y)), progress_bar=False)
    estimator.fit_transform(F)
    return estimator, maps


class _Frames:
    """One matplotlib figure redrawn per frame: the map coloured by class, its iteration, KL and
    k-NN accuracy, and below it the KL curve of the whole run with the exaggerated phase shaded and
    a cursor. What does not change (legend, the curve's axes) is drawn once and each frame is
    blitted over it (matplotlib's ``animated`` artists): a full redraw took 100 ms a frame.

    Each frame's axes are rescaled to its own map: the map grows from about 1e-4 (the PCA start)
    to tens of units, so fixed limits would show a dot for the first ~100 iterations. The
    half-width of the axes is printed instead, so the growth stays visible as a number."""

    def __init__(self, labels, iterations, kls, early_end, exaggeration):
        self.labels, self.classes = labels, np.unique(labels)
        self.early_end, self.exaggeration = early_end, exaggeration
        self.fig = plots.figure(4.2, 4.9)
        self.ax = self.fig.add_axes([0.03, 0.27, 0.94, 0.63])
        plots.scatter(self.ax, np.zeros((len(labels), 2)), labels, names=CLASSES, s=6)
        plots.legend_below(self.ax)
        self.title = plots.headline(self.fig, 0.955)
        self.phase = plots.corner_text(self.ax, "upper left", "alert")
        self.scale = plots.corner_text(self.ax, "lower right", "note")
        curve = self.fig.add_axes([0.13, 0.07, 0.84, 0.13])
        plots.shade(curve, 0, early_end, f"P x {exaggeration:g}")
        plots.line(curve, iterations, kls)
        curve.set_xlim(0, iterations[-1] * 1.02)  # room for the cursor on the last frame
        curve.set_ylim(0, max(kls) * 1.08)
        plots.strip_axes(curve, "iteration", "KL(P||Q)")
        self.cursor = plots.vline(curve, iterations[0], "cursor")
        self.moving = list(self.ax.collections) + [self.phase, self.scale, self.title, self.cursor]
        for artist in self.moving:
            artist.set_animated(True)
        self.fig.canvas.draw()
        self.background = self.fig.canvas.copy_from_bbox(self.fig.bbox)

    def draw(self, iteration, Y, kl, knn):
        """The frame as an (H, W, 3) uint8 array."""
        for collection, c in zip(self.ax.collections, self.classes):
            collection.set_offsets(Y[self.labels == c])
        centre, half = _frame_limits(Y)
        self.ax.set_xlim(centre[0] - half, centre[0] + half)
        self.ax.set_ylim(centre[1] - half, centre[1] + half)
        early = iteration <= self.early_end
        self.title.set_text(f"iteration {iteration}    KL(P||Q) {kl:.3f}    {_K}-NN accuracy {knn:.2f}")
        self.phase.set_text(f"early exaggeration: P x {self.exaggeration:g}" if early else "")
        self.scale.set_text(f"axes +-{half:.3g}")
        self.cursor.set_xdata([iteration, iteration])
        canvas = self.fig.canvas
        canvas.restore_region(self.background)
        for artist in self.moving:
            self.fig.draw_artist(artist)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    def close(self):
        plots.plt.close(self.fig)


def tsne_animation(ctx):
    X, y = ctx.shapes.data["X_test"], np.asarray(ctx.shapes.data["y_test"])
    n = min(len(X), 240 if ctx.quick else 600)
    max_iter = 400 if ctx.quick else 750
    F, y = _penultimate(ctx.shapes.model, X[:n]), y[:n]
    estimator, maps = _run(F, ctx.seed, max_iter)
    # the P the estimator built (same function, same arguments), for the KL of each shown map
    P = affinities_from_data(F, estimator.perplexity, "exact")
    iterations = [it for it, _ in maps]
    kls = [float(kl_divergence(P, Y)[0]) for _, Y in maps]
    knns = [_knn_accuracy(Y, y) for _, Y in maps]
    early_end = estimator._EXPLORATION_MAX_ITER  # the estimator's exaggerated phase (scikit-learn's 250)
    frames = _Frames(y, iterations, kls, early_end, estimator.early_exaggeration)
    try:
        images = [frames.draw(it, Y, kl, knn) for (it, Y), kl, knn in zip(maps, kls, knns)]
    finally:
        frames.close()
    path = os.path.join(ctx.out, "tsne_animation.gif")
    plots.save_gif(path, images, [_FRAME_MS] * (len(images) - 1) + [_LAST_FRAME_MS])
    early = sum(it <= early_end for it in iterations)  # frames drawn with P exaggerated
    halves = [_frame_limits(Y)[1] for _, Y in maps]
    knn_features = _knn_accuracy(F, y)
    a = estimator.early_exaggeration
    claims = dict(frames=len(images), first_iteration=iterations[0], last_iteration=iterations[-1],
                  exaggeration_frames=early, exaggeration=float(a), exaggeration_iterations=early_end,
                  kl_first=kls[0], kl_exaggeration_end=kls[early - 1], kl_final=kls[-1],
                  kl_estimator=float(estimator.kl_divergence_), knn_first=knns[0], knn_exaggeration_end=knns[early - 1],
                  knn_final=knns[-1], knn_features=knn_features, half_width_first=halves[0],
                  half_width_exaggeration_end=halves[early - 1], half_width_final=halves[-1], points=n,
                  features=F.shape[1], gif_bytes=os.path.getsize(path))
    numbers = {"points": n, "penultimate features": F.shape[1],
               "frames": f"{len(images)}: iterations {iterations[0]}-{iterations[-1]}, every {_EVERY}, "
                         f"{early} with early exaggeration",
               "first frame, end of exaggeration, final: KL(P||Q)":
                   f"{kls[0]:.3f}, {kls[early - 1]:.3f}, {kls[-1]:.3f}",
               f"first frame, end of exaggeration, final: {_K}-NN accuracy":
                   f"{knns[0]:.2f}, {knns[early - 1]:.2f}, {knns[-1]:.2f} ({knn_features:.2f} in the features)",
               "first frame, end of exaggeration, final: half-width of the axes":
                   f"{halves[0]:.3g}, {halves[early - 1]:.3g}, {halves[-1]:.3g}",
               "GIF size": f"{claims['gif_bytes'] / 1e6:.2f} MB"}
    caption = (f"Exact t-SNE (van der Maaten & Hinton 2008, perplexity 30) of {n} held-out shapes as the shapes "
               f"network sees them just before its classifier (the {F.shape[1]} inputs of its last Linear layer), "
               f"a frame every {_EVERY} iterations through TSNE's callback. For the first {early_end} iterations "
               f"P is multiplied by {a:g} (early exaggeration, marked in red; the paper's sec. 3.4): the map stays "
               f"small (axes +-{halves[early - 1]:.2g} at iteration {early_end}) while it takes its layout ({_K}-NN "
               f"accuracy {knns[early - 1]:.2f}, see below); "
               f"released, it spreads out (+-{halves[-1]:.2g}). Each frame's axes fit that frame's map. KL(P||Q) "
               f"is that of the shown map with the true P: {kls[0]:.2f}, {kls[early - 1]:.2f} at the end of "
               f"exaggeration, {kls[-1]:.2f} at the end (the optimiser's own value in the first phase is the "
               f"exaggerated objective, {a:g} (KL + ln {a:g})). Colours are the classes, which t-SNE never sees: "
               f"a vote of each point's {_K} nearest neighbours in the map gives its class for {knns[0]:.0%} of "
               f"the points in the first frame and {knns[-1]:.0%} in the last ({knn_features:.0%} with neighbours "
               f"in the {F.shape[1]}-D features themselves).")
    return Figure("tsne_animation.gif", "t-SNE at work: the penultimate layer over the optimisation", caption,
                  numbers, claims)


FIGURES = (tsne_animation,)
