"""A stand-in for `cibuildwheel PACKAGE_DIR --output-dir OUT` on a machine without Docker.

It runs what cibuildwheel 4.3.5 runs for a Linux build (cibuildwheel/platforms/linux.py), in its order,
with its placeholders and environment, in a folder standing for the container:

- one "container" per invocation: a fresh folder with the project (the current directory) copied to
  /project, and for each CPython the build uses an "image" CPython holding only what manylinux's
  CPythons hold (pip, build, packaging, pyproject-hooks);
- before-all once; then per build identifier of CIBW_BUILD, in order: before-build, the build frontend,
  the repair command, and the test (a fresh venv with pip only, before-test, the repaired wheel installed,
  the test command in a scratch folder, the venv removed), the repaired wheel moved to /output;
- the wheels copied to OUT only after the last identifier succeeded; any failure ends the run at once
  (exit 1) and copies nothing out; the container removed at the end (its /project kept for the test).

Commands run with `bash --posix -c` (the image's /bin/sh is bash). Container paths (/project,
/opt/python, /opt/factory, /tmp, /output, /root/.cache/pip, the toolkit, and the volumes of
CIBW_CONTAINER_ENGINE's create_args) are rewritten to the folders standing for them. The config
(REHEARSAL_CONFIG, a JSON file) gives the toolkit by its image path, the literal substitutions (the fixture's matrix
for matrix.toml, torch from PyPI by uv for PyTorch's index), and an injected failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cibuildwheel.util.helpers import prepare_command

IMAGE_PYTHON_HOLDS = ("pip", "build", "packaging", "pyproject-hooks")  # pypa/manylinux since 2025-08
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT")


class Failed(Exception):
    pass


class Container:
    def __init__(self, config: dict[str, Any], root: Path) -> None:
        self.config, self.root = config, root
        self.uv = config["uv"]
        volumes = re.findall(r"--volume=([^:\s]+):(\S+)", os.environ.get("CIBW_CONTAINER_ENGINE", ""))
        self.paths = {
            **{inside: outside for outside, inside in volumes},
            **config["toolkits"],  # /usr/local/cuda-X.Y -> the factory's toolkit of that CUDA
            "/root/.cache/pip": str(root / "root-pip-cache"),
            "/opt/python": str(root / "opt" / "python"),
            "/opt/factory": str(root / "opt" / "factory"),
            "/project": str(root / "project"),
            "/output": str(root / "output"),
            "/tmp": str(root / "tmp"),
        }
        alternatives = "|".join(re.escape(p) for p in sorted(self.paths, key=len, reverse=True))
        self._path = re.compile(rf"(?<![\w./-])({alternatives})(?=[/\s\"':;)]|$)")
        for folder in ("tmp", "output", "root-pip-cache", "opt/python"):
            (root / folder).mkdir(parents=True, exist_ok=True)

    def host(self, text: str) -> str:
        """`text` with the config's substitutions made (their results kept as they are), then every
        container path rewritten to the folder standing for it."""
        kept: list[str] = []

        def keep(new: str) -> str:
            kept.append(new)
            return f"\x00{len(kept) - 1}\x00"

        for old, new in self.config["replace"]:
            text = text.replace(old, keep(new))
        for pattern, new in self.config["replace_re"]:
            text = re.sub(pattern, lambda _m, n=new: keep(n), text)
        text = self._path.sub(lambda m: self.paths[m[1]], text)
        return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m[1])], text)

    def image_python(self, tag: str) -> Path:
        """/opt/python/cpXY-cpXY, as the image holds it."""
        home = self.root / "opt" / "python" / f"{tag}-{tag}"
        if not home.exists():
            interpreter = self.config["pythons"][f"{tag[2]}.{tag[3:]}"]
            subprocess.run([self.uv, "venv", "--quiet", "--python", interpreter, str(home)], check=True, timeout=300)
            install = [self.uv, "pip", "install", "--quiet", "--python", str(home / "bin" / "python")]
            subprocess.run([*install, *IMAGE_PYTHON_HOLDS], check=True, timeout=300,
                           env={**os.environ, "UV_CACHE_DIR": self.config["uv_cache"]})  # fmt: skip
        return home

    def base_env(self) -> dict[str, str]:
        """The image's environment, and what CIBW_ENVIRONMENT_PASS_LINUX hands in: nothing else of the host."""
        passed = os.environ.get("CIBW_ENVIRONMENT_PASS_LINUX", "").split()
        env = {"PATH": SYSTEM_PATH, "HOME": os.environ["HOME"], "LANG": "C.UTF-8", "TMPDIR": str(self.root / "tmp")}
        # this machine's CA bundle, as cibuildwheel copies the host's into the container (PIP_CERT)
        env |= {k: v for k, v in os.environ.items() if k in CA_VARIABLES}
        env |= {k: self.host(os.environ[k]) for k in passed if k in os.environ}
        return env

    def with_build_environment(self, env: dict[str, str]) -> dict[str, str]:
        """CIBW_ENVIRONMENT evaluated on top of `env`, each assignment seeing the ones before."""
        script = f"set -a; {self.host(os.environ.get('CIBW_ENVIRONMENT_LINUX', ''))}; env -0"
        done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, timeout=60, check=True)
        return dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)

    def call(self, stage: str, ident: str, command: str, env: dict[str, str], cwd: Path) -> None:
        fail = self.config.get("fail") or {}
        if fail.get("identifier") == ident and fail.get("stage") == stage:
            print(f"stand-in: injected failure at {stage} of {ident}", flush=True)
            raise Failed(f"{stage} of {ident} (injected)")
        print(f"stand-in [{ident} {stage}] $ {command}", flush=True)
        with open(self.config["record"], "a") as record:  # what the container's command saw
            record.write(json.dumps({"identifier": ident, "stage": stage, "env": env}) + "\n")
        started = time.monotonic()
        done = subprocess.run(["bash", "--posix", "-c", command], env=env, cwd=cwd, timeout=1800)
        print(f"stand-in: {stage} of {ident} took {time.monotonic() - started:.0f} s", flush=True)
        if done.returncode != 0:
            print(f"stand-in: {stage} of {ident} failed with exit {done.returncode}", flush=True)
            raise Failed(f"{stage} of {ident}")

    def run(self, package_dir: Path, output_dir: Path) -> None:
        identifiers = os.environ["CIBW_BUILD"].split()
        print(f"stand-in: this container hosts the build for {', '.join(identifiers)}", flush=True)
        shutil.copytree(Path.cwd(), self.root / "project", symlinks=True)
        container_package = "/project/" + str(package_dir.resolve().relative_to(Path.cwd()))
        for ident in identifiers:
            self.image_python(ident.split("-")[0])
        before_all = os.environ.get("CIBW_BEFORE_ALL_LINUX")
        if before_all:
            self.image_python("cp312")
            env = self.with_build_environment({**self.base_env(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
            command = self.host(prepare_command(before_all, project="/project", package=container_package))
            self.call("before-all", identifiers[0], command, env, self.root / "project")
        for ident in identifiers:
            self.build_one(ident, container_package)
        output_dir.mkdir(parents=True, exist_ok=True)
        for wheel in (self.root / "output").glob("*.whl"):
            shutil.copy2(wheel, output_dir / wheel.name)

    def build_one(self, ident: str, package: str) -> None:
        python_bin = self.image_python(ident.split("-")[0]) / "bin"
        env = {**self.base_env(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        env["PATH"] = f"{python_bin}:{env['PATH']}"
        env = {**self.with_build_environment(env), "CIBUILDWHEEL_BUILD_IDENTIFIER": ident}
        project = self.root / "project"
        before = os.environ.get("CIBW_BEFORE_BUILD_LINUX")
        if before:
            self.call("before-build", ident, self.host(prepare_command(before, project="/project", package=package)),
                      env, project)  # fmt: skip
        built, repaired = "/tmp/cibuildwheel/built_wheel", "/tmp/cibuildwheel/repaired_wheel"
        for folder in (built, repaired):
            shutil.rmtree(self.host(folder), ignore_errors=True)
            Path(self.host(folder)).mkdir(parents=True)
        frontend = os.environ.get("CIBW_BUILD_FRONTEND", "pip")
        name, _, rest = frontend.partition(";")
        args = rest.split("args:", 1)[1].strip() if "args:" in rest else ""
        assert name.strip() == "pip", f"the stand-in runs the pip frontend only, not {frontend!r}"
        build = f"python -m pip wheel {package} --wheel-dir={built} --no-deps {args}"
        self.call("build", ident, self.host(build), env, project)
        (wheel,) = Path(self.host(built)).glob("*.whl")
        repair = os.environ.get("CIBW_REPAIR_WHEEL_COMMAND_LINUX")
        assert repair, "the stand-in expects a repair command"
        command = prepare_command(repair, wheel=f"{built}/{wheel.name}", dest_dir=repaired, package=package,
                                  project="/project")  # fmt: skip
        self.call("repair", ident, self.host(command), env, project)
        wheels = list(Path(self.host(repaired)).glob("*.whl"))
        if len(wheels) != 1:
            raise Failed(f"the repair command left {len(wheels)} wheels, not one")
        self.test(ident, f"{repaired}/{wheels[0].name}", env, python_bin)
        shutil.move(wheels[0], self.root / "output" / wheels[0].name)

    def test(self, ident: str, wheel: str, env: dict[str, str], python_bin: Path) -> None:
        """cibuildwheel's test step; `wheel` is the repaired wheel's container path."""
        command = os.environ.get("CIBW_TEST_COMMAND")
        if not command:
            return
        scratch = Path(self.host("/tmp")) / f"test-{ident}"
        venv = scratch / "venv"  # virtualenv --pip=embed --no-setuptools: pip only
        subprocess.run([str(python_bin / "python"), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
        seed = [self.uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "pip"]
        subprocess.run(seed, check=True, timeout=300, env={**os.environ, "UV_CACHE_DIR": self.config["uv_cache"]})
        test_env = {**env, "PATH": f"{venv / 'bin'}:{env['PATH']}", "VIRTUAL_ENV": str(venv)}
        before = os.environ.get("CIBW_BEFORE_TEST_LINUX")
        if before:
            self.call("before-test", ident, self.host(prepare_command(before, project="/project")), test_env, scratch)
        self.call("install", ident, self.host(f"pip install {wheel}"), test_env, scratch)
        (scratch / "test_cwd").mkdir()
        test = prepare_command(command, project="/project", package="/project", wheel=wheel)
        self.call("test", ident, self.host(test), test_env, scratch / "test_cwd")
        shutil.rmtree(scratch)


def main(argv: list[str]) -> int:
    config = json.loads(Path(os.environ["REHEARSAL_CONFIG"]).read_text())
    package_dir, output_dir = Path(argv[0]), Path(argv[argv.index("--output-dir") + 1])
    containers = Path(config["containers"])
    containers.mkdir(parents=True, exist_ok=True)
    # One folder for every container, as each has the same paths (/project, /tmp, ...): the containers of a
    # cell's job run one after another, so what they share (the compile cache volume) sees the same paths.
    root = containers / "container"
    assert not root.exists(), "a container of this job is still running"
    kept = (
        containers / f"{len(list(containers.glob('*-project'))) + 1:02d}-{os.environ['CIBW_BUILD'].split()[0]}-project"
    )
    container = Container(config, root)
    try:
        container.run(package_dir, output_dir)
    except Failed as failed:
        print(f"stand-in: the build failed ({failed}); no wheel is copied out", flush=True)
        return 1
    finally:  # `docker rm`; the project (with its build folder) is kept for the test to read
        if (root / "project").exists():
            (root / "project").rename(kept)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
