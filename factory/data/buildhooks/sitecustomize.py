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
