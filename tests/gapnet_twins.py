"""What the Captum comparisons share: the reference GAPNet in torch (tests/reference/
make_captum_fixtures.py) and the same network, weights copied, in minigrad."""
import os
import sys

import layers as L

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "reference"))
import make_captum_fixtures as ref  # noqa: E402


def minigrad_twin(torch_net):
    """``layers.GAPNet(3, 4, widths=(6, 8))`` with ``torch_net``'s state dict (float64)."""
    net = L.GAPNet(in_channels=3, num_classes=4, widths=(6, 8))
    net.load_state_dict({k: v.detach().numpy() for k, v in torch_net.state_dict().items()})
    return net


def gapnet_twins():
    """(the torch reference GAPNet, the same network in minigrad)."""
    theirs = ref.torch_gapnet()
    return theirs, minigrad_twin(theirs)


def captum_twins():
    """(captum.attr, the torch reference GAPNet, the same network in minigrad); skips the test
    without torch or Captum."""
    import pytest
    pytest.importorskip("torch")
    attr = pytest.importorskip("captum.attr")
    return (attr,) + gapnet_twins()
