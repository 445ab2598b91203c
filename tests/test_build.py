"""The compiled package: build information and thread control."""
import os
import subprocess
import sys
import tempfile

import pytest
from helpers import time_limit

import fastnn


def test_build_info_reports_the_build():
    info = fastnn.build_info()
    for key in ("version", "compiler", "compile_args", "openmp", "native", "num_threads", "numpy"):
        assert key in info
    assert info["version"] == fastnn.__version__
    assert "-O3" in info["compile_args"] or "/O2" in info["compile_args"]
    assert info["native"] == ("-march=native" in info["compile_args"])
    assert info["openmp"] == any("openmp" in flag for flag in info["compile_args"])
    assert info["num_threads"] >= 1


@pytest.mark.skipif(os.environ.get("FASTNN_EXPECT_OPENMP") != "1",
                    reason="set FASTNN_EXPECT_OPENMP=1 where the compiler supports OpenMP (CI does)")
def test_openmp_is_on_where_expected():
    assert fastnn.build_info()["openmp"] is True


def test_set_num_threads_round_trips():
    before = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(1)
        assert fastnn.get_num_threads() == 1
        if fastnn.build_info()["openmp"]:
            fastnn.set_num_threads(3)  # above the core count is allowed, on request
            assert fastnn.get_num_threads() == 3
    finally:
        fastnn.set_num_threads(before)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                        ("2", TypeError), (True, TypeError)])
def test_set_num_threads_rejects_bad_counts(bad, error):
    with pytest.raises(error, match="set_num_threads: n must"):
        fastnn.set_num_threads(bad)


def test_build_info_names_the_openmp_runtime_and_numpy_blas():
    info = fastnn.build_info()
    if info["openmp"]:
        assert info["openmp_version"].endswith(")") and info["openmp_version"][0].isdigit()
        if os.path.exists("/proc/self/maps"):
            assert "omp" in os.path.basename(info["openmp_runtime"])
    assert isinstance(info["numpy_blas"], str) and info["numpy_blas"]


@pytest.mark.skipif(not fastnn.build_info()["openmp"], reason="a build without OpenMP has one thread")
def test_threadpoolctl_limits_fastnn():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(2)
        assert fastnn.get_num_threads() == 2
        openmp = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "openmp"]
        assert any("omp" in os.path.basename(p["filepath"]) for p in openmp)
        with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
            assert fastnn.get_num_threads() == 1
        assert fastnn.get_num_threads() == 2
    finally:
        fastnn.set_num_threads(before)


def test_omp_num_threads_sets_the_default(tmp_path):
    import subprocess
    import sys
    env = {**os.environ, "OMP_NUM_THREADS": "3",
           "PYTHONPATH": os.path.dirname(os.path.dirname(fastnn.__file__))}
    out = subprocess.run([sys.executable, "-c", "import fastnn; print(fastnn.get_num_threads())"],
                         capture_output=True, text=True, cwd=tmp_path, env=env)
    expected = "3" if fastnn.build_info()["openmp"] else "1"
    assert out.returncode == 0 and out.stdout.strip() == expected, out.stderr


def test_openblas_spin_is_shortened_without_touching_the_environment():
    """NumPy's OpenBLAS workers stop spinning soon after a call (fastnn.runtime.waiting): the
    environment stays the user's, NumPy's products stay right, and the user can opt out."""
    code = ("import os, numpy as np; a = np.random.default_rng(0).standard_normal((300, 300)); "
            "c = a @ a; import fastnn; from fastnn.runtime import waiting as _waiting; "
            "assert 'OPENBLAS_THREAD_TIMEOUT' not in os.environ; "
            "assert np.array_equal(a @ a, c); "
            "print(fastnn.build_info()['blas_spin'], len(_waiting._loaded_openblas()))")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "FASTNN_BLAS_SPIN")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=tempfile.gettempdir()).stdout.split()
    if out[-1] == "0":
        pytest.skip("NumPy's BLAS here is not a loaded OpenBLAS: nothing to shorten")
    assert out[0] == "OpenBLAS"
    kept = subprocess.run([sys.executable, "-c", code], env={**env, "FASTNN_BLAS_SPIN": "keep"},
                          capture_output=True, text=True, check=True,
                          cwd=tempfile.gettempdir()).stdout.split()
    assert kept[0] == "unchanged"


# A child that runs NumPy products big enough to take OpenBLAS's threads (256x192x256, far
# above its threshold), beside fastnn kernels, and checks every product against a sum that
# no BLAS computes (small enough to finish in time under emulation: .ci/aarch64).
BLAS_CHECK = """
import os, sys, threading, numpy as np, fastnn
from fastnn import functional as F
rng = np.random.default_rng(0)
a, b = rng.standard_normal((256, 192)), rng.standard_normal((192, 256))
exact = np.einsum("ij,jk->ik", a, b, optimize=False)
def check():
    assert np.allclose(a @ b, exact, rtol=1e-12, atol=1e-10)
x, w = rng.standard_normal((8, 16, 14, 14)), rng.standard_normal((16, 16, 3, 3))
for _ in range(3):
    check()
    F.conv_forward(x, w, np.zeros(16), {"stride": 1, "pad": 1})
errors = []
def worker():
    try:
        for _ in range(5):
            check()
    except Exception as exc:
        errors.append(exc)
threads = [threading.Thread(target=worker) for _ in range(4)]  # calls at the same time
[t.start() for t in threads]
[t.join() for t in threads]
assert not errors, errors
pid = os.fork()  # GNU OpenMP in a child whose parent used it: must not hang
if pid == 0:
    check()
    F.conv_forward(x, w, np.zeros(16), {"stride": 1, "pad": 1})
    os._exit(0 if fastnn.get_num_threads() == 1 else 3)
_, status = os.waitpid(pid, 0)
assert status == 0, status
print(fastnn.build_info()["blas_spin"])
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("env", [{}, {"OMP_THREAD_LIMIT": "1"}, {"FASTNN_BLAS_SPIN": "timeout"},
                                 {"FASTNN_BLAS_SPIN": "keep"}],
                         ids=["pool", "thread-limit", "timeout", "keep"])
def test_numpy_products_stay_right_with_fastnn_beside_them(env):
    """Whatever fastnn does to NumPy's OpenBLAS (its jobs on fastnn's threads, or a shorter
    timeout): products from several threads at once, after a fork and with a one-thread
    OpenMP limit are exact and nothing hangs (the timeout ends a hang as a failure)."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("OPENBLAS_THREAD_TIMEOUT", "FASTNN_BLAS_SPIN", "OMP_THREAD_LIMIT")}
    result = subprocess.run([sys.executable, "-c", BLAS_CHECK], env={**base, **env},
                            capture_output=True, text=True, timeout=time_limit(120), cwd=tempfile.gettempdir())
    assert result.returncode == 0, result.stderr
    said = result.stdout.strip()
    if env.get("FASTNN_BLAS_SPIN") == "keep":
        assert said == "unchanged"
    elif said != "unchanged":  # (a BLAS that is not OpenBLAS: nothing to do)
        assert said.startswith("OpenBLAS")
        assert ("timeout" in said) == (env.get("FASTNN_BLAS_SPIN") == "timeout" or not _has_callback())


def _has_callback():
    """Whether NumPy's OpenBLAS exports the threads-callback setter (OpenBLAS >= 0.3.27)."""
    import ctypes

    from fastnn.runtime import waiting as _waiting
    for path in _waiting._loaded_openblas():
        lib = ctypes.CDLL(path)
        if any(hasattr(lib, name) for name in _waiting._CALLBACK_SETTERS):
            return True
    return False


def test_openmp_runtime_is_loaded_with_a_short_spin_unless_the_user_chose():
    code = ("import os, fastnn; assert 'GOMP_SPINCOUNT' not in os.environ; "
            "print(fastnn.build_info()['omp_spincount'])")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    run = dict(capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    if not fastnn.build_info()["openmp"]:
        pytest.skip("a build without OpenMP has no runtime to configure")
    assert subprocess.run([sys.executable, "-c", code], env=env, **run).stdout.split() == ["10000"]
    chosen = {**env, "OMP_WAIT_POLICY": "active"}
    assert subprocess.run([sys.executable, "-c", code], env=chosen, **run).stdout.split() == ["None"]


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="Linux only")
def test_freed_array_memory_is_reused_without_page_faults():
    """fastnn.runtime.malloc: with FASTNN_MALLOC=keep-freed, a second large array of the same size
    does not fault its pages in again; by default glibc's thresholds are left alone."""
    code = ("import resource, numpy as np, fastnn; "
            "a = np.ones(2**19); del a; "  # 4 MiB: above glibc's default mmap threshold
            "f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt; a = np.ones(2**19); "
            "print(fastnn.build_info()['malloc'] is not None, "
            "resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "FASTNN_MALLOC"))}
    run = dict(capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    default = subprocess.run([sys.executable, "-c", code], env=env, **run).stdout.split()
    assert default[0] == "False"
    is_set, faults = subprocess.run([sys.executable, "-c", code],
                                    env={**env, "FASTNN_MALLOC": "keep-freed"}, **run).stdout.split()
    if is_set == "False":
        pytest.skip("not glibc: fastnn leaves the allocator alone")
    assert int(faults) < 100 < int(default[1])  # the 1,024 pages came back from the heap


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="Linux only")
def test_a_layers_scratch_does_not_page_fault_on_every_call():
    """fastnn.runtime.buffers.thread_buffers: the scratch of an affine backward (two
    products, with scratch of several sizes) is reused, so that repeated calls fault in
    no more pages than NumPy's own products with the same outputs (benchmarks/NOTES.md,
    "Matrix products", has the counts before)."""
    from fastnn.runtime import buffers
    if buffers.REUSE_MAX_BYTES == 0:
        pytest.skip("a sanitized build keeps no scratch (every buffer fresh, its exact size)")
    code = """if 1:
        import resource, numpy as np
        from fastnn import functional as F
        rng = np.random.default_rng(0)
        x, w = rng.standard_normal((100, 3072)), rng.standard_normal((3072, 90))
        dout = rng.standard_normal((100, 90))
        _, cache = F.affine_forward(x, w, np.zeros(90))
        def faults(call):
            call()
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            for _ in range(5):
                call()
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        ours = faults(lambda: F.affine_backward(dout, cache))
        numpy = faults(lambda: (dout @ w.T, x.T @ dout, dout.sum(axis=0)))
        print(ours, numpy)
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "FASTNN_MALLOC"))}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=tempfile.gettempdir()).stdout.split()
    ours, numpy = int(out[0]), int(out[1])
    assert ours <= numpy + 5 * 64, (ours, numpy)
