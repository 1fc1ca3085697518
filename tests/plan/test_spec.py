from packaging.requirements import Requirement
from packaging.version import Version
from spec_builders import make_spec

from factory.plan.spec import BuildSpec
from index_server.contract import BuildLabel


def test_id_and_label() -> None:
    spec = make_spec()
    assert spec.id == "mamba-ssm-2.3.2.post1-cu13.0-torch2.14-cp311-abi1"
    assert str(spec.wheel_version) == "2.3.2.post1+cu.13.0.torch.2.14.abi.1"
    assert spec.torch_pin == "torch>=2.14,<2.15"
    assert spec.channel == "cu13"
    assert spec.torch_requirement == "torch==2.14.1"


def test_labels_sort_numerically() -> None:
    old = make_spec(torch=Version("2.9.1"), cuda=Version("12.8"), torch_cuda=Version("12.8"))
    new = make_spec(torch=Version("2.10.0"), cuda=Version("12.8"), torch_cuda=Version("12.8"))
    assert new.wheel_version > old.wheel_version
    # == on the public version matches every build of the release
    assert old.wheel_version in Requirement("mamba-ssm==2.3.2.post1").specifier


def test_label_round_trip() -> None:
    spec = make_spec(cuda=Version("12.6"), torch=Version("2.6.0"), torch_cuda=Version("12.6"))
    label = BuildLabel.parse(spec.wheel_version)
    assert label == BuildLabel(cuda=Version("12.6"), torch_minor="2.6", cxx11_abi=True)
    assert BuildLabel.parse("2.3.2") is None
    assert BuildLabel.parse("2.3.2+cu121") is None


def test_exact_pin_and_non_pypi_torch() -> None:
    spec = make_spec(
        cuda=Version("12.6"),
        torch=Version("2.6.0"),
        torch_cuda=Version("12.6"),
        exact_torch_pin=True,
        torch_on_pypi=False,
    )
    assert spec.torch_pin == "torch==2.6.0+cu126"
    assert spec.torch_requirement == "torch==2.6.0+cu126"
    assert Version("2.6.0+cu126") in Requirement(spec.torch_pin).specifier
    assert Version("2.6.0") not in Requirement(spec.torch_pin).specifier


def test_json_round_trip() -> None:
    spec = make_spec(ptx="90")
    assert BuildSpec.from_json(spec.to_json()) == spec
