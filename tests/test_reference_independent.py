"""The reference against independent implementations: direct loops written from the
definitions, and PyTorch CPU when it is installed."""
import numpy as np
import pytest
from helpers import conv_case, pool_case, rel_error

from fastnn.reference import functional as F

SEEDS = range(5)


def naive_conv(x, w, b, stride, pad):
    N, C, H, W = x.shape
    Fn, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    OH, OW = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    out = np.empty((N, Fn, OH, OW))
    for n in range(N):
        for f in range(Fn):
            for i in range(OH):
                for j in range(OW):
                    window = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out


def naive_pool(x, pool_h, pool_w, stride, pad, reduce, fill):
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    OH, OW = (H + 2 * pad - pool_h) // stride + 1, (W + 2 * pad - pool_w) // stride + 1
    out = np.empty((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            out[:, :, i, j] = reduce(xp[:, :, i * stride:i * stride + pool_h,
                                        j * stride:j * stride + pool_w], axis=(2, 3))
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_conv_matches_direct_loops(seed):
    x, w, b, p = conv_case(np.random.default_rng(seed))
    out, _ = F.conv_forward(x, w, b, p)
    assert rel_error(out, naive_conv(x, w, b, p["stride"], p["pad"])) < 1e-13


@pytest.mark.parametrize("seed", SEEDS)
def test_pooling_matches_direct_loops(seed):
    x, p = pool_case(np.random.default_rng(seed))
    args = (p["pool_height"], p["pool_width"], p["stride"], p["pad"])
    out, _ = F.max_pool_forward(x, p)
    np.testing.assert_array_equal(out, naive_pool(x, *args, np.max, -np.inf))
    out, _ = F.avg_pool_forward(x, p)
    assert rel_error(out, naive_pool(x, *args, np.mean, 0.0)) < 1e-14


def test_max_pool_backward_routes_to_the_first_maximum():
    x = np.array([[[[1.0, 3.0], [3.0, 2.0]]]])  # a tie: 3 at (0, 1) and (1, 0)
    out, cache = F.max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = F.max_pool_backward(np.array([[[[5.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[0.0, 5.0], [0.0, 0.0]]]])


def test_max_pool_propagates_nan():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 0] = np.nan
    out, _ = F.max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert np.isnan(out[0, 0, 0, 0]) and not np.isnan(out[0, 0, 1, 1])


def test_batchnorm_matches_the_definition(rng):
    x = rng.standard_normal((9, 4)) * 3 + 2
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    bn_param = {"mode": "train", "eps": 1e-5, "momentum": 0.8,
                "running_mean": np.ones(4), "running_var": np.full(4, 2.0)}
    out, _ = F.batchnorm_forward(x, gamma, beta, bn_param)
    mean, var = x.mean(0), x.var(0)
    assert rel_error(out, gamma * (x - mean) / np.sqrt(var + 1e-5) + beta) < 1e-14
    assert rel_error(bn_param["running_mean"], 0.8 + 0.2 * mean) < 1e-15
    assert rel_error(bn_param["running_var"], 1.6 + 0.2 * var) < 1e-15


def test_spatial_batchnorm_is_per_channel(rng):
    x = rng.standard_normal((3, 2, 4, 5)) + np.array([5.0, -3.0])[:, None, None]
    out, _ = F.spatial_batchnorm_forward(x, np.ones(2), np.zeros(2), {"mode": "train"})
    assert np.allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    assert np.allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-4)  # eps = 1e-5 shrinks it


def test_softmax_and_svm_losses_match_the_definitions(rng):
    x, y = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    p = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    loss, _ = F.softmax_loss(x, y)
    assert abs(loss - (-np.log(p[np.arange(6), y]).mean())) < 1e-14
    loss, _ = F.svm_loss(x, y)
    expected = sum(max(0, x[n, c] - x[n, y[n]] + 1) for n in range(6) for c in range(5) if c != y[n]) / 6
    assert abs(loss - expected) < 1e-14


def test_softmax_loss_is_stable_for_huge_scores():
    loss, dx = F.softmax_loss(np.array([[1000.0, 0.0], [0.0, -1000.0]]), np.array([0, 1]))
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    assert abs(loss - 500.0) < 1e-9


def test_dropout_is_inverted_and_seeded(rng):
    x = rng.standard_normal((200, 50))
    out1, (_, mask) = F.dropout_forward(x, {"p": 0.7, "mode": "train", "seed": 7})
    out2, _ = F.dropout_forward(x, {"p": 0.7, "mode": "train", "seed": 7})
    np.testing.assert_array_equal(out1, out2)
    assert set(np.unique(mask)) == {0.0, 1 / 0.7}
    assert abs((mask > 0).mean() - 0.7) < 0.02
    out, _ = F.dropout_forward(x, {"p": 0.7, "mode": "test"})
    np.testing.assert_array_equal(out, x)


# ----------------------------------------------------------------------------------
# PyTorch CPU (optional: pip install torch==2.13.0)
# ----------------------------------------------------------------------------------

def torch_grads(fn, *arrays):
    """Run fn on tensors requiring grad; return the output and a backward closure."""
    import torch
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)

    def backward(dout):
        out.backward(torch.tensor(dout))
        return [t.grad.numpy() for t in tensors]
    return out.detach().numpy(), backward


@pytest.mark.parametrize("seed", SEEDS)
def test_conv_matches_torch(seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x, w, b, p = conv_case(rng)
    out, cache = F.conv_forward(x, w, b, p)
    t_out, t_backward = torch_grads(
        lambda x, w, b: torch.nn.functional.conv2d(x, w, b, stride=p["stride"], padding=p["pad"]), x, w, b)
    assert rel_error(out, t_out) < 1e-12
    dout = rng.standard_normal(out.shape)
    for ours, theirs in zip(F.conv_backward(dout, cache), t_backward(dout)):
        assert rel_error(ours, theirs) < 1e-12


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_matches_torch(kind, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x, p = pool_case(rng)
    window, stride, pad = (p["pool_height"], p["pool_width"]), p["stride"], p["pad"]
    t_fn = {"max": lambda x: torch.nn.functional.max_pool2d(x, window, stride, pad),
            "avg": lambda x: torch.nn.functional.avg_pool2d(x, window, stride, pad)}[kind]
    out, cache = getattr(F, f"{kind}_pool_forward")(x, p)
    t_out, t_backward = torch_grads(t_fn, x)
    assert rel_error(out, t_out) < 1e-14
    dout = rng.standard_normal(out.shape)
    dx = getattr(F, f"{kind}_pool_backward")(dout, cache)
    assert rel_error(dx, t_backward(dout)[0]) < 1e-14


def test_softmax_loss_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x, y = rng.standard_normal((7, 4)), rng.integers(0, 4, 7)
    loss, dx = F.softmax_loss(x, y)
    t_loss, t_backward = torch_grads(
        lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(y)), x)
    assert abs(loss - t_loss) < 1e-13
    assert rel_error(dx, t_backward(np.float64(1.0))[0]) < 1e-13


def test_affine_and_activations_match_torch(rng):
    torch = pytest.importorskip("torch")
    x, w, b = rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    out, cache = F.affine_forward(x, w, b)
    t_out, t_backward = torch_grads(lambda x, w, b: x.reshape(4, 6) @ w + b, x, w, b)
    dout = rng.standard_normal(out.shape)
    assert rel_error(out, t_out) < 1e-14
    for ours, theirs in zip(F.affine_backward(dout, cache), t_backward(dout)):
        assert rel_error(ours, theirs) < 1e-14
    for name, t_fn in [("relu", torch.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh)]:
        x = rng.standard_normal((5, 7)) * 3
        out, cache = getattr(F, f"{name}_forward")(x)
        t_out, t_backward = torch_grads(t_fn, x)
        assert rel_error(out, t_out) < 1e-14, name
        dout = rng.standard_normal(x.shape)
        assert rel_error(getattr(F, f"{name}_backward")(dout, cache), t_backward(dout)[0]) < 1e-14, name


@pytest.mark.parametrize("shape", [(9, 5), (4, 3, 5, 6)])
def test_batchnorm_matches_torch(shape, rng):
    """1-D (N, D) and spatial (N, C, H, W): torch normalises per feature / channel alike."""
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    name = "batchnorm" if len(shape) == 2 else "spatial_batchnorm"
    out, cache = getattr(F, f"{name}_forward")(x, gamma, beta, {"mode": "train", "eps": 1e-5})
    t_out, t_backward = torch_grads(
        lambda x, g, b: torch.nn.functional.batch_norm(x, None, None, g, b, True, 0.1, 1e-5), x, gamma, beta)
    assert rel_error(out, t_out) < 1e-12
    dout = rng.standard_normal(out.shape)
    for ours, theirs in zip(getattr(F, f"{name}_backward")(dout, cache), t_backward(dout)):
        assert rel_error(ours, theirs) < 1e-12


def test_svm_and_mse_losses_match_torch(rng):
    torch = pytest.importorskip("torch")
    x, y = rng.standard_normal((8, 5)), rng.integers(0, 5, 8)
    loss, dx = F.svm_loss(x, y)
    # torch's multi_margin_loss divides each sample's sum by the number of classes
    t_loss, t_backward = torch_grads(
        lambda x: torch.nn.functional.multi_margin_loss(x, torch.tensor(y)) * 5, x)
    assert abs(loss - t_loss) < 1e-13
    assert rel_error(dx, t_backward(np.float64(1.0))[0]) < 1e-13
    target = rng.standard_normal((8, 5))
    loss, dx = F.mse_loss(x, target)
    t_loss, t_backward = torch_grads(
        lambda x: 0.5 * torch.nn.functional.mse_loss(x, torch.tensor(target), reduction="sum") / 8, x)
    assert abs(loss - t_loss) < 1e-13
    assert rel_error(dx, t_backward(np.float64(1.0))[0]) < 1e-13
