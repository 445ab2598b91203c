"""Build fastnn's Cython kernels.

Flags are portable by default (``-O3``, no ``-march``); OpenMP is used when a test
program compiles and links with it, and the build goes on single-threaded when not.

Environment variables read at build time:

``FASTNN_NATIVE=1``      add ``-march=native`` (host-tuned; the result runs only on
                         CPUs like the build machine's).
``FASTNN_NO_OPENMP=1``   build without OpenMP even where the compiler supports it.
``FASTNN_SANITIZE=1``    build with AddressSanitizer and UndefinedBehaviorSanitizer (for
                         tests/sanitize.sh; run Python with libasan preloaded).
"""
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
# One .pyx per concern in fastnn/_kernels/.
KERNELS = ["threads", "simd", "conv", "im2col", "pool", "batchnorm", "elementwise", "affine", "ceilings"]

OPENMP_TEST_PROGRAM = r"""
#include <omp.h>
#include <stdio.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    printf("%d\n", n > 0 && omp_get_max_threads() > 0);
    return 0;
}
"""


def env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def openmp_flags(compiler):
    """(compile_args, link_args) for OpenMP with this compiler, by its family."""
    if compiler.compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":  # Apple clang: libomp from Homebrew or conda
        return ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    return ["-fopenmp"], ["-fopenmp"]


def openmp_works(compiler, compile_args, link_args):
    """Compile, link and run a tiny OpenMP program: detection, not assumption."""
    tmp = tempfile.mkdtemp(prefix="fastnn-openmp-")
    try:
        source = os.path.join(tmp, "test_openmp.c")
        with open(source, "w") as f:
            f.write(OPENMP_TEST_PROGRAM)
        objects = compiler.compile([source], output_dir=tmp, extra_postargs=compile_args)
        exe = os.path.join(tmp, "test_openmp")
        compiler.link_executable(objects, exe, extra_postargs=link_args)
        out = subprocess.run([exe], capture_output=True, text=True, timeout=60)
        return out.returncode == 0 and out.stdout.strip() == "1"
    except Exception:  # any compile, link or run failure means "no OpenMP"
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def compiler_version(compiler):
    exe = getattr(compiler, "compiler", None)
    if not exe:
        return compiler.compiler_type
    try:
        out = subprocess.run([exe[0], "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0].strip()
    except Exception:
        return exe[0]


class BuildExt(build_ext):
    """build_ext that chooses the flags for the compiler at hand and records them."""

    def finalize_options(self):
        super().finalize_options()
        # Always compile: setuptools' up-to-date check looks at the sources only, so a
        # build/ left by an earlier build with other flags (FASTNN_NATIVE, FASTNN_SANITIZE,
        # no OpenMP) would otherwise be installed as it is.
        self.force = True

    def build_extensions(self):
        compiler = self.compiler
        if compiler.compiler_type == "msvc":
            compile_args, link_args = ["/O2"], []
        else:
            # -ffp-contract=off: no a*b + c fused into an FMA behind our back, so results
            # do not depend on the instruction set of the clone that runs; the GEMM
            # micro-kernel turns it back on for itself (csrc/gather_gemm.h).
            compile_args = ["-O3", "-fno-math-errno", "-ffp-contract=off",
                            "-Wno-unused-function"]
            link_args = []
        if env_flag("FASTNN_NATIVE") and compiler.compiler_type != "msvc":
            compile_args.append("-march=native")
        if env_flag("FASTNN_SANITIZE"):
            sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                        "-fno-omit-frame-pointer", "-g"]
            compile_args += sanitize
            link_args += sanitize

        omp_compile, omp_link = openmp_flags(compiler)
        use_openmp = not env_flag("FASTNN_NO_OPENMP") and openmp_works(
            compiler, omp_compile, omp_link)
        if use_openmp:
            compile_args += omp_compile
            link_args += omp_link
        else:
            print("fastnn: building WITHOUT OpenMP (kernels will run single-threaded)")

        for ext in self.extensions:
            ext.extra_compile_args = compile_args + list(ext.extra_compile_args)
            ext.extra_link_args = link_args + list(ext.extra_link_args)
        self.write_build_config(compiler, compile_args, link_args, use_openmp)
        super().build_extensions()

    def write_build_config(self, compiler, compile_args, link_args, use_openmp):
        """Write fastnn/_build_config.py, read by fastnn.build_info()."""
        config = {
            "compiler": compiler_version(compiler),
            "compile_args": compile_args,
            "link_args": link_args,
            "openmp": use_openmp,
            "native": env_flag("FASTNN_NATIVE"),
            "sanitize": env_flag("FASTNN_SANITIZE"),
            "machine": platform.machine(),
            "python": sysconfig.get_python_version(),
            "numpy_build": numpy.__version__,
        }
        text = "# Generated by setup.py at build time; do not edit.\nCONFIG = %r\n" % (config,)
        # Both the source tree (in-place and editable builds) and build_lib (wheels).
        targets = [os.path.join(HERE, "fastnn")]
        if not self.inplace:
            targets.append(os.path.join(self.build_lib, "fastnn"))
        for directory in targets:
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, "_build_config.py"), "w") as f:
                f.write(text)


extensions = [
    Extension(
        "fastnn._kernels." + name,
        [os.path.join("fastnn", "_kernels", name + ".pyx")],
        include_dirs=[numpy.get_include(), "csrc"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for name in KERNELS
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "initializedcheck": False,
            "cdivision": True,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
