"""Layer and group normalisation, written once for both backends.

Each backend supplies the two passes over rows (M, S) that carry the work:
``standardize(rows, eps) -> (x_hat (M, S), std (M,))`` and
``destandardize(g, x_hat, std) -> dx (M, S)``, the gradient through x_hat for an upstream
gradient g.  Statistics are per sample (per group of channels), never running averages;
gamma and beta apply per feature (per channel) afterwards.  Documented in the backends'
public functions.
"""
from fastnn import checks


def layernorm_forward(standardize, x, gamma, beta, ln_param):
    func = "layernorm_forward"
    x, gamma, beta = checks.as_float_arrays(func, x=x, gamma=gamma, beta=beta)
    checks.check_ndim(func, "x", x, 2, "(N, D)")
    eps = checks.norm_params(func, "ln_param", ln_param, gamma, beta, x.shape[1])
    x_hat, std = standardize(x, eps)
    return gamma.reshape(-1) * x_hat + beta.reshape(-1), (x_hat, gamma, std)


def layernorm_backward(destandardize, dout, cache):
    func = "layernorm_backward"
    x_hat, gamma, std = checks.cache_entries(func, cache, 3, "layernorm_forward")
    dout = checks.dout_array(func, dout, x_hat.shape, x_hat.dtype)
    dx = destandardize(dout * gamma.reshape(-1), x_hat, std)
    return dx, (dout * x_hat).sum(axis=0).reshape(gamma.shape), dout.sum(axis=0).reshape(gamma.shape)


def spatial_groupnorm_forward(standardize, x, gamma, beta, G, gn_param):
    func = "spatial_groupnorm_forward"
    x, gamma, beta = checks.as_float_arrays(func, x=x, gamma=gamma, beta=beta)
    checks.check_ndim(func, "x", x, 4, "(N, C, H, W)")
    N, C, H, W = x.shape
    G = checks.groups_param(func, G, C)
    eps = checks.norm_params(func, "gn_param", gn_param, gamma, beta, C)
    x_hat, std = standardize(x.reshape(N * G, C // G * H * W), eps)
    x_hat = x_hat.reshape(x.shape)
    out = gamma.reshape(1, C, 1, 1) * x_hat + beta.reshape(1, C, 1, 1)
    return out, (x_hat, gamma, std.reshape(N, G), G)


def spatial_groupnorm_backward(destandardize, dout, cache):
    func = "spatial_groupnorm_backward"
    x_hat, gamma, std, G = checks.cache_entries(func, cache, 4, "spatial_groupnorm_forward")
    N, C, H, W = x_hat.shape
    dout = checks.dout_array(func, dout, x_hat.shape, x_hat.dtype)
    g = dout * gamma.reshape(1, C, 1, 1)
    rows = (N * G, C // G * H * W)
    dx = destandardize(g.reshape(rows), x_hat.reshape(rows), std.reshape(-1))
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3)).reshape(gamma.shape)
    return dx.reshape(x_hat.shape), dgamma, dout.sum(axis=(0, 2, 3)).reshape(gamma.shape)
