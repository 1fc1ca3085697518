"""One BuildSpec builder for the tests: the quick mamba-ssm tuple, any field overridden by keyword."""

from packaging.utils import canonicalize_name
from packaging.version import Version

from factory.plan.spec import BuildSpec


def make_spec(**kw: object) -> BuildSpec:
    base: dict[str, object] = dict(
        package=canonicalize_name("mamba-ssm"),
        version=Version("2.3.2.post1"),
        cuda=Version("13.0"),
        torch=Version("2.14.1"),
        torch_cuda=Version("13.0"),
        python="3.11",
        cxx11_abi=True,
        platform="manylinux_2_28_x86_64",
        archs=("90",),
        torch_on_pypi=True,
    )
    base.update(kw)
    if isinstance(base["package"], str):
        base["package"] = canonicalize_name(str(base["package"]))
    return BuildSpec(**base)  # type: ignore[arg-type]
