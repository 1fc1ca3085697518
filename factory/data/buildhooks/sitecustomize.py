# Loaded by the CUDA wheel factory's builds (this folder is put on PYTHONPATH).
#
# torch's cpp_extension passes its header folder (<site-packages>/torch/include) to every compile.
# That path differs per Python env, so a compile cache would miss for every Python even though the
# headers are byte-identical. When FACTORY_TORCH_INCLUDE names a shared copy of those headers, point
# the compiles at it instead; the bytes compiled are the same.
import importlib.util
import os

_shared = os.environ.get("FACTORY_TORCH_INCLUDE")
# torch absent: a Python that builds nothing (the rebuild workflow sets this for every command in its
# container, the factory's own venv included)
if _shared and importlib.util.find_spec("torch") is not None:
    import torch.utils.cpp_extension as _ext

    _own = os.path.join(_ext._TORCH_PATH, "include")
    _include_paths = _ext.include_paths

    def include_paths(*args, **kwargs):  # type: ignore[no-untyped-def]
        return [_shared + p[len(_own) :] if p.startswith(_own) else p for p in _include_paths(*args, **kwargs)]

    _ext.include_paths = include_paths

# A tuple whose torch stands in for another CUDA major's build of the same release (torch 2.3's PyPI
# wheel, CUDA 12.1, for its CUDA 11.8 build: the same C++ API and ABI) compiles with the tuple's own
# toolkit, whose major torch's cpp_extension would refuse; the factory has said so in the spec.
if os.environ.get("FACTORY_TORCH_OF_OTHER_CUDA_MAJOR") and importlib.util.find_spec("torch") is not None:
    import sys as _sys

    import torch.utils.cpp_extension as _ext2

    def _check_cuda_version(compiler_name, compiler_version):  # type: ignore[no-untyped-def]
        print(
            "cuda-wheel-factory: torch's CUDA major check skipped: " + os.environ["FACTORY_TORCH_OF_OTHER_CUDA_MAJOR"],
            file=_sys.stderr,
        )

    _ext2._check_cuda_version = _check_cuda_version

# The packages' setup.py hard-code `--threads 4` for nvcc (four device compiles per .cu file at once),
# MAX_JOBS files at once: on a runner sized for MAX_JOBS single compiles that is four times the memory.
# When FACTORY_NVCC_THREADS is set (the rebuild workflow sizes it with MAX_JOBS), every extension's nvcc
# `--threads N` / `-t N` / `--threads=N` is replaced by it before the build writes its ninja file.
_threads = os.environ.get("FACTORY_NVCC_THREADS")
if _threads and importlib.util.find_spec("torch") is not None:
    import torch.utils.cpp_extension as _cpp

    def _capped(args):  # type: ignore[no-untyped-def]
        out, following = [], False
        for arg in args:
            if following:
                arg, following = _threads, False
            elif arg in ("--threads", "-t"):
                following = True
            elif arg.startswith("--threads="):
                arg = "--threads=" + _threads
            out.append(arg)
        return out

    _build_extensions = _cpp.BuildExtension.build_extensions

    def build_extensions(self):  # type: ignore[no-untyped-def]
        for ext in self.extensions:
            extra = getattr(ext, "extra_compile_args", None)
            if isinstance(extra, dict) and isinstance(extra.get("nvcc"), list):
                extra["nvcc"] = _capped(extra["nvcc"])
        _build_extensions(self)

    _cpp.BuildExtension.build_extensions = build_extensions
