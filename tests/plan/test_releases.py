"""The releases table and matrix.toml's release policies."""

from __future__ import annotations

import io
import tarfile
import tomllib

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from factory.errors import ConfigError
from factory.plan.matrix import parse_matrix
from factory.plan.releases import ReleasePolicy, has_cuda_sources, load_releases, parse_releases, render_releases

CAUSAL = canonicalize_name("causal-conv1d")
MAMBA = canonicalize_name("mamba-ssm")


def versions(policy: ReleasePolicy, package: str = "causal-conv1d") -> list[str]:
    name = canonicalize_name(package)
    return [str(r.version) for r in policy.select(name, load_releases()[name])]


def test_policies() -> None:
    every = ReleasePolicy(releases=SpecifierSet(">=1.5.1"))
    assert versions(every) == ["1.5.1", "1.5.2", "1.5.3.post1", "1.6.0", "1.6.1", "1.6.2.post1", "1.7.0"]
    newest = ReleasePolicy(releases=SpecifierSet(">=1.4.0"), newest_per_minor=True, versions=(Version("1.5.0.post8"),))
    assert versions(newest) == ["1.4.0", "1.5.0.post8", "1.5.3.post1", "1.6.2.post1", "1.7.0"]
    assert versions(ReleasePolicy(versions=(Version("2.2.4"),)), "mamba-ssm") == ["2.2.4"]
    with pytest.raises(ConfigError, match=r"names causal-conv1d 9\.9, not in the releases table"):
        versions(ReleasePolicy(versions=(Version("9.9"),)))


def test_table_facts_read_from_pypi() -> None:
    table = load_releases()
    by = {(r.package, str(r.version)): r for rows in table.values() for r in rows}
    assert str(by[(CAUSAL, "1.4.0")].requires_python) == ">=3.8"
    assert str(by[(MAMBA, "2.2.4")].requires_python) == ">=3.9"
    assert by[(MAMBA, "2.2.4")].sha256.startswith("e4114c693027")
    # PyPI's sdists of these carry no csrc/: upstream built their wheels from the git tag
    assert [v for (p, v), r in by.items() if p == MAMBA and r.cuda_sources is False][-3:] == [
        "2.2.2",
        "2.2.3.post2",
        "2.2.4",
    ]
    assert by[(MAMBA, "2.2.5")].cuda_sources and by[(CAUSAL, "1.5.1")].cuda_sources
    assert parse_releases(tomllib.loads(render_releases(table))) == table


def sdist(*names: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in names:
            tar.addfile(tarfile.TarInfo(name), io.BytesIO(b""))
    return buf.getvalue()


def test_cuda_sources_of_an_sdist() -> None:
    assert has_cuda_sources("x-1.tar.gz", sdist("x-1/setup.py", "x-1/csrc/k.cu"))
    assert not has_cuda_sources("x-1.tar.gz", sdist("x-1/setup.py", "x-1/x/__init__.py"))
    with pytest.raises(ConfigError, match="not a readable sdist"):
        has_cuda_sources("x-1.tar.gz", b"not a tar")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"name": "causal-conv1d"}, "needs a name and which releases"),
        ({"name": "causal-conv1d", "releases": ">=1", "colour": "red"}, "unknown keys"),
        ({"name": "causal-conv1d", "versions": ["1.7.0"], "newest_per_minor": True}, "newest_per_minor applies"),
        ({"name": "causal-conv1d", "releases": "1.x"}, "not a version specifier"),
    ],
)
def test_bad_package_policies(row: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_matrix({"matrix": {"torch": ">=2.9"}, "packages": [row]})
