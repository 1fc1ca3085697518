"""A release that builds its extension only when a switch says so (mamba-ssm's main branch made its CUDA
build opt-in with MAMBA_KEEP_CUDA_BUILD): without the switch in the recipe the wheel has no extension and
verify refuses it by name; with it, the same sdist builds and verifies."""

from __future__ import annotations

import contextlib
import io
import json
import tomllib
from pathlib import Path

import pytest
from build_fixtures import FIXTURE, fixture_args, make_sdist, needs_nvcc

from factory.cli import main

TUPLE = "tiny-ext-optin-0.1.0-cu13.0-torch2.14-cp311-abi1"


def build(sdist: Path, cache: Path, out: Path, recipes: Path, stage: str) -> dict[str, object]:
    args = [*fixture_args({"tiny-ext-optin": sdist}, cache), "--recipes", str(recipes)]
    with contextlib.redirect_stdout(io.StringIO()):
        main(["build", *args, "--profile", "optin", "--out", str(out), "--skip-dependency-check"])
    return json.loads((out / TUPLE / f"{stage}.json").read_text())


def without_switch(tmp_path: Path) -> Path:
    text = (FIXTURE / "recipes.toml").read_text()
    assert 'switches = { TINY_EXT_OPTIN_KEEP_CUDA_BUILD = "TRUE" }' in text
    recipes = tmp_path / "recipes.toml"
    recipes.write_text(text.replace('switches = { TINY_EXT_OPTIN_KEEP_CUDA_BUILD = "TRUE" }\n', ""))
    assert "switches" not in tomllib.loads(recipes.read_text())["packages"]["tiny-ext-optin"]
    return recipes


@needs_nvcc
@pytest.mark.integration
def test_the_switch_decides_and_verify_refuses_a_wheel_without_its_kernels(build_cache: Path, tmp_path: Path) -> None:
    sdist = make_sdist("tiny-ext-optin", "0.1.0", tmp_path / "sdist", opt_in=True)
    refused = build(sdist, build_cache, tmp_path / "without", without_switch(tmp_path), "build")
    assert (refused["outcome"], refused["cause"]) == ("failed", "no-wheel")
    assert "without its compiled tiny_ext_optin_cuda" in str(refused["message"])
    assert not (tmp_path / "without" / TUPLE / "repair.json").exists()  # never repaired, never published
    kept = build(sdist, build_cache, tmp_path / "with", FIXTURE / "recipes.toml", "verify")
    assert kept["outcome"] == "ok" and kept["outputs"]["extension_import"] == ["tiny_ext_optin_cuda"]  # type: ignore[index]
