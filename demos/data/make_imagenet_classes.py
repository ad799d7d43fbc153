"""Write ``imagenet_classes.txt``: the 1000 ImageNet class names in index order, one per line.

    python demos/data/make_imagenet_classes.py

Source: torchvision 0.29.1's ``torchvision/models/_meta.py``, the list ``_IMAGENET_CATEGORIES``
(the names torchvision's pretrained weights report, ``weights.meta["categories"]``). The script
runs ``pip download --no-deps torchvision==0.29.1`` into a temporary folder, opens the wheel as a
zip, and reads the list with ``ast.literal_eval`` on its assignment: nothing from the wheel is
imported or executed, and torchvision is not installed. Made on 2026-12-06 from
torchvision-0.29.1-cp311-cp311-manylinux_2_28_x86_64.whl (the names are the same in every
platform's wheel: ``_meta.py`` is pure Python).
"""
import ast
import glob
import os
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "imagenet_classes.txt")
VERSION = "0.29.1"
SOURCE = "torchvision/models/_meta.py"
NAME = "_IMAGENET_CATEGORIES"


def categories(wheel):
    """The list assigned to ``_IMAGENET_CATEGORIES`` in the wheel's ``_meta.py``, read as a literal."""
    with zipfile.ZipFile(wheel) as z:
        tree = ast.parse(z.read(SOURCE).decode("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == NAME for t in node.targets):
            return ast.literal_eval(node.value)
    raise ValueError(f"{wheel}: no assignment to {NAME} in {SOURCE}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", f"torchvision=={VERSION}", "-d", tmp],
                       check=True)
        wheel, = glob.glob(os.path.join(tmp, f"torchvision-{VERSION}-*.whl"))
        names = categories(wheel)
    # the checks the rest of the project relies on: one name per line, index order, no blank or repeated name
    if len(names) != 1000 or len(set(names)) != 1000 or not all(isinstance(n, str) and n.strip() == n and n
                                                                  and "\n" not in n for n in names):
        raise ValueError(f"{NAME}: expected 1000 distinct non-empty one-line names, got {len(names)} "
                         f"({len(set(names))} distinct)")
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(names) + "\n")
    print(f"{len(names)} names written to {OUT}")


if __name__ == "__main__":
    main()
