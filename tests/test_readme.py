"""README's Python examples run as written (in order, in one namespace)."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_examples_run(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write files (a checkpoint)
    text = open(os.path.join(ROOT, "README.md")).read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    # the t-SNE block stands alone: its X is any (n, d) array, not the images above it
    code = [b for b in blocks if "TSNE(" not in b]
    assert len(code) >= 3
    namespace = {}
    for block in code:
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["styled"].shape == (3, 64, 64) and namespace["G"].shape[1:] == (128, 128)  # the shapes network's last ReLU
    assert namespace["cam"].shape == (1, 224, 224) and namespace["small"].shape == (1, 7, 7)
    assert namespace["relevance_map"].shape == (1, 3, 224, 224) and (tmp_path / "resnet18.npz").exists()
