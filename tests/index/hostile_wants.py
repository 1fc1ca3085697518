"""The hostile corpus of want reports (`POST /wants/<project>`), in tests/index/hostile_corpus.py's style.

Every case breaks one named rule and says the status and the rule (`[rule]` in the body) it must be
refused with; nothing of a refused report may be stored. The positive controls are reports the same rules
must accept: what the sentinel sends, with and without a release, from pip's and the sentinel's agents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

GOOD: dict[str, object] = {"torch": "2.14.1", "cuda": "13.0", "cxx11_abi": True, "python": "3.12"}
JSON_TYPE = {"Content-Type": "application/json"}


@dataclass(frozen=True, kw_only=True)
class WantCase:
    category: str
    id: str
    body: bytes
    status: int
    rule: str
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON_TYPE))
    project: str = "causal-conv1d"

    @property
    def param_id(self) -> str:
        return f"{self.category}-{self.id}"


def with_(**changes: object) -> bytes:
    body = {**GOOD, **changes}
    return json.dumps({k: v for k, v in body.items() if v is not _DROP}).encode()


_DROP = object()


def _transport() -> list[WantCase]:
    good = with_()
    kinds = [
        ("no-type", {}, 415, "want-content-type"),
        ("text-plain", {"Content-Type": "text/plain"}, 415, "want-content-type"),
        ("form", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "want-content-type"),
        ("multipart", {"Content-Type": "multipart/form-data; boundary=x"}, 415, "want-content-type"),
        ("json-lookalike", {"Content-Type": "application/jsonx"}, 415, "want-content-type"),
        ("length-lie", {**JSON_TYPE, "Content-Length": "99999999"}, 413, "want-size"),
    ]
    cases = [WantCase(category="transport", id=i, body=good, headers=h, status=s, rule=r) for i, h, s, r in kinds]
    padded = good[:-1] + b" " * 2100 + b"}"
    cases.append(WantCase(category="transport", id="too-large", body=padded, status=413, rule="want-size"))
    projects = [("not-hosted", "evil-project"), ("not-normalized", "Causal_Conv1d"), ("dotted", "causal.conv1d")]
    cases += [
        WantCase(category="transport", id=i, body=good, project=p, status=404, rule="want-project") for i, p in projects
    ]
    return cases


def _json() -> list[WantCase]:
    bodies = [
        ("empty", b""),
        ("not-utf8", b'{"torch": "\xff\xfe"}'),
        ("truncated", with_()[:-2]),
        ("array", b"[]"),
        ("string", b'"2.14.1"'),
        ("number", b"2.14"),
        ("null", b"null"),
        ("nan", b'{"torch": NaN}'),
        ("infinity", b'{"torch": Infinity}'),
        (
            "duplicate-key",
            b'{"torch": "2.14.1", "torch": "2.99.0", "cuda": "13.0", "cxx11_abi": true, "python": "3.12"}',
        ),
        ("deep", b"[" * 1000 + b"]" * 1000),  # within the size limit, past json's recursion limit
        ("trailing-garbage", with_() + b"x"),
        ("two-objects", with_() + with_()),
    ]
    return [WantCase(category="json", id=i, body=b, status=400, rule="want-json") for i, b in bodies]


def _fields() -> list[WantCase]:
    cases = [
        WantCase(category="fields", id="unknown", body=with_(evil=1), status=400, rule="want-field-unknown"),
        WantCase(category="fields", id="proto", body=with_(__proto__={}), status=400, rule="want-field-unknown"),
        WantCase(category="fields", id="case", body=with_(Torch="2.14.1"), status=400, rule="want-field-unknown"),
    ]
    cases += [
        WantCase(category="fields", id=f"missing-{k}", body=with_(**{k: _DROP}), status=400, rule="want-field-missing")
        for k in GOOD
    ]
    values: list[tuple[str, str, object, str]] = [
        ("torch", "empty", "", "want-torch"),
        ("torch", "word", "latest", "want-torch"),
        ("torch", "one-part", "2", "want-torch"),
        ("torch", "shell", "2.14.1; rm -rf /", "want-torch"),
        ("torch", "long", "2." + "1" * 60, "want-torch"),
        ("torch", "number", 2.14, "want-torch"),
        ("torch", "null", None, "want-torch"),
        ("torch", "list", ["2.14.1"], "want-torch"),
        ("torch", "epoch", "1!2.14.0", "want-torch"),
        ("torch", "major-0", "0.4.1", "want-torch"),
        ("torch", "major-10", "10.0.0", "want-torch"),
        ("torch", "non-ascii", "２.14.1", "want-torch"),
        ("torch", "newline", "2.14.1\n", "want-torch"),
        ("cuda", "major-only", "13", "want-cuda"),
        ("cuda", "three-parts", "13.0.1", "want-cuda"),
        ("cuda", "tag", "cu130", "want-cuda"),
        ("cuda", "empty", "", "want-cuda"),
        ("cuda", "number", 13.0, "want-cuda"),
        ("cuda", "leading-zero", "01.0", "want-cuda"),
        ("cuda", "exponent", "1e3", "want-cuda"),
        ("cuda", "null", None, "want-cuda"),
        ("cxx11_abi", "one", 1, "want-abi"),
        ("cxx11_abi", "string", "true", "want-abi"),
        ("cxx11_abi", "null", None, "want-abi"),
        ("python", "major", "3", "want-python"),
        ("python", "two", "2.7", "want-python"),
        ("python", "patch", "3.12.1", "want-python"),
        ("python", "tag", "cp312", "want-python"),
        ("python", "number", 3.12, "want-python"),
        ("python", "html", "<b>3.12</b>", "want-python"),
        ("release", "bare-version", "1.7.0", "want-release"),
        ("release", "marker", ">=1.0; python_version>'3'", "want-release"),
        ("release", "or", "==1.0 || ==2.0", "want-release"),
        ("release", "long", "==" + "1" * 120, "want-release"),
        ("release", "clauses", ">1,>2,>3,>4,>5", "want-release"),
        ("release", "number", 1.7, "want-release"),
        ("release", "list", ["==1.7.0"], "want-release"),
        ("release", "newline", "==1.7.0\n", "want-release"),
        ("release", "url", "@ https://evil/x.whl", "want-release"),
    ]
    cases += [
        WantCase(category="fields", id=f"{k}-{i}", body=with_(**{k: v}), status=400, rule=r) for k, i, v, r in values
    ]
    return cases


WANT_CASES: list[WantCase] = _transport() + _json() + _fields()

PIP_AGENT = (
    'pip/26.0 {"ci":null,"cpu":"x86_64","distro":{"name":"Debian GNU/Linux","version":"12"},'
    '"implementation":{"name":"CPython","version":"3.12.1"},"libc":{"lib":"glibc","version":"2.36"},'
    '"python":"3.12.1","system":{"name":"Linux","release":"6.1.0"}}'
)
# (id, body, User-Agent, what the store must then hold: (release, platform, glibc))
WANT_CONTROLS: list[tuple[str, bytes, str | None, tuple[str, str, str | None]]] = [
    (
        "sentinel",
        with_(release=None),
        PIP_AGENT.replace("pip/26.0", "factory-sentinel/1"),
        ("", "linux_x86_64", "2.36"),
    ),
    ("pip-agent", with_(), PIP_AGENT, ("", "linux_x86_64", "2.36")),
    ("release", with_(release="==1.7.0"), PIP_AGENT, ("==1.7.0", "linux_x86_64", "2.36")),
    ("release-range", with_(release="<1.7 , >=1.5"), None, ("<1.7,>=1.5", "unknown", None)),
    ("local-torch", with_(torch="2.14.1+cu130"), "curl/8.0", ("", "unknown", None)),
    ("musl-agent", with_(), PIP_AGENT.replace('"glibc"', '"musl"'), ("", "linux_x86_64", None)),
    ("garbage-agent", with_(), "pip/26.0 {not json", ("", "unknown", None)),
    ("long-agent", with_(), "x" * 5000, ("", "unknown", None)),
]
