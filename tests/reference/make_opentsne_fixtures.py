"""Write openTSNE reference values for ``tsne`` to ``opentsne_tsne.npz``.

    pip install -e ".[reference]" && python tests/reference/make_opentsne_fixtures.py   (seconds)

openTSNE's heavy-tailed kernel (1 + d^2 / dof)^-dof (Kobak et al. 2019): KL and gradient at a
fixed embedding of 300 digits, by openTSNE's Barnes-Hut at theta = 0 (which is exact), for several
dof. openTSNE leaves the constant 4 of dKL/dy out of its gradient; it is stored as openTSNE
returns it. ``opentsne_cases`` is also called live by the tests when openTSNE imports.

Also openTSNE's FFT embedding of scikit-learn's digits (``digits_fft_embedding``: its defaults
with scikit-learn's schedule: PCA init, 250 iterations at exaggeration 12, 750 at 1; about a
minute), whose KL the tests compare with this package's FFT map.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "opentsne_tsne.npz")
DOFS = (0.5, 1.0, 3.0)


def opentsne_cases():
    import scipy.sparse as sp
    from openTSNE.tsne import kl_divergence_bh

    sys.path.insert(0, HERE)
    from make_tsne_fixtures import PERPLEXITY, small_data

    import tsne  # P from our affinities (checked against scikit-learn's elsewhere): same P both sides

    X, Y = small_data()
    P = tsne.joint_probabilities_nn(*tsne.nearest_neighbors(X, int(3 * PERPLEXITY + 1)), PERPLEXITY)
    csr = sp.csr_matrix((P.data, P.indices, P.indptr), shape=(P.n, P.n))
    out = {"X": X, "Y": Y}
    for dof in DOFS:
        kl, grad = kl_divergence_bh(np.ascontiguousarray(Y), csr, dof, {"theta": 0.0}, should_eval_error=True)
        out[f"dof{dof}.kl"], out[f"dof{dof}.grad"] = np.float64(kl), grad
    return out


def digits_fft_embedding():
    import openTSNE
    from sklearn.datasets import load_digits

    X = load_digits().data.astype(np.float64)
    return np.asarray(openTSNE.TSNE(perplexity=30, negative_gradient_method="fft", n_jobs=1, random_state=0,
                                    initialization="pca", early_exaggeration_iter=250, n_iter=750).fit(X))


if __name__ == "__main__":
    np.savez_compressed(FIXTURE, **opentsne_cases(), digits_fft_Y=digits_fft_embedding())
    print("wrote", FIXTURE)
