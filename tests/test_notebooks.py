"""The lessons in notebooks/ (issue #28): each is stored without outputs and runs top to bottom
in a fresh kernel, as a learner would run it; README lists every one."""
import glob
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))


def test_there_are_six_lessons_and_readme_lists_each():
    assert len(NOTEBOOKS) == 6, [os.path.basename(p) for p in NOTEBOOKS]
    readme = open(os.path.join(ROOT, "README.md")).read()
    for path in NOTEBOOKS:
        assert f"notebooks/{os.path.basename(path)}" in readme, os.path.basename(path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p)[:-6] for p in NOTEBOOKS])
def test_the_lesson_is_stored_clean_and_runs_top_to_bottom(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a lesson with no code"
    assert all(c.outputs == [] and c.execution_count is None for c in code), "stored with outputs"
    # run where the lesson's own files would be written, never in the repository
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
