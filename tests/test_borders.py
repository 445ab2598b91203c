"""The row schedules that leave out the taps landing in a convolution's zero border
(fastnn._kernels.borders): what they promise, and the same bits as summing every tap."""
import numpy as np
import pytest
from helpers import assert_same_bits

import fastnn
from fastnn import functional as fast
from fastnn.reference import functional as ref
from fastnn._kernels import borders

LEVELS = fastnn.simd_levels()

# (C, H, W, F, HH, WW, stride, pad): small planes (the schedules matter most there),
# non-square windows, stride 2 and 3, padding wider than the window, a 1x1 window.
GEOMETRIES = [(32, 7, 7, 64, 3, 3, 1, 1), (3, 9, 11, 5, 3, 5, 2, 2), (4, 5, 5, 3, 1, 1, 1, 3),
              (8, 7, 7, 70, 5, 5, 1, 2), (2, 4, 6, 9, 4, 2, 3, 1), (5, 1, 1, 4, 3, 3, 1, 1),
              (17, 14, 14, 20, 3, 3, 1, 1), (6, 8, 3, 7, 2, 3, 1, 0)]


def valid_taps(g, a, b):
    """The taps (c, i, j) of grid row (a, b) of Gather g that land inside its data, by
    brute force."""
    u, v = g.first_u + a * g.stride, g.first_v + b * g.stride
    return {(c * g.kh + i) * g.kw + j for c in range(g.channels) for i in range(g.kh)
            for j in range(g.kw)
            if g.data_top <= u + i < g.data_top + g.data_h
            and g.data_left <= v + j < g.data_left + g.data_w}


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("pass_name", ["forward", "dilated"])
def test_a_schedule_covers_every_row_once_with_its_valid_taps(geometry, pass_name):
    C, H, W, F, HH, WW, stride, pad = geometry
    if pass_name == "forward":
        g = borders.forward_pass(C, H, W, F, HH, WW, stride, pad)
    else:
        g = borders.dilated_pass(C, H, W, F, HH, WW, pad)
    P = g.out_h * g.out_w
    for N, threads, mr in [(1, 1, 6), (7, 2, 6), (13, 3, 12)]:
        found = borders.schedules(g, N, threads, mr, True)
        plain = borders.schedules(g, N, threads, mr, False)
        assert 1 <= found.images <= max(1, min(2 * mr, N))
        for images, s in [(found.images, found.main), (N % found.images, found.tail)]:
            # every (image, pixel) once, and each read offset that pixel's window corner
            assert sorted(s.dest) == sorted(m * g.out_image_size + p
                                            for m in range(images) for p in range(P))
            image, pixel = np.divmod(s.dest, g.out_image_size)
            a, b = np.divmod(pixel, g.out_w)
            np.testing.assert_array_equal(
                s.rows, (g.first_u + a * g.stride) * g.plane_w + g.first_v + b * g.stride
                + image * g.image_size)
            covered = 0
            for first, count, tap, taps in s.segments:
                assert first % mr == 0 and first == covered
                covered += count
                index = found.tap_index[tap:tap + taps]
                assert list(index) == sorted(index)  # the (c, i, j) order of the sum
                c, rest = np.divmod(index, HH * WW)
                i, j = np.divmod(rest, WW)
                np.testing.assert_array_equal(found.taps[tap:tap + taps],
                                              (c * g.plane_h + i) * g.plane_w + j)
                for r in range(first, first + count):
                    assert valid_taps(g, a[r], b[r]) <= set(index)
            assert covered == len(s.dest)
        # without skipping: the natural order, every tap, one rectangle
        assert len(plain.tap_index) == g.channels * HH * WW
        np.testing.assert_array_equal(plain.main.dest, np.arange(plain.images * P)
                                      // P * g.out_image_size + np.arange(plain.images * P) % P)


def test_a_seven_by_seven_plane_skips_what_the_border_holds():
    """At DeepConvNet's conv5 (7x7, 3x3 window, pad 1) a tile computes 19/21 of the rows
    and columns of taps on average: the schedule's work per image is that fraction of
    the full tiling's (9 tiles of 288 taps are 49 rows in 54) within its tile rounding."""
    g = borders.forward_pass(32, 7, 7, 64, 3, 3, 1, 1)
    found = borders.schedules(g, 100, 1, 6, True)
    per_image = found.main.work / found.images
    assert per_image <= 1.02 * (19 / 21) ** 2 * 288 * 49 / 6
    assert per_image < 0.85 * borders.schedules(g, 100, 1, 6, False).main.work / \
        borders.schedules(g, 100, 1, 6, False).images


def every_pixel(dw_schedule):
    """dw_schedule with its order and one segment of every tap over every pixel."""
    def schedule(C, H, W, HH, WW, stride, pad, mr):
        found = dw_schedule(C, H, W, HH, WW, stride, pad, mr)
        out_h = (H + 2 * pad - HH) // stride + 1
        out_w = (W + 2 * pad - WW) // stride + 1
        return found._replace(segments=np.array([[0, len(found.order), 0, out_h * out_w]]))
    return schedule


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_dws_tiles_cover_every_tap_once_with_its_pixels(geometry):
    C, H, W, F, HH, WW, stride, pad = geometry
    Hp, Wp = H + 2 * pad, W + 2 * pad
    out_h, out_w = (Hp - HH) // stride + 1, (Wp - WW) // stride + 1
    for mr in (6, 12):
        found = borders.dw_schedule(C, H, W, HH, WW, stride, pad, mr)
        K = C * HH * WW
        assert sorted(found.order) == list(range(K))
        c, rest = np.divmod(found.order, HH * WW)
        i, j = np.divmod(rest, WW)
        np.testing.assert_array_equal(found.taps, (c * Hp + i) * Wp + j)
        covered = 0
        for first, rows, pixel, pixels in found.segments:
            assert first % mr == 0 and first == covered and pixel % out_w == 0
            assert pixels % out_w == 0 and 0 <= pixel and pixel + pixels <= out_h * out_w
            covered += rows
            for r in range(first, first + rows):  # every pixel whose tap is inside
                inside = [oh * out_w for oh in range(out_h) if pad <= oh * stride + i[r] < pad + H]
                assert all(pixel <= q < pixel + pixels for q in inside)
        assert covered == K


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the reference's 0 * inf
def test_an_infinite_gradient_sums_dw_over_every_pixel(dtype, rng):
    """dw's border taps meet xpad's zeros: with an infinite dout they are NaN, as in the
    reference, so that image's dw sums every pixel; the others still skip."""
    x = rng.standard_normal((3, 5, 7, 7)).astype(dtype)
    w = rng.standard_normal((6, 5, 3, 3)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    conv_param = {"stride": 1, "pad": 1}
    (out, cache), (_, cache_ref) = (fast.conv_forward(x, w, b, conv_param),
                                     ref.conv_forward(x, w, b, conv_param))
    dout = rng.standard_normal(out.shape).astype(dtype)
    dout[1, 2, 0, 3] = np.inf  # the top row: a tap of window row 0 meets the border there
    _, dw, db = fast.conv_backward(dout, cache)
    _, dw_ref, db_ref = ref.conv_backward(dout, cache_ref)
    assert np.isnan(dw_ref[2, :, 0, :]).all()
    np.testing.assert_array_equal(np.isnan(dw), np.isnan(dw_ref))
    np.testing.assert_array_equal(np.isinf(dw), np.isinf(dw_ref))


def run_conv(x, w, b, conv_param, dout):
    out, cache = fast.conv_forward(x, w, b, conv_param)
    return [out, *fast.conv_backward(dout, cache)]


@pytest.mark.parametrize("level", LEVELS)
def test_skipping_the_border_gives_the_bits_of_every_tap(level, dtype, rng, monkeypatch):
    """Every pass that can leave out the border (the forward pass, the dilated dx, dw),
    with and without the border's taps, at each SIMD level and 1 and 2 threads: the same
    bits, and the reference's values."""
    before_level, before_threads = fastnn.get_simd_level(), fastnn.get_num_threads()
    real, real_dw = borders.schedules, borders.dw_schedule
    try:
        fastnn.set_simd_level(level)
        for C, H, W, F, HH, WW, stride, pad in GEOMETRIES:
            N = int(rng.integers(1, 9))
            x = rng.standard_normal((N, C, H, W)).astype(dtype)
            w = rng.standard_normal((F, C, HH, WW)).astype(dtype)
            b = rng.standard_normal(F).astype(dtype)
            conv_param = {"stride": stride, "pad": pad, "algo": "direct"}
            out_ref, cache_ref = ref.conv_forward(x, w, b, conv_param)
            dout = rng.standard_normal(out_ref.shape).astype(dtype)
            runs = []
            for skip in (True, False):
                monkeypatch.setattr(borders, "schedules",
                                    lambda g, n, t, mr, s, keep=skip: real(g, n, t, mr, s and keep))
                monkeypatch.setattr(borders, "dw_schedule",
                                    real_dw if skip else every_pixel(real_dw))
                for threads in (1, 2):
                    fastnn.set_num_threads(threads)
                    runs.append(run_conv(x, w, b, conv_param, dout))
            assert_same_bits(runs)
            expected = [out_ref, *ref.conv_backward(dout, cache_ref)]
            tol = 2e-5 if dtype == np.float32 else 1e-12
            for ours, theirs in zip(runs[0], expected):
                assert np.abs(ours - theirs).max() <= tol * max(np.abs(theirs).max(), 1)
    finally:
        fastnn.set_simd_level(before_level)
        fastnn.set_num_threads(before_threads)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the reference's 0 * inf
@pytest.mark.parametrize("level", LEVELS)
def test_an_infinite_weight_keeps_the_border_taps(level, dtype, rng):
    """0 * inf is NaN: with an infinite weight the border's taps stay in the sum, and the
    outputs whose window holds it over the border are NaN, as in the reference."""
    x = rng.standard_normal((3, 16, 7, 7)).astype(dtype)
    w = rng.standard_normal((20, 16, 3, 3)).astype(dtype)
    w[3, 0, 0, 0] = np.inf  # its top-left tap: in the border for the top row and left column
    b = rng.standard_normal(20).astype(dtype)
    conv_param = {"stride": 1, "pad": 1}
    before = fastnn.get_simd_level()
    try:
        fastnn.set_simd_level(level)
        out, _ = fast.conv_forward(x, w, b, conv_param)
    finally:
        fastnn.set_simd_level(before)
    out_ref, _ = ref.conv_forward(x, w, b, conv_param)
    assert np.isnan(out_ref[:, 3, 0, :]).all() and not np.isnan(out_ref[:, 3, 1:, 1:]).any()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(out_ref))
