"""README's Python examples run as written (in order, in one namespace)."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_examples_run(capsys):
    text = open(os.path.join(ROOT, "README.md")).read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    # the t-SNE block stands alone: its X is any (n, d) array, not the images above it
    code = [b for b in blocks if "TSNE(" not in b]
    assert len(code) >= 3
    namespace = {}
    for block in code:
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["styled"].shape == (3, 64, 64) and namespace["G"].shape[1:] == (64, 64)
