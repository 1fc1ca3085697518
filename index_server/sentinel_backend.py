"""The sentinel's build backend, shipped verbatim in the sentinel sdist: it refuses every build with advice.

Not imported by the index: `index_server.sentinel` packs this file's source as `factory_sentinel_backend.py`
beside `factory_sentinel.json` (the project, its page, the want URL and the builds the index has). Standard
library only, Python 3.8 syntax: it runs in whatever interpreter the user's installer uses.

When pip or uv calls any hook, it finds the environment being installed into (pip's own interpreter; for
uv its --python, VIRTUAL_ENV, CONDA_PREFIX or .venv), asks that interpreter for torch's version, CUDA and
C++ ABI, and fails naming the missing tuple, the nearest builds the index has and what happens next. It
reports the tuple to the index in a detached child process (the failure never waits for it) unless
FACTORY_INDEX_NO_REPORT is set. Nothing here raises anything but SystemExit.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable

OPT_OUT = "FACTORY_INDEX_NO_REPORT"
CONFIG_NAME = "factory_sentinel.json"
PROBE_TIMEOUT_S = 90
_MARK = "FACTORY-SENTINEL-PROBE:"
_PROBE = (
    "import importlib.util, json, sys\n"
    "out = {'python': '%d.%d' % sys.version_info[:2], 'implementation': sys.implementation.name}\n"
    "if importlib.util.find_spec('torch') is None:\n"
    "    out['torch'] = None\n"
    "else:\n"
    "    try:\n"
    "        import torch\n"
    "        out['torch'] = str(torch.__version__)\n"
    "        out['cuda'] = getattr(getattr(torch, 'version', None), 'cuda', None)\n"
    "        f = getattr(torch, 'compiled_with_cxx11_abi', None)\n"
    "        out['cxx11_abi'] = bool(f()) if callable(f) else getattr(getattr(torch, '_C', None), "
    "'_GLIBCXX_USE_CXX11_ABI', None)\n"
    "    except BaseException as err:\n"
    "        out['torch_error'] = '%s: %s' % (type(err).__name__, err)\n"
    "print(" + repr(_MARK) + " + json.dumps(out))\n"
)
_SENDER = (
    "import sys, urllib.request\n"
    "request = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method='POST', "
    "headers={'Content-Type': 'application/json', 'User-Agent': sys.argv[3]})\n"
    "try:\n"
    "    urllib.request.urlopen(request, timeout=10).close()\n"
    "except Exception:\n"
    "    pass\n"
)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _argv(pid: int) -> list:
    return [a.decode("utf-8", "replace") for a in _read(f"/proc/{pid}/cmdline").split(b"\0") if a]


def _environ(pid: int) -> dict:
    pairs = [e.decode("utf-8", "replace").partition("=") for e in _read(f"/proc/{pid}/environ").split(b"\0")]
    return {k: v for k, _, v in pairs if k}


def installer_of(argv: list) -> str:
    """'uv', 'pip' or 'unknown', from the command line of the process that runs the backend."""
    words = [os.path.basename(a) for a in argv[:3]]
    if words and words[0].startswith("uv"):
        return "uv"
    return "pip" if any(w.startswith("pip") for w in words) else "unknown"


def _python_in(prefix: str) -> str | None:
    for name in ("bin/python", "bin/python3", "Scripts/python.exe"):
        candidate = os.path.join(prefix, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def _option(argv: list, *names: str) -> str | None:
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1 :]
    return None


def uv_target(argv: list, environ: dict, cwd: str | None) -> str | None:
    """The interpreter `uv pip install` installs into, as uv chooses it (None: not a path we can tell)."""
    chosen = _option(argv, "--python", "-p")
    if chosen is not None:
        return chosen if os.path.isfile(chosen) else _python_in(chosen) if os.path.isdir(chosen) else None
    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        if environ.get(variable):
            return _python_in(environ[variable])
    here = cwd
    while here:
        found = _python_in(os.path.join(here, ".venv"))
        if found:
            return found
        parent = os.path.dirname(here)
        here = parent if parent != here else None
    return None


def requested_release(argv: list, project: str) -> str:
    """The specifier the installer's command line gives `project` ('causal-conv1d==1.7.0' -> '==1.7.0')."""
    wanted = _normalize(project)
    for arg in argv[1:]:
        name = ""
        for i, char in enumerate(arg):
            if not (char.isalnum() or char in "-_."):
                name, rest = arg[:i], arg[i:]
                break
        else:
            continue
        rest = rest.split(";")[0].strip()
        if rest.startswith("["):
            rest = rest.partition("]")[2].strip()
        if _normalize(name) == wanted and rest[:1] in ("=", "<", ">", "!", "~") and len(rest) <= 100:
            return rest.replace(" ", "")
    return ""


def _normalize(name: str) -> str:
    out = []
    for char in name.lower():
        out.append("-" if char in "-_." else char)
    return "".join(out)


def probe(python: str) -> dict:
    """torch's facts in `python`, asked outside the installer's build isolation ({'error': ...} if it fails)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONNOUSERSITE", "VIRTUAL_ENV")}
    try:
        done = subprocess.run(
            [python, "-c", _PROBE],
            env=env,
            cwd=os.path.dirname(os.path.abspath(__file__)),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError) as err:
        return {"error": f"{type(err).__name__}: {err}"}
    for line in done.stdout.splitlines():
        if line.startswith(_MARK):
            try:
                found = json.loads(line[len(_MARK) :])
            except ValueError:
                break
            return found if isinstance(found, dict) else {"error": "unreadable answer"}
    tail = (done.stderr or "").strip().splitlines()[-1:] or ["no output"]
    return {"error": f"exit status {done.returncode}: {tail[0][:200]}"}


def platform_facts() -> dict:
    lib, version = platform.libc_ver()
    return {
        "system": {"name": platform.system(), "release": platform.release()},
        "cpu": platform.machine(),
        "libc": {"lib": lib, "version": version} if lib else None,
        "implementation": {"name": platform.python_implementation(), "version": platform.python_version()},
    }


def _public(version: str) -> str:
    return version.split("+")[0]


def _minor(version: str) -> str:
    return ".".join(_public(version).split(".")[:2])


def _abi_words(abi: bool) -> str:
    return "C++11 ABI" if abi else "pre-C++11 ABI"


def tuple_words(torch_minor: str, cuda: str, abi: bool, python: str) -> str:
    return f"torch {torch_minor} + CUDA {cuda} + {_abi_words(abi)} + cp{python.replace('.', '')}"


def nearest(found: dict, builds: list, limit: int = 3) -> tuple:
    """(exact, near): the builds that fit the probed tuple, and the closest others with how they differ."""
    minor, major, abi, python = _minor(found["torch"]), found["cuda"].split(".")[0], found["cxx11_abi"], found["python"]

    def cost(b: dict) -> tuple:
        differs = []
        if b["torch"] != minor:
            differs.append(f"another torch minor ({b['torch']})")
        if b["cuda"].split(".")[0] != major:
            differs.append(f"another CUDA major ({b['cuda'].split('.')[0]})")
        if bool(b["abi"]) != bool(abi):
            differs.append("the other C++ ABI")
        if b["python"] != python:
            differs.append(f"another CPython ({b['python']})")
        weight = 4 * (b["torch"] != minor) + 3 * (bool(b["abi"]) != bool(abi)) + 2 * (b["python"] != python)
        weight += b["cuda"].split(".")[0] != major
        distance = abs(_as_number(b["torch"]) - _as_number(minor))
        return (weight, distance, differs)

    exact = [b for b in builds if not cost(b)[2]]
    others = sorted((cost(b)[:2], -_as_number(b["version"]), i) for i, b in enumerate(builds) if cost(b)[2])
    near, seen = [], set()
    for _, _, i in others:
        b = builds[i]
        combo = (b["torch"], b["cuda"], b["abi"], b["python"])
        if combo not in seen:
            seen.add(combo)
            near.append((b, cost(b)[2]))
        if len(near) == limit:
            break
    return exact, near


def _as_number(version: str) -> float:
    parts = [p for p in _public(version).split(".")[:3] if p.isdigit()] + ["0", "0", "0"]
    return int(parts[0]) * 10000 + int(parts[1]) * 10 + int(parts[2]) / 1000.0


def _build_line(project: str, b: dict) -> str:
    where = " and ".join(b.get("channels") or [])
    words = tuple_words(b["torch"], b["cuda"], bool(b["abi"]), b["python"])
    return f"{project} {b['version']} for {words}" + (f", in {where}" if where else "")


def _builds_block(project: str, builds: list) -> list:
    lines = ["  " + _build_line(project, b) for b in builds[:6]]
    if len(builds) > 6:
        lines.append(f"  ... and {len(builds) - 6} more on the page above")
    return lines or ["  (none yet)"]


def message(config: dict, target: str | None, found: dict, release: str, reporting: str) -> str:
    """The failure text. `reporting`: 'sent', 'opted-out', 'no-endpoint' or 'nothing' (no tuple to ask for)."""
    project, page = config["project"], config["page"]
    builds = config.get("builds") or []
    lines = ["", "", f"{project}: no prebuilt wheel on this index matches your torch / CUDA / Python."]
    where = target or "(an environment the installer did not name)"
    torch = found.get("torch")
    if "error" in found:
        lines.append(f"Could not inspect the environment being installed into, {where}: {found['error']}.")
    elif found.get("torch_error"):
        lines.append(f"torch in {where} cannot be imported ({found['torch_error']}); repair that install first.")
    elif not torch:
        lines += [
            f"The environment being installed into, {where} (CPython {found.get('python')}), has no torch.",
            "Install torch first (`pip install torch`, or from PyPI's or PyTorch's index for your CUDA), then "
            f"install {project} again: its builds are compiled against torch, and the installer picks the one whose "
            "torch pin your torch satisfies. This index never serves torch itself.",
            "Builds here:",
            *_builds_block(project, builds),
        ]
    elif not found.get("cuda"):
        lines.append(f"torch {torch} in {where} is a CPU-only build; these builds need a CUDA build of torch.")
    else:
        abi = found.get("cxx11_abi")
        abi = bool(abi) if abi is not None else True
        found = dict(found, cxx11_abi=abi)
        wanted = tuple_words(_minor(torch), found["cuda"], abi, found["python"])
        pinned = f" {release}" if release else ""
        lines += [
            f"  This environment: {where}",
            f"    torch {torch}, CUDA {found['cuda']}, {_abi_words(abi)}, CPython {found['python']}",
            f"  Missing build:    {project}{pinned} for {wanted}",
        ]
        exact, near = nearest(found, builds)
        if exact:
            lines.append("  A build for exactly this tuple is here; the installer rejected it for another reason:")
            lines += ["    " + _build_line(project, b) for b in exact[:3]]
            lines.append(
                "  Install from the channel it is in, check the release you pinned, or see --force-reinstall below."
            )
        elif near:
            lines.append("  Nearest builds this index has:")
            lines += [f"    {_build_line(project, b)} ({', '.join(d)})" for b, d in near]
        else:
            lines.append(f"  This index has no build of {project} yet.")
        lines.append("What happens next: " + _next_step(reporting, page))
        lines.append(
            "Until then: use an environment that a build above fits, or the channel of your CUDA major "
            "(.../cu12/simple, .../cu13/simple) for a torch of that CUDA."
        )
    lines += [
        f"See which builds exist: {page}",
        "Used pip install --force-reinstall? It makes pip resolve torch again, which this index never serves, "
        "so no build's torch requirement can be met. Fix: add --no-deps, or add torch's own index "
        "(https://download.pytorch.org/whl/cuXXX) with --extra-index-url.",
        f"This is the index's sentinel {project} 0.0.0: the installer reached it because every real build was "
        "rejected (their torch pin, CUDA channel or Python tag did not fit). Nothing was compiled.",
        "",
    ]
    return "\n".join(lines)


def _next_step(reporting: str, page: str) -> str:
    asked = {
        "sent": f"this index has been told that this build is wanted (one small request; set {OPT_OUT}=1 to "
        "send nothing).",
        "opted-out": f"nothing was sent to this index ({OPT_OUT} is set); without it, this install would have "
        "told the index that this build is wanted.",
        "no-endpoint": "this copy of the index cannot record wants (a static export); ask its maintainers.",
    }[reporting]
    return (
        f"{asked} The index's page lists wanted builds and whether the factory's plan can build them "
        f"({page}#wanted); the factory's next run builds the wanted ones it can, most wanted first. Once the page "
        "shows this one built, the same install gets the prebuilt wheel."
    )


def user_agent(facts: dict) -> str:
    """A User-Agent shaped like pip's, which the index reads the platform from."""
    return "factory-sentinel/1 " + json.dumps(facts, sort_keys=True, separators=(",", ":"))


def send_report(url: str, body: dict, agent: str) -> None:
    """POST the want from a detached child: this process fails at once, whatever the network does."""
    data = json.dumps(body, sort_keys=True, separators=(",", ":"))
    with contextlib.suppress(OSError, ValueError):
        subprocess.Popen(
            [sys.executable, "-I", "-c", _SENDER, url, data, agent],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/" if os.name == "posix" else None,
            start_new_session=True,
        )


def opted_out(environ: dict) -> bool:
    return environ.get(OPT_OUT, "").strip().lower() not in ("", "0", "false", "no")


def load_config() -> dict:
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), CONFIG_NAME), encoding="utf-8") as f:
        return json.load(f)


def explain(
    config: dict, parent: int, environ: dict, executable: str = sys.executable, send: Callable = send_report
) -> str:
    """Probe, report (maybe) and word the failure, for the process `parent` that runs this backend in the
    interpreter `executable` (pip's own: the one it installs into)."""
    argv = _argv(parent)
    if installer_of(argv) == "uv":
        cwd = None
        with contextlib.suppress(OSError):
            cwd = os.readlink(f"/proc/{parent}/cwd")
        target = uv_target(argv, _environ(parent), cwd)
    else:
        target = executable
    found = probe(target) if target else {"error": "uv's target environment is not a path this backend can see"}
    release = requested_release(argv, config["project"])
    has_tuple = bool(found.get("torch") and found.get("cuda") and not found.get("torch_error") and "error" not in found)
    if not has_tuple:
        reporting = "nothing"
    elif not config.get("want_url"):
        reporting = "no-endpoint"
    elif opted_out(environ):
        reporting = "opted-out"
    else:
        reporting = "sent"
        abi = found.get("cxx11_abi")
        body = {
            "release": release or None,
            "torch": _public(found["torch"]),
            "cuda": found["cuda"],
            "cxx11_abi": bool(abi) if abi is not None else True,
            "python": found["python"],
        }
        send(config["want_url"], body, user_agent(platform_facts()))
    return message(config, target, found, release, reporting)


def _refuse(*args: object, **kwargs: object) -> None:
    try:
        text = explain(load_config(), os.getppid(), dict(os.environ))
    except Exception as err:  # the advice must never turn into a traceback
        text = (
            "\n\nno prebuilt wheel on this index matches your torch / CUDA / Python "
            f"({type(err).__name__}: {err}). Nothing was compiled.\n"
        )
    raise SystemExit(text)


get_requires_for_build_wheel = _refuse
get_requires_for_build_sdist = _refuse
prepare_metadata_for_build_wheel = _refuse
build_wheel = _refuse
build_sdist = _refuse
get_requires_for_build_editable = _refuse
prepare_metadata_for_build_editable = _refuse
build_editable = _refuse
