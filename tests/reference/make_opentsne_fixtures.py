"""Write openTSNE reference values for ``tsne`` to ``opentsne_tsne.npz``.

    pip install -e ".[reference]" && python tests/reference/make_opentsne_fixtures.py   (seconds)

openTSNE's heavy-tailed kernel (1 + d^2 / dof)^-dof (Kobak et al. 2019): KL and gradient at a
fixed embedding of 300 digits, by openTSNE's Barnes-Hut at theta = 0 (which is exact), for several
dof. openTSNE leaves the constant 4 of dKL/dy out of its gradient; it is stored as openTSNE
returns it. ``opentsne_cases`` is also called live by the tests when openTSNE imports.
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
    P = tsne.affinities.affinities_from_data(X, PERPLEXITY, "barnes_hut")
    csr = sp.csr_matrix((P.data, P.indices, P.indptr), shape=(P.n, P.n))
    out = {"X": X, "Y": Y}
    for dof in DOFS:
        kl, grad = kl_divergence_bh(np.ascontiguousarray(Y), csr, dof, {"theta": 0.0}, should_eval_error=True)
        out[f"dof{dof}.kl"], out[f"dof{dof}.grad"] = np.float64(kl), grad
    return out


if __name__ == "__main__":
    np.savez_compressed(FIXTURE, **opentsne_cases())
    print("wrote", FIXTURE)
