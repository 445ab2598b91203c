"""Build fastnn's Cython kernels.

Flags are portable by default (``-O3``, no ``-march``).  OpenMP is required: the build
stops with an error when the compiler cannot compile and link an OpenMP program, unless
``FASTNN_NO_OPENMP=1`` asks for a single-threaded build (then it says so).  The probe
compiles and links but runs nothing, so it works when cross-compiling.

The build writes nothing into the package's sources (the C files Cython generates and the
recorded build configuration go under ``build/``; ``build_ext --inplace`` puts the
compiled modules and ``_build_config.py`` beside the sources, as it is asked to), and
recompiles an extension only when its sources changed or a build variable did (the
flags, the compiler, the Python, NumPy or Cython version, the variables below).

Environment variables read at build time:

``FASTNN_NATIVE=1``      add ``-march=native`` (host-tuned; the result runs only on
                         CPUs like the build machine's).
``FASTNN_NO_OPENMP=1``   build without OpenMP even where the compiler supports it.
``FASTNN_SANITIZE=1``    build with AddressSanitizer and UndefinedBehaviorSanitizer (for
                         tests/sanitize.sh; run Python with libasan preloaded).
"""
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import Cython
import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
# One .pyx per concern in fastnn/_kernels/.
KERNELS = ["threads", "simd", "conv", "im2col", "pool", "batchnorm", "elementwise", "affine",
           "losses", "ceilings"]

OPENMP_TEST_PROGRAM = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 && omp_get_max_threads() > 0 ? 0 : 1;
}
"""

NO_OPENMP_ERROR = """
fastnn: the C compiler ({compiler}) cannot compile and link an OpenMP program with {flags}.
fastnn's kernels are multithreaded with OpenMP; without it they run on one thread.
  - Linux: install your compiler's OpenMP runtime (GCC has libgomp; for clang, libomp-dev).
  - macOS: brew install libomp, then build again (see the README, "Building on macOS").
  - Or build single-threaded on purpose: FASTNN_NO_OPENMP=1 pip install ...
"""


def env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def openmp_flags(compiler):
    """(compile_args, link_args) for OpenMP with this compiler, by its family."""
    if compiler.compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":  # Apple clang has no OpenMP runtime: LLVM's libomp
        # from Homebrew (`brew install libomp`: keg-only, so its paths are passed), or a
        # prefix given in FASTNN_LIBOMP_PREFIX (conda's $CONDA_PREFIX, say).  Untested:
        # no macOS machine here (README, "Building on macOS").
        prefixes = [os.environ.get("FASTNN_LIBOMP_PREFIX", ""), "/opt/homebrew/opt/libomp",
                    "/usr/local/opt/libomp"]
        prefix = next((p for p in prefixes if p and os.path.exists(os.path.join(p, "include", "omp.h"))), None)
        include = [f"-I{prefix}/include"] if prefix else []
        lib = [f"-L{prefix}/lib", f"-Wl,-rpath,{prefix}/lib"] if prefix else []
        return ["-Xpreprocessor", "-fopenmp"] + include, lib + ["-lomp"]
    return ["-fopenmp"], ["-fopenmp"]


def openmp_works(compiler, compile_args, link_args):
    """Compile and link a tiny OpenMP program (not run: a cross-compiler's program may not
    run here): detection, not assumption."""
    tmp = tempfile.mkdtemp(prefix="fastnn-openmp-")
    try:
        source = os.path.join(tmp, "test_openmp.c")
        with open(source, "w") as f:
            f.write(OPENMP_TEST_PROGRAM)
        objects = compiler.compile([source], output_dir=tmp, extra_postargs=compile_args)
        compiler.link_executable(objects, os.path.join(tmp, "test_openmp"), extra_postargs=link_args)
        return True
    except Exception:  # any compile or link failure means "no OpenMP"
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
    """build_ext that chooses the flags for the compiler at hand, records them, and
    recompiles only what changed (sources, or any build variable)."""

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

        use_openmp = not env_flag("FASTNN_NO_OPENMP")
        if use_openmp:
            omp_compile, omp_link = openmp_flags(compiler)
            if not openmp_works(compiler, omp_compile, omp_link):
                raise SystemExit(NO_OPENMP_ERROR.format(compiler=compiler_version(compiler),
                                                        flags=" ".join(omp_compile + omp_link)))
            compile_args += omp_compile
            link_args += omp_link
        else:
            print("fastnn: building WITHOUT OpenMP (FASTNN_NO_OPENMP=1): the kernels will run "
                  "single-threaded", file=sys.stderr)

        for ext in self.extensions:
            ext.extra_compile_args = compile_args + list(ext.extra_compile_args)
            ext.extra_link_args = link_args + list(ext.extra_link_args)
            ext.depends = list(ext.depends) + HEADERS  # a changed header recompiles
        config = self.build_config(compiler, compile_args, link_args, use_openmp)
        # setuptools' up-to-date check looks at the sources only: an extension built with
        # other flags (FASTNN_NATIVE, FASTNN_SANITIZE, no OpenMP, another NumPy) must be
        # rebuilt although its sources did not change.
        signature = os.path.join(self.build_temp, "fastnn-build-config.json")
        previous = None
        if os.path.exists(signature):
            with open(signature) as f:
                previous = f.read()
        if previous != json.dumps(config):
            self.force = True
        self.write_build_config(config)
        super().build_extensions()
        os.makedirs(self.build_temp, exist_ok=True)
        with open(signature, "w") as f:
            f.write(json.dumps(config))

    def build_config(self, compiler, compile_args, link_args, use_openmp):
        """What the build was: read by fastnn.runtime.build_record() (fastnn/_build_config.py)."""
        return {
            "compiler": compiler_version(compiler),
            "compile_args": compile_args,
            "link_args": link_args,
            "openmp": use_openmp,
            "native": env_flag("FASTNN_NATIVE"),
            "sanitize": env_flag("FASTNN_SANITIZE"),
            "machine": platform.machine(),
            "python": sysconfig.get_python_version(),
            "numpy_build": numpy.__version__,
            "cython": Cython.__version__,
        }

    def write_build_config(self, config):
        """Write fastnn/_build_config.py into the built package (beside the sources only
        for an in-place build)."""
        text = "# Generated by setup.py at build time; do not edit.\nCONFIG = %r\n" % (config,)
        directory = os.path.join(HERE if self.inplace else self.build_lib, "fastnn")
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "_build_config.py"), "w") as f:
            f.write(text)


CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "initializedcheck": False,
    "cdivision": True,
}
HEADERS = sorted(glob.glob(os.path.join("csrc", "*.h")))

extensions = [
    Extension(
        "fastnn._kernels." + name,
        [os.path.join("fastnn", "_kernels", name + ".pyx")],
        include_dirs=[numpy.get_include(), "csrc"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for name in KERNELS
]

# The generated C goes under build/, not beside the .pyx files; Cython regenerates a file
# only when its .pyx or what it cimports or includes changed.
setup(ext_modules=cythonize(extensions, build_dir=os.path.join("build", "cython"),
                            compiler_directives=CYTHON_DIRECTIVES),
      cmdclass={"build_ext": BuildExt})
