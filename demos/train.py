"""``minigrad train``: train GAPNet on the shapes and LeNet on digits (or MNIST) with the gallery's
'full' settings, and save their weights under fixed names in ``out_dir``."""
import os

from demos import trained_models


def main(out_dir="outputs", mnist_dir=None, seed=0):
    """Train (or load from ``out_dir/cache``) both networks, save them, print held-out accuracies."""
    os.makedirs(out_dir, exist_ok=True)
    cache = os.path.join(out_dir, "cache")
    shapes = trained_models.shapes_gapnet(cache, "full", seed)
    shapes.model.save(os.path.join(out_dir, "gapnet_shapes.npz"))
    print(f"GAPNet on shapes: held-out accuracy {shapes.info['accuracy']:.4f} ({_how(shapes.info)})")
    lenet = trained_models.digits_lenet(cache, "full", seed, mnist_dir)
    name = lenet.info["dataset"].lower()
    lenet.model.save(os.path.join(out_dir, f"lenet_{name}.npz"))
    print(f"LeNet on {name}: held-out accuracy {lenet.info['accuracy']:.4f} ({_how(lenet.info)})")
    print(f"weights saved in {os.path.abspath(out_dir)}")


def _how(info):
    return "loaded from the cache" if info.get("cached") else f"{info['seconds']:.1f} s"
