"""Build of the compiled kernels only; all metadata lives in pyproject.toml.

Environment variables:
  FASTSOFTMAX_DISABLE_OPENMP=1  build serially, without OpenMP.
  FASTSOFTMAX_REQUIRE_OPENMP=1  fail the build if OpenMP does not work.
  FASTSOFTMAX_NATIVE=1          add -march=native (never the default: a wheel
                                must run on any x86-64; the kernels choose
                                AVX-512 / AVX2 / baseline at run time anyway).
  CFLAGS=-DFASTSOFTMAX_NO_CLONES  build the baseline kernels only (no AVX2 /
                                AVX-512 copies; automatic on non-GCC compilers
                                and non-x86-64 targets).
"""
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import warnings

from setuptools import Extension, setup

OPENMP_PROBE = r"""
#include <omp.h>
#include <stdio.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    printf("%d\n", n);
    return n >= 1 ? 0 : 1;
}
"""


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _openmp_works(compiler):
    """Compile, link and run a small OpenMP program with the given compiler."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        exe = os.path.join(tmp, "probe")
        with open(src, "w") as f:
            f.write(OPENMP_PROBE)
        try:
            subprocess.run([compiler, "-fopenmp", src, "-o", exe], check=True,
                           capture_output=True, timeout=120)
            subprocess.run([exe], check=True, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return False
    return True


def _compiler():
    cc = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) or cc


def _use_openmp():
    if _env_flag("FASTSOFTMAX_DISABLE_OPENMP"):
        return False
    if _openmp_works(_compiler()):
        return True
    msg = ("fastsoftmax: the C compiler cannot build and run an OpenMP program; "
           "building the kernels serially (single-threaded).")
    if _env_flag("FASTSOFTMAX_REQUIRE_OPENMP"):
        sys.exit(msg + " FASTSOFTMAX_REQUIRE_OPENMP is set: failing.")
    warnings.warn(msg)
    print("WARNING: " + msg, file=sys.stderr)
    return False


def _generate_pxd():
    """cext/fsm_kernels.pxd, the Cython declarations of the kernels, from the
    kernel list (cext/fsm_kernel_list.h) through the C preprocessor and the
    template cext/fsm_kernels.pxd.in, in which "@N" starts a line indented by
    N levels.  Rewritten only when it changes (Cython rebuilds what depends
    on it)."""
    src = os.path.join("cext", "fsm_kernels.pxd.in")
    dst = os.path.join("cext", "fsm_kernels.pxd")
    cpp = subprocess.run([_compiler(), "-E", "-P", "-x", "c", "-I", "cext", src],
                         check=True, capture_output=True, text=True).stdout
    text = " ".join(ln for ln in cpp.splitlines() if not ln.startswith("#"))
    lines = ["    " * int(piece[0]) + " ".join(piece[1:].split())
             for piece in re.split(r"@(?=[0-9])", text)[1:]]
    new = "\n".join(lines) + "\n"
    try:
        with open(dst) as f:
            if f.read() == new:
                return
    except OSError:
        pass
    with open(dst, "w") as f:
        f.write(new)


def _extensions():
    from Cython.Build import cythonize

    _generate_pxd()

    openmp = _use_openmp()
    # No -ffast-math: it breaks NaN/inf semantics and flushes denormals for
    # the whole process.  -fno-math-errno only stops libm from setting errno.
    cflags = ["-O3", "-fno-math-errno", "-Wno-psabi"]
    ldflags = []
    if openmp:
        cflags.append("-fopenmp")
        ldflags.append("-fopenmp")
    if _env_flag("FASTSOFTMAX_NATIVE"):
        cflags.append("-march=native")
    # the headers of cext/ (kernels and the SIMD layer) and the generated
    # Cython declarations
    depends = sorted(os.path.join("cext", f) for f in os.listdir("cext")
                     if f.endswith((".h", ".pxd")))
    common = dict(
        include_dirs=["cext"],
        depends=depends,
        extra_compile_args=cflags,
        extra_link_args=ldflags,
    )
    # The production module fastsoftmax._core: the drivers and the kernels,
    # compiled once per ISA level (fsm_isa_v4.c, _v3.c, _v1.c; see
    # cext/fsm_isa.h) with the run-time dispatch in fsm_dispatch.c.  The
    # test-only fastsoftmax._testing compiles the test-only kernels only
    # (fsm_testing_v*.c), at the level _core selected (fsm_testing.c).
    levels = ("v4", "v3", "v1")
    exts = [
        Extension("fastsoftmax._core", sources=["cext/_core.pyx", "cext/fsm_dispatch.c"]
                  + [f"cext/fsm_isa_{v}.c" for v in levels], **common),
        Extension("fastsoftmax._testing", sources=["cext/_testing.pyx", "cext/fsm_testing.c"]
                  + [f"cext/fsm_testing_{v}.c" for v in levels], **common),
    ]
    return cythonize(
        exts,
        compiler_directives={"language_level": 3},
        include_path=["cext"],
    )


setup(ext_modules=_extensions())
