"""Print the C kernel sources and compiler flags that setup.py builds.

Runs setup.py with ``setuptools.setup`` and ``Cython.Build.cythonize``
replaced by stubs that only record the extensions, so nothing is compiled or
generated and Cython need not be installed.  Prints, one per line:

    source cext/<file>.c      every C source of every extension, once
    include <dir>             include directories
    define NAME[=VALUE]       define_macros
    cflag <flag>              extra_compile_args, less OpenMP and -march

The Cython sources (.pyx) and the C files Cython generates from them are left
out: they need the Python and NumPy headers of the target, and the C kernels
are what must compile on every platform.  Used by .ci/cross_check.sh, which
falls back to globbing cext/*.c when this fails (setup.py reshaped).
"""
import os
import runpy
import sys
import types


def extensions(root):
    captured = {}

    def fake_setup(**kwargs):
        captured.update(kwargs)

    def fake_cythonize(exts, *args, **kwargs):
        return exts

    import setuptools

    setuptools.setup = fake_setup
    cython = types.ModuleType("Cython")
    cython_build = types.ModuleType("Cython.Build")
    cython_build.cythonize = fake_cythonize
    cython.Build = cython_build
    sys.modules["Cython"] = cython
    sys.modules["Cython.Build"] = cython_build
    # no OpenMP probe (it would run the host compiler) and no -fopenmp
    os.environ["FASTSOFTMAX_DISABLE_OPENMP"] = "1"
    os.environ.pop("FASTSOFTMAX_NATIVE", None)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        runpy.run_path("setup.py", run_name="__main__")
    finally:
        os.chdir(cwd)
    exts = captured.get("ext_modules") or []
    if not exts:
        raise SystemExit("setup.py declared no extension modules")
    return exts


def main(root):
    sources, includes, defines, cflags = [], [], [], []

    def add(seq, item):
        if item not in seq:
            seq.append(item)

    for ext in extensions(root):
        stems = {os.path.splitext(s)[0] for s in ext.sources if s.endswith((".pyx", ".py"))}
        for src in ext.sources:
            if src.endswith(".c") and os.path.splitext(src)[0] not in stems:
                add(sources, src)
        for inc in ext.include_dirs:
            add(includes, inc)
        for name, value in ext.define_macros:
            add(defines, name if value is None else f"{name}={value}")
        for flag in ext.extra_compile_args:
            if flag != "-fopenmp" and not flag.startswith("-march"):
                add(cflags, flag)
    if not sources:
        raise SystemExit("setup.py lists no C kernel sources")
    for kind, items in (("source", sources), ("include", includes),
                        ("define", defines), ("cflag", cflags)):
        for item in items:
            print(kind, item)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
