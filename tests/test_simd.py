"""Instruction-set levels (fastnn._kernels.simd): every level this CPU runs is tested
against the reference, AVX2 and AVX-512 give bitwise the same results, and FASTNN_SIMD
and set_simd_level refuse what the CPU cannot run.  On a CPU without AVX-512 the tests of
that level skip, saying so; CI's machine decides which levels run."""
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import check_against_reference, conv_case, run_everything, time_limit

import fastnn

LEVELS = fastnn.simd_levels()
TOL = {np.float32: 2e-5, np.float64: 1e-12}


@pytest.fixture
def at_level(request):
    """Run the test at one level, then restore the level it found."""
    before = fastnn.get_simd_level()
    if request.param not in LEVELS:
        pytest.skip(f"this CPU or build cannot run the {request.param!r} level (it runs {LEVELS})")
    fastnn.set_simd_level(request.param)
    yield request.param
    fastnn.set_simd_level(before)


@pytest.mark.parametrize("at_level", ["baseline", "avx2", "avx512"], indirect=True)
def test_every_level_matches_the_reference(at_level, dtype):
    rng = np.random.default_rng(7)
    cases = [conv_case(rng, dtype, max_hw=9, max_channels=40) for _ in range(6)]
    # Wide enough for the AVX-512 tiles in every pass: forward (F), "dilated" dx (C).
    x = rng.standard_normal((2, 37, 7, 6)).astype(dtype)
    cases.append((x, rng.standard_normal((41, 37, 3, 3)).astype(dtype),
                  rng.standard_normal(41).astype(dtype), {"stride": 1, "pad": 1}))
    for case in cases:
        check_against_reference("conv", case, rng, TOL[dtype])
    affine = tuple(rng.standard_normal(s).astype(dtype) for s in ((9, 70), (70, 45), (45,)))
    check_against_reference("affine", affine, rng, TOL[dtype])


@pytest.mark.skipif("avx512" not in LEVELS, reason=f"no AVX-512 on this CPU (levels: {LEVELS})")
def test_avx2_and_avx512_give_bitwise_the_same_results(dtype):
    before = fastnn.get_simd_level()
    try:
        runs = []
        for level in ("avx2", "avx512"):
            fastnn.set_simd_level(level)
            runs.append(run_everything(1, dtype))
    finally:
        fastnn.set_simd_level(before)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif("avx512" not in LEVELS, reason=f"no AVX-512 on this CPU (levels: {LEVELS})")
def test_the_shifted_forward_gives_the_gather_forms_bits(dtype, monkeypatch):
    """AVX-512's shifted form (lanes over output pixels) against the form with lanes
    over filters, bitwise, and against the reference: rows (filters) not a multiple of
    the 6-row tile, 1 x 1 and non-square windows, no padding and wide padding, batch 1,
    many bands with a short last one (300 filters: one register row a band)."""
    from fastnn._kernels import plan
    rng = np.random.default_rng(11)
    shapes = [((1, 1, 12, 9), (1, 1, 1, 1), 0), ((3, 2, 13, 11), (7, 2, 3, 2), 1),
              ((2, 3, 14, 17), (13, 3, 1, 5), 2), ((1, 4, 16, 16), (300, 4, 3, 3), 1),
              ((2, 5, 17, 16), (6, 5, 4, 3), 0)]
    before = fastnn.get_simd_level()
    fastnn.set_simd_level("avx512")
    taken = []
    shifted_fits = plan._shifted_fits
    try:
        for x_shape, w_shape, pad in shapes:
            x, w, b = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1]))
            conv_param = {"stride": 1, "pad": pad}
            plan._plan.cache_clear()
            monkeypatch.setattr(plan, "_shifted_fits",
                                lambda *a: taken.append(shifted_fits(*a)) or taken[-1])
            shifted, _ = fastnn.functional.conv_forward(x, w, b, conv_param)
            plan._plan.cache_clear()
            monkeypatch.setattr(plan, "_shifted_fits", lambda *a: False)
            gathered, _ = fastnn.functional.conv_forward(x, w, b, conv_param)
            np.testing.assert_array_equal(shifted, gathered)
            check_against_reference("conv", (x, w, b, conv_param), rng, TOL[dtype])
    finally:
        plan._plan.cache_clear()
        fastnn.set_simd_level(before)
    assert all(taken), f"a case did not take the shifted form: {taken}"


@pytest.mark.skipif("avx512" not in LEVELS, reason=f"no AVX-512 on this CPU (levels: {LEVELS})")
@pytest.mark.parametrize("tile", ["tall", "pair", "quad"])
def test_the_tiles_windowed_forms_give_the_tiles_bits(tile, dtype):
    """3-wide filters on AVX-512's tiles of one, two and four vectors a row: dw with the
    taps in triples (the 6x4 tile's dw runs plain) and dx with strips of consecutive
    pixels (csrc/gather_gemm.h; a quad block runs as two pair halves) against AVX2 (the same order of summation, so the same
    bits) and against the reference: output rows of 1, 2, 3 and more pixels than a strip,
    strips that break at the end of a row, a last tile of fewer rows (9 channels: 81
    taps), several lane blocks, more taps or pixels than one block of B, no padding and
    wide padding, batch 1 and batches whose dw chunks sum two images, and stride 2 (dw then
    takes the plain tile)."""
    from fastnn._kernels import plan
    n = {"tall": 1, "pair": 2, "quad": 4}[tile] * (16 if dtype == np.float32 else 8)
    shapes = [((2, n, 4, 1), (n + 5, n, 3, 3), 1, 1), ((1, n, 3, 2), (n, n, 3, 3), 1, 1),
              ((3, n, 5, 3), (n, n, 3, 3), 0, 1), ((130, 9, 7, 13), (n - 3, 9, 3, 3), 1, 1),
              ((2, n, 20, 19), (2 * n + 3, n, 3, 3), 2, 1),
              ((3, 3 * n + 1, 8, 17), (n, 3 * n + 1, 2, 3), 1, 1),
              ((2, n, 11, 10), (n - 3, n, 3, 3), 1, 2)]
    rng = np.random.default_rng(13)
    before = fastnn.get_simd_level()
    taken = []
    try:
        for x_shape, w_shape, pad, stride in shapes:
            x, w, b = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1]))
            conv_param = {"stride": stride, "pad": pad}
            how = plan.plan("conv_backward", dtype, (*x_shape[1:], *w_shape[:1], *w_shape[2:]),
                            "avx512", stride=stride, pad=pad)
            taken.append(how.kernel)
            runs = []
            for level in ("avx2", "avx512"):
                fastnn.set_simd_level(level)
                out, cache = fastnn.functional.conv_forward(x, w, b, conv_param)
                runs.append((out, *fastnn.functional.conv_backward(np.cos(out), cache)))
            for a, b_ in zip(*runs):
                np.testing.assert_array_equal(a, b_)
            check_against_reference("conv", (x, w, b, conv_param), rng, TOL[dtype])
    finally:
        fastnn.set_simd_level(before)
    assert taken.count(f"{tile}_avx512") >= 5, taken


@pytest.mark.skipif("avx512" not in LEVELS, reason=f"no AVX-512 on this CPU (levels: {LEVELS})")
def test_dw_on_its_own_kernel_gives_the_shared_kernels_bits(dtype, monkeypatch):
    """Where dw's filters take AVX-512's 6x4 tile and dx another kernel (the dilated form
    over fewer channels, the columns form over few taps, stride 2), dw against the plan
    that runs it on dx's kernel (in its windowed form where it has one), bitwise, and
    against the reference: filters a multiple of the tile's lanes and not, batch 1 and
    batches whose dw chunks sum several images."""
    from fastnn._kernels import plan
    quad = 64 if dtype == np.float32 else 32
    shapes = [((3, quad // 2, 7, 7), (quad, quad // 2, 3, 3), 1, 1),
              ((1, quad // 2 + 3, 6, 5), (3 * quad - 10, quad // 2 + 3, 3, 3), 1, 1),
              ((130, 3, 6, 7), (2 * quad, 3, 2, 3), 0, 1),
              ((2, 3, 9, 8), (quad, 3, 3, 3), 1, 2)]
    rng = np.random.default_rng(17)
    before = fastnn.get_simd_level()
    fastnn.set_simd_level("avx512")
    planned = plan._plan

    def shared(*args):
        found = planned(*args)
        return found._replace(dw_kernel_id=found.kernel_id, dw_lanes=found.lanes)
    try:
        for x_shape, w_shape, pad, stride in shapes:
            x, w, b = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1]))
            conv_param = {"stride": stride, "pad": pad}
            how = plan.plan("conv_backward", dtype, (*x_shape[1:], *w_shape[:1], *w_shape[2:]),
                            stride=stride, pad=pad)
            assert how.dw_kernel_id == fastnn._kernels.simd.KERNELS["quad_avx512"][0]
            assert how.kernel != "quad_avx512", how
            out, cache = fastnn.functional.conv_forward(x, w, b, conv_param)
            dout = np.cos(out)
            own = fastnn.functional.conv_backward(dout, cache)
            monkeypatch.setattr(plan, "_plan", shared)
            on_shared = fastnn.functional.conv_backward(dout, cache)
            monkeypatch.setattr(plan, "_plan", planned)
            for a, b_ in zip(own, on_shared):
                np.testing.assert_array_equal(a, b_)
            check_against_reference("conv", (x, w, b, conv_param), rng, TOL[dtype])
    finally:
        fastnn.set_simd_level(before)


def test_the_default_is_the_highest_level_and_build_info_reports_it():
    info = fastnn.build_info()
    assert info["simd_supported"] == list(LEVELS)
    if not os.environ.get("FASTNN_SIMD"):
        assert info["simd"] == LEVELS[-1]


def test_set_simd_level_refuses_unknown_and_unsupported_levels():
    with pytest.raises(ValueError, match=r"set_level: level must be one of .* got 'sse9'"):
        fastnn.set_simd_level("sse9")
    assert fastnn.get_simd_level() in LEVELS


def level_in_child(tmp_path, value):
    code = "import fastnn; print(fastnn.get_simd_level())"
    env = {**os.environ, "FASTNN_SIMD": value}
    return subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True,
                          text=True, timeout=time_limit(120), cwd=tmp_path, env=env)


def test_fastnn_simd_chooses_a_level_at_import(tmp_path):
    for level in LEVELS:
        result = level_in_child(tmp_path, level)
        assert result.returncode == 0 and result.stdout.strip() == level, result


@pytest.mark.parametrize("value", ["sse9", "avx512"])
def test_fastnn_simd_warns_and_runs_the_best_level_for_what_it_cannot_run(tmp_path, value):
    if value in LEVELS:
        pytest.skip(f"this CPU runs {value!r}: nothing to refuse")
    result = level_in_child(tmp_path, value)
    assert result.returncode == 0, result
    assert result.stdout.strip() == LEVELS[-1]
    assert f"FASTNN_SIMD={value!r}" in result.stderr and "RuntimeWarning" in result.stderr


@pytest.mark.parametrize("at_level", ["baseline", "avx2", "avx512"], indirect=True)
def test_the_planner_picks_only_kernels_of_the_level_with_their_lanes(at_level, dtype):
    """Every kernel plan() hands out at a level needs no higher level, and the lanes it
    gives are that kernel's; products wide enough take AVX-512's wider tiles there."""
    from fastnn._kernels import plan, simd
    index = 0 if dtype == np.float32 else 1
    chosen = set()
    for columns in (1, 7, 8, 16, 17, 31, 32, 33, 63, 64, 65, 100, 250):
        found = plan.plan("matmul", dtype, (4096, 512, columns))
        number, level, lanes = simd.KERNELS[found.kernel]
        assert found.form == "gather" and found.kernel_id == number
        assert simd.LEVELS.index(level) <= simd.LEVELS.index(at_level)
        assert found.lanes == lanes[index]
        chosen.add(found.kernel)
    expected = ({"tall_avx512", "pair_avx512", "quad_avx512"} if at_level == "avx512"
                else {f"pair_{at_level}"})
    assert chosen == expected
    assert plan.plan("matmul", dtype, (3, 50, 10)).form == "numpy"
    if at_level == "avx512":  # many columns: the full blocks on the 6x4 tile, whatever the padding
        wide = plan.plan("matmul", dtype, (943, 20, 1682))
        assert wide.kernel == "quad_avx512" and wide.tail_lanes >= 1682 % wide.lanes


def test_the_planner_and_the_kernels_refuse_what_they_cannot_run(rng):
    from fastnn._kernels import affine, plan
    with pytest.raises(ValueError, match="plan: op must be one of"):
        plan.plan("softmax", np.float32, (3,))
    a = rng.standard_normal(12)
    offsets = np.arange(3, dtype=np.intp)
    b, none, out = np.zeros(3 * 8), np.zeros((3, 0)), np.zeros((3, 8))
    with pytest.raises(ValueError, match="unknown kernel id 99"):
        affine.gemm(a, offsets * 3, offsets, b, 8, 8, none, out, 99, 8, 0, 8, 0)
    wide = (np.zeros(3 * 16), np.zeros((3, 0)), np.zeros((3, 16)))
    with pytest.raises(ValueError, match="takes operands packed with 8 lanes, got 16"):
        affine.gemm(a, offsets * 3, offsets, wide[0], 16, 16, *wide[1:], 0, 16, 0, 16, 0)  # pair_baseline
    if "avx512" in LEVELS:
        with pytest.raises(ValueError, match="takes operands packed with 16 lanes, got 8"):
            affine.gemm(a, offsets * 3, offsets, b, 8, 8, none, out, 2, 8, 0, 8, 0)  # pair_avx512
    else:  # a kernel of a level this CPU lacks: refused before it could run
        with pytest.raises(ValueError, match="kernel 2 needs the 'avx512' level"):
            affine.gemm(a, offsets * 3, offsets, b, 8, 8, none, out, 2, 8, 0, 8, 0)
    with pytest.raises(ValueError, match="b holds 24 elements; 1 blocks of 3 rows of 8 lanes"):
        affine.gemm(a, offsets * 3, offsets, b, 9, 8, none, out, 0, 8, 0, 8, 0)
    rest = (np.zeros((3, 4)), np.zeros((3, 12)))  # 12 columns: 8 + 4
    with pytest.raises(ValueError, match=r"b_rest is \(3, 8\); B's last columns are \(3, 4\)"):
        affine.gemm(a, offsets * 3, offsets, b, 12, 8, np.zeros((3, 8)), rest[1], 0, 8, 0, 8, 0)
    with pytest.raises(ValueError, match="unknown kernel id 99"):  # the tail's kernel
        affine.gemm(a, offsets * 3, offsets, b, 12, 8, *rest, 0, 8, 99, 8, 0)
    if "avx512" in LEVELS:  # 28 columns: 16 + 12, more than the tall tile's 8 lanes
        rest = (np.zeros((3, 12)), np.zeros((3, 28)))
        with pytest.raises(ValueError, match="the tail kernel's 8 lanes cannot hold 12 columns"):
            affine.gemm(a, offsets * 3, offsets, np.zeros(3 * 28), 28, 16, *rest, 2, 16, 3, 8, 0)
