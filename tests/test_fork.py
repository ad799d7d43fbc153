"""Worker processes started after ``import minigrad``, by every start method, compute what the
parent computes (issue 30): a forked child must not hang or die in a parallel kernel, nor wait
on thread pools whose threads stayed behind in the parent (GNU OpenMP's, t-SNE's Python threads).

Each case runs a script in a subprocess with a timeout, so a hang fails the test instead of CI.
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The parent imports minigrad, runs parallel kernels (a convolution forward and backward, t-SNE
# fits: OpenMP's pool, OpenBLAS's threads and t-SNE's thread pool are all started), then a Pool(2)
# of the chosen start method runs the same work; every array must equal the parent's bit for bit.
SCRIPT = r'''
import sys

import minigrad  # first, as the package's own entry points do
import multiprocessing
import numpy as np

import tsne
from minigrad import Tensor, avg_pool2d, conv2d, grad, max_pool2d, relu


def work(dtype):
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(0)
    t = lambda *shape: Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
    x, w1, b1 = t(4, 3, 18, 18), t(4, 3, 3, 3), t(4)        # small weight gradient (first layer)
    w2, b2 = t(32, 4, 5, 5), t(32)                          # im2col + GEMM
    w3, b3 = t(32, 32, 3, 3), t(32)                         # Winograd F(4x4, 3x3)
    w4 = t(32, 1, 3, 3)                                     # depthwise
    h1 = relu(conv2d(x, w1, b1, padding=1))
    p1 = max_pool2d(h1, 2)                                  # the 2x2 pooling kernel
    h2 = relu(conv2d(p1, w2, b2, stride=1, padding=2))
    h3 = relu(conv2d(h2, w3, b3, padding=1))
    h4 = conv2d(h3, w4, groups=32, padding=1)
    p2 = max_pool2d(h4, 3, stride=2, padding=1)             # general max pool
    p3 = avg_pool2d(p2, 2)
    seed = rng.standard_normal(p3.shape).astype(dtype)
    grads = grad(p3, [x, w1, b1, w2, b2, w3, b3, w4], seed=seed)
    out = [h1.data, p1.data, h2.data, h3.data, h4.data, p2.data, p3.data] + list(grads)
    X = np.random.default_rng(1).standard_normal((60, 8)).astype(dtype)
    for method in ("exact", "barnes_hut"):
        out.append(tsne.TSNE(perplexity=5.0, max_iter=250, method=method, random_state=0).fit_transform(X))
    return out


def same(a, b):
    return len(a) == len(b) and all(u.dtype == v.dtype and np.array_equal(u, v) for u, v in zip(a, b))


if __name__ == "__main__":
    method = sys.argv[1]
    dtypes = ["float64", "float32"]
    before = {d: work(d) for d in dtypes}
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as pool:
        got = pool.map_async(work, dtypes * 2, chunksize=1).get(timeout=90)
    print("pool returned")
    after = {d: work(d) for d in dtypes}  # the parent still computes after forking
    bad = [f"{d} task {i}" for i, d in enumerate(dtypes * 2) if not same(got[i], before[d])]
    bad += [f"{d} parent after the pool" for d in dtypes if not same(after[d], before[d])]
    print("differ: " + ", ".join(bad) if bad else "all equal")
    sys.exit(1 if bad else 0)
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork with OpenMP is a Linux question")
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_worker_pool_computes_the_parents_numbers(method, tmp_path):
    script = tmp_path / "pool_after_import.py"
    script.write_text(SCRIPT)
    env = dict(os.environ)
    env.setdefault("NUMBA_NUM_THREADS", "2")  # the parent's kernels run on threads even on one core
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    try:
        out = subprocess.run([sys.executable, str(script), method], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{method}: the pool hung\n{e.stderr}")
    assert "pool returned" in out.stdout, f"{method}: the pool failed\n{out.stdout}\n{out.stderr[-3000:]}"
    assert out.returncode == 0 and "all equal" in out.stdout, out.stdout + out.stderr[-3000:]


# Not only minigrad's kernels: the user's own parallel Numba function compiled before the fork, one
# defined after it, a module first imported in the child, and a grandchild.
CHILD = r'''
import os
import minigrad
import numba
import numpy as np

@numba.njit(parallel=True)
def twice_plus_one(x):
    out = np.empty_like(x)
    for i in numba.prange(x.size):
        out[i] = 2.0 * x[i] + 1.0
    return out

x = np.arange(1000.0)
expected = twice_plus_one(x)

def in_child():
    @numba.njit(parallel=True)
    def plus_three(x):
        out = np.empty_like(x)
        for i in numba.prange(x.size):
            out[i] = x[i] + 3.0
        return out
    from minigrad.kernels import relu  # its kernel was neither compiled nor loaded before the fork
    ok = np.array_equal(twice_plus_one(x), expected) and np.array_equal(plus_three(x), x + 3.0)
    ok = ok and np.array_equal(relu.relu_forward(x - 500.0), np.maximum(x - 500.0, 0.0))
    pid = os.fork()
    if pid == 0:
        os._exit(0 if np.array_equal(twice_plus_one(x), expected) else 1)
    return ok and os.waitpid(pid, 0)[1] == 0

pid = os.fork()
if pid == 0:
    os._exit(0 if in_child() else 1)
print("child status", os.waitpid(pid, 0)[1])
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork with OpenMP is a Linux question")
def test_every_parallel_numba_function_runs_in_a_forked_child():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("NUMBA_NUM_THREADS", "2")
    try:
        out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=120)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the forked child hung\n{e.stderr}")
    assert out.stdout.strip() == "child status 0", out.stdout + out.stderr[-3000:]
