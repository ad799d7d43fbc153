"""The toy models of Captum's unit tests (captum tests/attr/helpers/basic_models.py and
classification_models.py), written in minigrad, with the same weights where Captum fixes them, and
Captum's comparison, ``assert_almost_equal``. The tests that reproduce Captum's cases
(tests/test_captum_*.py) run on these, so their hand-computed expected values apply unchanged.

Models whose weights Captum leaves to torch's random initialisation take an ``rng`` here; the cases
that use them compare methods with each other or with an identity, never with a stored number.
"""
import numpy as np

import layers as L
from minigrad import as_tensor, concatenate, relu, sigmoid, softmax, stack, tanh


def assert_almost_equal(actual, expected, delta=1e-4, mode="sum"):
    """Captum's ``assertTensorAlmostEqual``: the same shape, and the sum (mode "sum") or the largest
    (mode "max") of the absolute differences at most ``delta``, in the dtype of ``actual`` (so that
    Captum's exact float32 comparisons stay exact)."""
    actual = np.asarray(actual)
    dtype = actual.dtype if actual.dtype.kind == "f" else np.float64
    actual, expected = actual.astype(dtype), np.asarray(expected, dtype=dtype)
    assert actual.shape == expected.shape, f"expected shape {expected.shape}, got {actual.shape}"
    diff = np.abs(actual - expected)
    worst = diff.sum() if mode == "sum" else (diff.max() if diff.size else 0.0)
    assert worst <= delta, f"{mode} of |actual - expected| = {worst} > {delta}\n{actual}\n{expected}"


def _set(layer, weight, bias=None):
    """Give a Linear or Conv2d layer fixed float64 weights (and bias)."""
    layer.weight.data = np.asarray(weight, dtype=np.float64)
    if bias is not None:
        layer.bias.data = np.asarray(bias, dtype=np.float64)
    return layer


class BasicModel(L.Module):
    """f(x) = 1 - relu(1 - x), elementwise."""

    def forward(self, x):
        return 1 - relu(1 - as_tensor(x))


class BasicModel2(L.Module):
    """f(x1, x2) = relu(relu(x1) - 1 - relu(x2)) (Sundararajan et al. 2017's first example)."""

    def forward(self, x1, x2):
        return relu(relu(as_tensor(x1)) - 1 - relu(as_tensor(x2)))


class BasicModel3(L.Module):
    """f(x1, x2) = relu(relu(x1 - 1) - relu(x2)) (Sundararajan et al. 2017's second example)."""

    def forward(self, x1, x2):
        return relu(relu(as_tensor(x1) - 1) - relu(as_tensor(x2)))


class BasicModel4_MultiArgs(L.Module):
    """f(x1, x2, a1, a2=0) = relu(relu(x1 - 1) - relu(x2) / a1)[:, a2]."""

    def forward(self, x1, x2, additional_input1, additional_input2=0):
        out = relu(relu(as_tensor(x1) - 1) - relu(as_tensor(x2)) / as_tensor(additional_input1))
        return out[:, additional_input2]


class BasicModel5_MultiArgs(L.Module):
    """f(x1, x2, a1, a2=0) = relu(relu(x1 - 1) a1[0] - relu(x2) a1[1])[:, a2]."""

    def forward(self, x1, x2, additional_input1, additional_input2=0):
        a = additional_input1
        out = relu(relu(as_tensor(x1) - 1) * a[0] - relu(as_tensor(x2)) * a[1])
        return out[:, additional_input2]


class BasicModel6_MultiTensor(L.Module):
    """f(x1, x2) = 1 - relu(1 - (x1 + x2))[:, 1]."""

    def forward(self, x1, x2):
        return 1 - relu(1 - (as_tensor(x1) + as_tensor(x2)))[:, 1]


class ReLUDeepLiftModel(L.Module):
    """f(x1, x2) = 2 relu(x1) + 2 relu(x2 - 1.5), the ReLUs as modules."""

    def __init__(self):
        self.relu1 = L.ReLU()
        self.relu2 = L.ReLU()

    def forward(self, x1, x2):
        return 2 * self.relu1(x1) + 2 * self.relu2(as_tensor(x2) - 1.5)


class TanhDeepLiftModel(L.Module):
    """f(x1, x2) = 2 tanh(x1) + 2 tanh(x2 - 1.5)."""

    def forward(self, x1, x2):
        return 2 * tanh(as_tensor(x1)) + 2 * tanh(as_tensor(x2) - 1.5)


class ReLULinearDeepLiftModel(L.Module):
    """l3(relu(cat(l1(x1), l2(x2)))), l1 = [3, 1, 0], l2 = [2, 3, 0], l3 = [1, 1], no biases."""

    def __init__(self, inplace=False):
        self.l1 = _set(L.Linear(3, 1, bias=False), [[3.0, 1.0, 0.0]])
        self.l2 = _set(L.Linear(3, 1, bias=False), [[2.0, 3.0, 0.0]])
        self.relu = L.ReLU(inplace=inplace)
        self.l3 = _set(L.Linear(2, 1, bias=False), [[1.0, 1.0]])

    def forward(self, x1, x2):
        return self.l3(self.relu(concatenate([self.l1(x1), self.l2(x2)], axis=1)))


class BasicModelWithReusableModules(L.Module):
    """relu(lin2(relu(lin1(x)))): one ReLU module used twice (random weights, from ``rng``)."""

    def __init__(self, rng=0):
        rng = np.random.default_rng(rng)
        self.lin1 = L.Linear(3, 2, rng=rng)
        self.relu = L.ReLU()
        self.lin2 = L.Linear(2, 2, rng=rng)

    def forward(self, x):
        return self.relu(self.lin2(self.relu(self.lin1(x))))


class BasicModel_MultiLayer(L.Module):
    """linear2(relu(linear1(linear0(x + add_input)))): linear0 the identity, linear1 all ones with
    bias (-10, 1, 1, 1), linear2 all ones with bias (-1, 1). ``multidim_output`` stacks the (N, 2)
    output into (N, 2, 2, 2) as Captum's: [[o, 2o], [4o, 8o]] along the last two axes."""

    def __init__(self, inplace=False):
        self.linear0 = _set(L.Linear(3, 3), np.eye(3), np.zeros(3))
        self.linear1 = _set(L.Linear(3, 4), np.ones((4, 3)), [-10.0, 1.0, 1.0, 1.0])
        self.relu = L.ReLU(inplace=inplace)
        self.linear2 = _set(L.Linear(4, 2), np.ones((2, 4)), [-1.0, 1.0])

    def forward(self, x, add_input=None, multidim_output=False):
        x = as_tensor(x) if add_input is None else as_tensor(x) + as_tensor(add_input)
        out = self.linear2(self.relu(self.linear1(self.linear0(x))))
        if not multidim_output:
            return out
        mid = stack([out, 2 * out], axis=2)
        return stack([mid, 4 * mid], axis=3)


class BasicModel_MultiLayer_MultiInput(L.Module):
    """BasicModel_MultiLayer(scale * (x1 + x2 + x3))."""

    def __init__(self):
        self.model = BasicModel_MultiLayer()

    def forward(self, x1, x2, x3, scale):
        return self.model(scale * (as_tensor(x1) + as_tensor(x2) + as_tensor(x3)))


class BasicModel_ConvNet_One_Conv(L.Module):
    """relu2(fc1(relu1(conv1(x + x2)).view(-1, 8))): conv1 3x3 all ones, bias (-50, -75); fc1's
    rows are five ones and three minus ones, its bias 0. For 1x4x4 inputs."""

    def __init__(self, inplace=False):
        self.conv1 = _set(L.Conv2d(1, 2, 3, 1), np.ones((2, 1, 3, 3)), [-50.0, -75.0])
        self.relu1 = L.ReLU(inplace=inplace)
        self.fc1 = _set(L.Linear(8, 4), np.concatenate([np.ones((4, 5)), -np.ones((4, 3))], axis=1), np.zeros(4))
        self.relu2 = L.ReLU(inplace=inplace)

    def forward(self, x, x2=None):
        x = as_tensor(x) if x2 is None else as_tensor(x) + as_tensor(x2)
        x = self.relu1(self.conv1(x))
        return self.relu2(self.fc1(x.reshape(-1, 8)))


class BasicModel_ConvNet(L.Module):
    """conv 1->2 (3x3), ReLU, max-pool 2, conv 2->4 (3x3), ReLU, max-pool 2, fc 4->8 (ones), ReLU,
    fc 8->10 (ones), softmax; for 1x10x10 inputs. Convolutions and biases random, from ``rng``."""

    def __init__(self, rng=0):
        rng = np.random.default_rng(rng)
        self.conv1 = L.Conv2d(1, 2, 3, 1, rng=rng)
        self.relu1 = L.ReLU()
        self.pool1 = L.MaxPool2d(2)
        self.conv2 = L.Conv2d(2, 4, 3, 1, rng=rng)
        self.relu2 = L.ReLU()
        self.pool2 = L.MaxPool2d(2)
        self.fc1 = L.Linear(4, 8, rng=rng)
        self.fc1.weight.data = np.ones((8, 4))
        self.relu3 = L.ReLU()
        self.fc2 = L.Linear(8, 10, rng=rng)
        self.fc2.weight.data = np.ones((10, 8))

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu3(self.fc1(x.reshape(-1, 4)))
        return softmax(self.fc2(x), axis=1)


class SigmoidModel(L.Module):
    """Captum's SigmoidModel: sigmoid(lin2(relu(lin1(x)))); random weights (torch's default
    initialisation in Captum), from ``rng`` here."""

    def __init__(self, num_in, num_hidden, num_out, rng=0):
        rng = np.random.default_rng(rng)
        self.lin1 = L.Linear(num_in, num_hidden, rng=rng)
        self.lin2 = L.Linear(num_hidden, num_out, rng=rng)

    def forward(self, x):
        return sigmoid(self.lin2(relu(self.lin1(x))))


class SoftmaxModel(L.Module):
    """Captum's SoftmaxModel: softmax(lin3(relu(lin2(relu(lin1(x)))))) over classes; random weights
    from ``rng``."""

    def __init__(self, num_in, num_hidden, num_out, rng=0):
        rng = np.random.default_rng(rng)
        self.lin1 = L.Linear(num_in, num_hidden, rng=rng)
        self.lin2 = L.Linear(num_hidden, num_hidden, rng=rng)
        self.lin3 = L.Linear(num_hidden, num_out, rng=rng)

    def forward(self, x):
        return softmax(self.lin3(relu(self.lin2(relu(self.lin1(x))))), axis=1)
