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
