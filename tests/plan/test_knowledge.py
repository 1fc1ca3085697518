import tomllib
from pathlib import Path

import pytest
from packaging.version import Version

from factory.errors import ConfigError
from factory.plan.knowledge import load_knowledge, parse_knowledge


def test_table_covers_every_minor_from_2_3() -> None:
    k = load_knowledge()
    minors = list(k.minors)
    assert minors[0] == "2.3"
    assert {"2.3", "2.9", "2.10", "2.14"} <= set(minors)
    # ordered numerically, not as strings
    assert minors.index("2.10") > minors.index("2.9")


def test_facts_from_the_table() -> None:
    k = load_knowledge()
    assert k.minor("2.14").version == Version("2.14.1")
    assert k.minor("2.14").pypi_cuda == Version("13.0")
    assert k.minor("2.9").pypi_cuda == Version("12.8")
    v26 = {str(v.cuda): v for v in k.minor("2.6").variants()}
    assert not v26["12.4"].cxx11_abi and v26["12.4"].platform == "manylinux_2_17_x86_64"
    assert v26["12.6"].cxx11_abi and v26["12.6"].platform == "manylinux_2_28_x86_64"
    assert v26["12.4"].on_pypi and not v26["12.6"].on_pypi
    assert k.pypi_cuda_major()["2.11"] == 13
    for minor in k.minors.values():
        assert minor.source, f"torch {minor.minor} has no source noted"


def test_pypi_cuda_must_be_a_variant(tmp_path: Path) -> None:
    data = tomllib.loads(
        '[torch."2.9"]\nversion="2.9.1"\ncuda=["12.8"]\npypi_cuda="13.0"\ncxx11_abi=true\n'
        'glibc_floor="2.28"\npython=["3.10","3.14"]\n'
    )
    with pytest.raises(ConfigError, match=r"pypi_cuda 13\.0 is not among"):
        parse_knowledge(data)


def test_version_must_belong_to_minor() -> None:
    data = tomllib.loads(
        '[torch."2.9"]\nversion="2.10.0"\ncuda=["12.8"]\npypi_cuda="12.8"\ncxx11_abi=true\n'
        'glibc_floor="2.28"\npython=["3.10","3.14"]\n'
    )
    with pytest.raises(ConfigError, match=r"not a 2\.9\.x release"):
        parse_knowledge(data)


def test_missing_field_is_named() -> None:
    with pytest.raises(ConfigError, match="missing field 'pypi_cuda'"):
        parse_knowledge({"torch": {"2.9": {"version": "2.9.1", "cuda": ["12.8"], "python": ["3.10", "3.14"]}}})


def test_unknown_minor_says_what_to_do() -> None:
    with pytest.raises(ConfigError, match="factory discover"):
        load_knowledge().minor("9.9")


def test_the_rendered_table_reads_back_equal() -> None:
    import tomllib

    from factory.plan.knowledge import load_knowledge, parse_knowledge, render_knowledge

    packaged = load_knowledge()
    assert parse_knowledge(tomllib.loads(render_knowledge(packaged))) == packaged
