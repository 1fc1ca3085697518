"""`factory plan --json --index URL` against a live `factory serve` on loopback.

The index holds one build per fixture tuple, whose factory_build.json carries the input key the factory
computes for it (the same function `factory run` and `factory repair` use): those tuples are left out.
With a changed recipe (one more patch) their keys change and they come back as build 2.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fake_dists import write_wheel
from servers import VENV_BIN, Served, client_env, free_port

from factory.cli import main
from factory.plan.expand import plan
from factory.plan.job import resolve
from factory.plan.knowledge import load_knowledge
from factory.plan.matrix import load_matrix
from factory.plan.recipes import load_recipes
from factory.plan.releases import load_releases
from factory.stages.inputs import input_key_of
from factory.stages.records import sha256_file
from index_server.local import LocalIndex

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "tiny_ext"
EXTRA_PATCH = """
[[packages.tiny-ext.patches]]
name = "readme-note"
why = "a patch that changes no code: the patch list is a declared input, so the key changes"
file = "PKG-INFO"
find = "Metadata-Version: 2.1"
replace = "Metadata-Version: 2.1"
"""


def _plan_json(args: list[str]) -> dict[str, object]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["plan", "--json", *args]) == 0
    body: dict[str, object] = json.loads(out.getvalue())
    return body


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    import sys

    sys.path.insert(0, str(FIXTURE))
    from make_sdist import make_sdist

    sdist = make_sdist("tiny-ext", "0.1.0", tmp_path / "sdists")
    recipes = load_recipes(FIXTURE / "recipes.toml")
    releases = load_releases(FIXTURE / "releases.toml")
    specs = plan(load_matrix(FIXTURE / "matrix.toml"), load_knowledge(None), recipes, "ci", releases=releases).include
    assert specs
    data = tmp_path / "data"
    local = LocalIndex(data)
    for spec in specs:
        key = input_key_of(resolve(spec, recipes), sha256_file(sdist))
        wheel = write_wheel(
            tmp_path / "wheels", "tiny-ext", str(spec.wheel_version), build=1,
            tag=f"{spec.python_tag}-{spec.python_tag}-{spec.platform}",
            build_info={"spec": spec.to_json(), "input_key": key},
        )  # fmt: skip
        local.ingest(wheel)
    port = free_port()
    argv = [str(VENV_BIN / "factory"), "serve", "--data", str(data), "--host", "127.0.0.1", "--port", str(port)]
    server = Served(argv, port, tmp_path / "serve.log", env=client_env(tmp_path))
    args = ["--matrix", str(FIXTURE / "matrix.toml"), "--releases", str(FIXTURE / "releases.toml"), "--profile", "ci",
            "--sdist", f"tiny-ext={sdist}"]  # fmt: skip
    try:
        yield server.url, args
    finally:
        server.stop()


def test_published_tuples_are_left_out_and_come_back_as_build_2(served: tuple[str, list[str]], tmp_path: Path) -> None:
    url, args = served
    page = httpx.get(f"{url}/cu13/simple/tiny-ext/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert all("_factory_build" in f for f in page.json()["files"] if f["filename"].endswith(".whl"))

    same = _plan_json([*args, "--recipes", str(FIXTURE / "recipes.toml"), "--index", url])
    assert same["include"] == [] and same["unchanged"] == ["tiny-ext-0.1.0-cu13.0-torch2.14-cp311-abi1"]

    changed = tmp_path / "recipes.toml"
    changed.write_text((FIXTURE / "recipes.toml").read_text() + EXTRA_PATCH)
    again = _plan_json([*args, "--recipes", str(changed), "--index", url])
    include = again["include"]
    assert isinstance(include, list) and [(e["id"], e["build"]) for e in include] == [
        ("tiny-ext-0.1.0-cu13.0-torch2.14-cp311-abi1", 2)
    ]
    assert again["unchanged"] == []


@pytest.mark.parametrize("form", ["{url}", "{url}/", "{url}/simple", "{url}/simple/", "{url}/cu13/simple/"])
def test_every_url_form_of_the_index_gives_the_same_plan(served: tuple[str, list[str]], form: str) -> None:
    """The base, the URL pip is given and a channel's URL read the same pages. Before, `<base>/simple` read
    /simple/simple/tiny-ext/ (404, taken as nothing published) and planned the published tuple again."""
    url, args = served
    body = _plan_json([*args, "--recipes", str(FIXTURE / "recipes.toml"), "--index", form.format(url=url)])
    assert body["include"] == [] and body["unchanged"] == ["tiny-ext-0.1.0-cu13.0-torch2.14-cp311-abi1"]


def test_a_url_that_is_no_index_fails_with_a_message(
    served: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, args = served
    argv = ["plan", "--json", *args, "--recipes", str(FIXTURE / "recipes.toml"), "--index", f"{url}/project"]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert f"{url}/project is not a PEP 691 package index" in err
    assert f"{url}/project/simple/ answered 404" in err
