"""The hostile corpus: generated uploads, each breaking one named rule, grouped by category.

Every case says the status and the rule (`[rule]` in the body) it must be refused with. Positive
controls, per category, are real-looking files the same rules must accept.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field

from fake_dists import build_spec_json
from hostile_builders import Member, TarMember, WheelSpec, record_hash, sdist, zip_directory

Built = tuple[str, bytes]
CORPUS_UPLOAD_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Case:
    category: str
    id: str
    build: Callable[[], Built]
    status: int
    rule: str
    form: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] | None = None  # None: the valid token

    @property
    def param_id(self) -> str:
        return f"{self.category}-{self.id}"


def wheel(**kwargs: object) -> Callable[[], Built]:
    return lambda: WheelSpec(**kwargs).build_bytes()  # type: ignore[arg-type]


def with_members(*names: str, mode: int = stat.S_IFREG | 0o644) -> Callable[[], Built]:
    return wheel(members=[Member(name="pkg/__init__.py"), *(Member(name=n, mode=mode) for n in names)])


def tar_with(*members: TarMember, **kwargs: object) -> Callable[[], Built]:
    return lambda: sdist(members=members, **kwargs)  # type: ignore[arg-type]


def renamed(filename: str) -> Callable[[], Built]:
    return lambda: (filename, WheelSpec().build_bytes()[1])


def _paths() -> list[Case]:
    wheel_paths = [
        ("../../evil.py", "path-dotdot"),
        ("pkg/../../evil.py", "path-dotdot"),
        ("pkg/sub/../../../evil.py", "path-dotdot"),
        ("/etc/cron.d/evil", "path-absolute"),
        ("/pkg/evil.py", "path-absolute"),
        ("pkg\\evil.py", "path-backslash"),
        ("..\\..\\evil.py", "path-backslash"),
        ("C:/Windows/evil.dll", "path-drive-letter"),
        ("c:evil.py", "path-drive-letter"),
        ("pkg/./evil.py", "path-dot-segment"),
        ("pkg//evil.py", "path-dot-segment"),
        ("./pkg/evil.py", "path-dot-segment"),
        ("pkg/evil\x01.py", "path-characters"),
        ("pkg/evil\n.py", "path-characters"),
        ("pkg/evil\x7f.py", "path-characters"),
        ("pkg-1.0.data/lib/evil.py", "data-subfolder"),
        ("pkg-1.0.data/purelibx/evil.py", "data-subfolder"),
        ("pkg-1.0.data/PURELIB/evil.py", "data-subfolder"),
        ("pkg-1.0.data/evil.py", "data-subfolder"),
        ("pkg-1.0.data/site-packages/evil.py", "data-subfolder"),
        ("pkg-1.0.data/scripts", "data-subfolder"),
    ]
    cases = [
        Case(category="paths", id=f"wheel-{i}", build=with_members(p), status=422, rule=r)
        for i, (p, r) in enumerate(wheel_paths)
    ]
    sdist_paths = [(p, r) for p, r in wheel_paths if r != "data-subfolder"] + [
        ("pkg-1.0/../evil.py", "path-dotdot"),
        ("/etc/evil", "path-absolute"),
        ("other-1.0/evil.py", "sdist-top-folder"),
        ("evil.py", "sdist-top-folder"),
        ("pkg-1.0x/evil.py", "sdist-top-folder"),
        ("pkg-1.0\\evil.py", "path-backslash"),
        ("pkg-1.0/./evil.py", "path-dot-segment"),
        ("pkg-1.0/ev\x02il.py", "path-characters"),
    ]
    cases += [
        Case(category="paths", id=f"sdist-{i}", build=tar_with(TarMember(name=p)), status=422, rule=r)
        for i, (p, r) in enumerate(sdist_paths)
    ]
    return cases


def _names() -> list[Case]:
    names = [
        ("pkg-1.0-py3-none-any\x01.whl", "filename-characters"),
        ("pkg-1.0-py3-none-any%01.whl", "filename-characters"),
        ("pkg-1.0-py3-none-any .whl", "filename-characters"),
        ("../pkg-1.0-py3-none-any.whl", "filename-characters"),
        ("sub/pkg-1.0-py3-none-any.whl", "filename-characters"),
        ("pkg;rm -rf-1.0-py3-none-any.whl", "filename-characters"),
        ("pkg$x-1.0-py3-none-any.whl", "filename-characters"),
        ("pkgé-1.0-py3-none-any.whl", "filename-characters"),
        (".pkg-1.0-py3-none-any.whl", "filename-characters"),
        ("-pkg-1.0-py3-none-any.whl", "filename-characters"),
        ("pkg-1.0-py3-none-any.whl.exe", "filename-extension"),
        ("pkg.exe", "filename-extension"),
        ("pkg-1.0.zip", "filename-extension"),
        ("pkg-1.0.tar.bz2", "filename-extension"),
        ("pkg-1.0.egg", "filename-extension"),
        ("pkg-1.0.whl", "filename-format"),
        ("pkg-notaversion-py3-none-any.whl", "filename-format"),
        ("pkg-1.0-x1-py3-none-any.whl", "filename-format"),
        ("pkg-1.0-1-2-py3-none-any.whl", "filename-format"),
        ("pkg_1.0.tar.gz", "filename-format"),
        ("p" * 250 + "-1.0-py3-none-any.whl", "filename-length"),
        ("pkg-1.0-py3-none-any.whl/", "filename-characters"),
        ("pkg-1.0-py3-none-any.whl\\", "filename-characters"),
        ("pkg-1.0-py3-none-any.whl:evil", "filename-characters"),
        ("C:pkg-1.0-py3-none-any.whl", "filename-characters"),
        ("pkg-1.0-py3-none-any.whl?x=1", "filename-characters"),
        ("pkg-1.0-py3-none-any.whl#x", "filename-characters"),
        ("pkg*-1.0-py3-none-any.whl", "filename-characters"),
        ("pkg-1.0-py3-none-any.tar.gz", "filename-format"),
        ("pkg-1.0-py3-none.whl", "filename-format"),
        ("pkg-1.0-py3-none-any-extra.whl", "filename-format"),
        ("pkg-0.0.0.tar.gz", "sentinel-name"),
    ]
    return [Case(category="names", id=str(i), build=renamed(n), status=400, rule=r) for i, (n, r) in enumerate(names)]


def _tags() -> list[Case]:
    bad = [
        ("py3-none-evil_plat", "tag-platform"),
        ("py3-none-linux_evil", "tag-platform"),
        ("py3-none-manylinux_2_28_evil", "tag-platform"),
        ("py3-none-manylinux3_x86_64", "tag-platform"),
        ("py3-none-manylinux_2_x86_64", "tag-platform"),
        ("py3-none-macosx_x86_64", "tag-platform"),
        ("py3-none-win64", "tag-platform"),
        ("py3-none-musllinux_x86_64", "tag-platform"),
        ("py3-none-linux", "tag-platform"),
        ("py3-none-any2", "tag-platform"),
        ("py3-none-any.evil", "tag-platform"),
        ("xx3-none-any", "tag-python"),
        ("python3-none-any", "tag-python"),
        ("cp-none-any", "tag-python"),
        ("py3.evil-none-any", "tag-python"),
        ("py3-evil-any", "tag-abi"),
        ("py3-abi4-any", "tag-abi"),
        ("cp311-cp3x-linux_x86_64", "tag-abi"),
        ("py3-nonee-any", "tag-abi"),
    ]
    bad += [("cp311-cp311-" + t.split("-")[2], r) for t, r in bad if r == "tag-platform"]
    return [Case(category="tags", id=t, build=wheel(tag=t), status=400, rule=r) for t, r in bad]


def _metadata() -> list[Case]:
    dist_info = "pkg-1.0.dist-info"
    cases = [
        ("name", wheel(metadata="Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n"), "metadata-name"),
        ("version", wheel(metadata="Metadata-Version: 2.1\nName: pkg\nVersion: 2.0\n"), "metadata-version"),
        ("version-invalid", wheel(metadata="Metadata-Version: 2.1\nName: pkg\nVersion: one\n"), "metadata-version"),
        ("no-name", wheel(metadata="Metadata-Version: 2.1\nVersion: 1.0\n"), "metadata-missing"),
        ("no-version", wheel(metadata="Metadata-Version: 2.1\nName: pkg\n"), "metadata-missing"),
        ("two-dist-info", wheel(extra_dist_info="evil-1.0.dist-info"), "dist-info"),
        ("other-dist-info", wheel(dist_info="evil-1.0.dist-info"), "dist-info"),
        ("no-metadata", wheel(drop=["METADATA"]), "dist-info"),
        ("no-wheel-file", wheel(drop=["WHEEL"]), "dist-info"),
        ("wheel-version-2", wheel(wheel_file="Wheel-Version: 2.0\nTag: py3-none-any\n"), "wheel-file"),
        ("wheel-no-version", wheel(wheel_file="Tag: py3-none-any\n"), "wheel-file"),
        ("wheel-tag-differs", wheel(wheel_file="Wheel-Version: 1.0\nTag: cp311-cp311-linux_x86_64\n"), "wheel-file"),
        (
            "build-info-not-json",
            wheel(members=[Member(name="pkg/__init__.py"), Member(name=f"{dist_info}/factory_build.json", data=b"{")]),
            "build-info",
        ),
        (
            "build-info-list",
            wheel(members=[Member(name="pkg/__init__.py"), Member(name=f"{dist_info}/factory_build.json", data=b"[]")]),
            "build-info",
        ),
        ("sdist-name", lambda: sdist(pkg_info="Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n"), "metadata-name"),
        ("sdist-version", lambda: sdist(pkg_info="Metadata-Version: 2.1\nName: pkg\nVersion: 3\n"), "metadata-version"),
        ("name-suffix", wheel(metadata="Metadata-Version: 2.1\nName: pkg2\nVersion: 1.0\n"), "metadata-name"),
        ("name-dashed", wheel(metadata="Metadata-Version: 2.1\nName: pkg-evil\nVersion: 1.0\n"), "metadata-name"),
        ("version-local", wheel(metadata="Metadata-Version: 2.1\nName: pkg\nVersion: 1.0+evil\n"), "metadata-version"),
        ("version-post", wheel(metadata="Metadata-Version: 2.1\nName: pkg\nVersion: 1.0.post1\n"), "metadata-version"),
        ("sdist-no-pkg-info", lambda: sdist(top="pkg-1.0", pkg_info="", members=()), "metadata-missing"),
    ]
    return [Case(category="metadata", id=i, build=b, status=422, rule=r) for i, b, r in cases]


def with_build_info(
    edit: Callable[[dict[str, object]], object] | None = None, raw: bytes | None = None
) -> Callable[[], Built]:
    """A factory-shaped cp311 wheel of pkg 1.0 whose factory_build.json is the factory's, edited (or `raw`)."""

    def build() -> Built:
        info = build_spec_json("1.0", "13.0", "2.14")
        info["spec"]["package"] = "pkg"  # type: ignore[index]
        if edit is not None:
            edit(info)
        data = raw if raw is not None else json.dumps(info).encode()
        members = [Member(name="pkg/__init__.py"), Member(name="pkg-1.0.dist-info/factory_build.json", data=data)]
        return WheelSpec(tag="cp311-cp311-manylinux_2_28_x86_64", members=members).build_bytes()

    return build


def _spec(key: str, value: object) -> Callable[[dict[str, object]], object]:
    return lambda info: info["spec"].__setitem__(key, value)  # type: ignore[attr-defined]


def _drop_spec(key: str) -> Callable[[dict[str, object]], object]:
    return lambda info: info["spec"].pop(key)  # type: ignore[attr-defined]


def _build_info() -> list[Case]:
    """factory_build.json against the schema the factory writes (index_server.contract.BuildInfo)."""
    deep = b'{"input_key": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    cases: list[tuple[str, Callable[[], Built], int, str]] = [
        ("python-html", with_build_info(_spec("python", "<b>py</b>")), 422, "build-info"),
        ("python-other-tag", with_build_info(_spec("python", "3.12")), 422, "build-info"),
        ("package-other", with_build_info(_spec("package", "evil")), 422, "build-info"),
        ("version-other", with_build_info(_spec("version", "9.9")), 422, "build-info"),
        ("torch-not-a-version", with_build_info(_spec("torch", "<script>x</script>")), 422, "build-info"),
        ("cuda-not-a-version", with_build_info(_spec("cuda", "thirteen")), 422, "build-info"),
        ("cuda-major-string", with_build_info(_spec("cuda_major", "13")), 422, "build-info"),
        ("abi-string", with_build_info(_spec("cxx11_abi", "yes")), 422, "build-info"),
        ("archs-not-a-list", with_build_info(_spec("archs", "sm_90")), 422, "build-info"),
        ("archs-numbers", with_build_info(_spec("archs", [90])), 422, "build-info"),
        ("spec-missing-key", with_build_info(_drop_spec("torch")), 422, "build-info"),
        ("spec-a-list", with_build_info(lambda info: info.__setitem__("spec", [1])), 422, "build-info"),
        ("input-key-number", with_build_info(lambda info: info.__setitem__("input_key", 5)), 422, "build-info"),
        ("flags-not-strings", with_build_info(lambda info: info.__setitem__("flags", {"x": 1})), 422, "build-info"),
        ("nested-too-deep", with_build_info(raw=deep), 422, "build-info"),
        (
            "too-large",
            with_build_info(raw=b'{"input_key": "' + os.urandom(700_000).hex().encode() + b'"}'),
            413,
            "build-info-size",
        ),
    ]
    return [Case(category="build-info", id=i, build=b, status=s, rule=r) for i, b, s, r in cases]


def _long_names() -> list[Case]:
    """Names of any length, which a refusal must not echo in full, and headers capped while read."""
    top = "pkg-1.0"
    long_member = f"{top}/" + "a" * (16 << 20)
    metadata = (
        "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nDescription: "
        + base64.b64encode(os.urandom(1 << 20)).decode()
        + "\n"
    )
    cases = [
        (
            "tar-gnu-long-name",
            tar_with(TarMember(name=long_member), tar_format=tarfile.GNU_FORMAT),
            413,
            "tar-header-size",
        ),
        ("tar-pax-long-name", tar_with(TarMember(name=long_member)), 413, "tar-header-size"),
        ("tar-long-name-bad", tar_with(TarMember(name=f"{top}/" + "b" * 60_000 + "\x01")), 422, "path-length"),
        ("zip-long-name-bad", with_members("pkg/" + "c" * 60_000 + "\x01"), 422, "path-length"),
        ("zip-long-name-outside", with_members("../" + "d" * 60_000), 422, "path-length"),
        ("long-dist-info", wheel(extra_dist_info="e" * 60_000 + "-1.0.dist-info"), 422, "path-length"),
        ("wheel-metadata-too-large", wheel(metadata=metadata), 413, "metadata-size"),
        ("sdist-pkg-info-too-large", lambda: sdist(pkg_info=metadata), 413, "metadata-size"),
        (
            "zip-directory-count-lies",
            lambda: ("pkg-1.0-py3-none-any.whl", zip_directory(300, count=1)),
            413,
            "archive-members",
        ),
    ]
    out = [Case(category="long-names", id=i, build=b, status=s, rule=r) for i, b, s, r in cases]
    out.append(
        Case(
            category="long-names",
            id="form-name",
            build=wheel(),
            form={"name": "n" * 100_000},
            status=400,
            rule="form-name",
        )
    )
    return out


def _archives() -> list[Case]:
    top = "pkg-1.0"
    zip_kinds = [
        ("zip-symlink", stat.S_IFLNK | 0o777, "member-symlink"),
        ("zip-chardev", stat.S_IFCHR | 0o644, "member-device"),
        ("zip-blockdev", stat.S_IFBLK | 0o644, "member-device"),
        ("zip-fifo", stat.S_IFIFO | 0o644, "member-device"),
        ("zip-socket", stat.S_IFSOCK | 0o644, "member-device"),
    ]
    cases = [
        Case(category="archives", id=i, build=with_members("pkg/evil", mode=m), status=422, rule=r)
        for i, m, r in zip_kinds
    ]
    tar_kinds = [
        ("tar-symlink", TarMember(name=f"{top}/evil", type=tarfile.SYMTYPE, linkname="/etc/passwd"), "member-symlink"),
        (
            "tar-hardlink",
            TarMember(name=f"{top}/evil", type=tarfile.LNKTYPE, linkname=f"{top}/setup.py"),
            "member-hardlink",
        ),
        ("tar-chardev", TarMember(name=f"{top}/evil", type=tarfile.CHRTYPE), "member-device"),
        ("tar-blockdev", TarMember(name=f"{top}/evil", type=tarfile.BLKTYPE), "member-device"),
        ("tar-fifo", TarMember(name=f"{top}/evil", type=tarfile.FIFOTYPE), "member-device"),
        ("tar-duplicate", TarMember(name=f"{top}/setup.py", data=b"evil = 1\n"), "member-duplicate"),
    ]
    cases += [Case(category="archives", id=i, build=tar_with(m), status=422, rule=r) for i, m, r in tar_kinds]
    cases += [
        Case(
            category="archives",
            id="zip-symlink-script",
            build=with_members("pkg-1.0.data/scripts/tool", mode=stat.S_IFLNK | 0o777),
            status=422,
            rule="member-symlink",
        ),
        Case(
            category="archives",
            id="tar-symlink-relative",
            build=tar_with(TarMember(name=f"{top}/evil", type=tarfile.SYMTYPE, linkname="../../x")),
            status=422,
            rule="member-symlink",
        ),
        Case(
            category="archives",
            id="tar-hardlink-outside",
            build=tar_with(TarMember(name=f"{top}/evil", type=tarfile.LNKTYPE, linkname="/etc/shadow")),
            status=422,
            rule="member-hardlink",
        ),
        Case(
            category="archives",
            id="tar-dir-duplicate",
            build=tar_with(
                TarMember(name=f"{top}/d", type=tarfile.DIRTYPE), TarMember(name=f"{top}/d/", type=tarfile.DIRTYPE)
            ),
            status=422,
            rule="member-duplicate",
        ),
    ]
    zeros = b"\0" * (8 * 1024 * 1024)
    cases += [
        Case(
            category="archives",
            id="zip-duplicate",
            build=wheel(members=[Member(name="pkg/__init__.py"), Member(name="pkg/__init__.py", data=b"evil = 1\n")]),
            status=422,
            rule="member-duplicate",
        ),
        Case(category="archives", id="encrypted-member", build=_encrypted_flag, status=422, rule="archive-unreadable"),
        Case(
            category="archives",
            id="not-a-zip",
            build=lambda: ("pkg-1.0-py3-none-any.whl", b"not a zip"),
            status=422,
            rule="archive-unreadable",
        ),
        Case(
            category="archives",
            id="truncated-zip",
            build=lambda: ("pkg-1.0-py3-none-any.whl", WheelSpec().build_bytes()[1][:200]),
            status=422,
            rule="archive-unreadable",
        ),
        Case(
            category="archives",
            id="not-a-tar",
            build=lambda: ("pkg-1.0.tar.gz", b"\x1f\x8b garbage"),
            status=422,
            rule="archive-unreadable",
        ),
        Case(category="archives", id="wheel-bomb", build=with_zeros(zeros), status=413, rule="archive-size"),
        Case(
            category="archives",
            id="wheel-ratio",
            build=with_zeros(zeros[: 3 * 1024 * 1024]),
            status=413,
            rule="archive-ratio",
        ),
        Case(
            category="archives",
            id="sdist-bomb",
            build=tar_with(TarMember(name=f"{top}/zeros", data=zeros)),
            status=413,
            rule="archive-size",
        ),
        Case(
            category="archives",
            id="sdist-ratio",
            build=tar_with(TarMember(name=f"{top}/zeros", data=zeros[: 3 * 1024 * 1024])),
            status=413,
            rule="archive-ratio",
        ),
        Case(
            category="archives",
            id="too-many-members",
            build=with_members(*(f"pkg/m{i}.py" for i in range(300))),
            status=413,
            rule="archive-members",
        ),
        Case(
            category="archives",
            id="upload-too-large",
            build=lambda: ("pkg-1.0-py3-none-any.whl", os.urandom(CORPUS_UPLOAD_LIMIT + 1)),
            status=413,
            rule="upload-size",
        ),
    ]
    return cases


def _encrypted_flag() -> Built:
    """A valid wheel whose first member claims to be encrypted (general purpose flag bit 0)."""
    filename, data = WheelSpec().build_bytes()
    raw = bytearray(data)
    local = raw.find(b"PK\x03\x04")
    central = raw.find(b"PK\x01\x02")
    raw[local + 6] |= 1
    raw[central + 8] |= 1
    return filename, bytes(raw)


def with_zeros(zeros: bytes) -> Callable[[], Built]:
    return wheel(members=[Member(name="pkg/__init__.py"), Member(name="pkg/zeros.bin", data=zeros)])


def _digests() -> list[Case]:
    init = "pkg/__init__.py"
    cases = [
        ("record-tampered", wheel(tamper=True), "record-hash-mismatch"),
        ("record-wrong-hash", wheel(record_rows={init: record_hash(b"other")}), "record-hash-mismatch"),
        ("record-unlisted", wheel(unlisted=[Member(name="pkg/evil.py")]), "record-missing-entry"),
        ("record-empty-hash", wheel(record_rows={init: ""}), "record-missing-entry"),
        ("record-absent", wheel(no_record=True), "dist-info"),
        ("record-md5", wheel(record_rows={init: record_hash(b"x = 1\n", "md5")}), "record-weak-hash"),
        ("record-sha1", wheel(record_rows={init: record_hash(b"x = 1\n", "sha1")}), "record-weak-hash"),
        ("record-unknown-algorithm", wheel(record_rows={init: "rot13=abc"}), "record-weak-hash"),
        ("record-short-row", wheel(record_extra="pkg/other.py,sha256=abc\n"), "record-malformed"),
        ("record-no-equals", wheel(record_rows={init: "sha256"}), "record-malformed"),
    ]
    out = [Case(category="digests", id=i, build=b, status=422, rule=r) for i, b, r in cases]
    form_cases = [
        ("form-sha256", {"sha256_digest": "0" * 64}, "digest-mismatch"),
        ("form-md5", {"md5_digest": "0" * 32}, "digest-mismatch"),
        ("form-blake2", {"blake2_256_digest": "0" * 64}, "digest-mismatch"),
        ("form-sha256-garbage", {"sha256_digest": "not-hex"}, "digest-mismatch"),
        ("form-none", {"sha256_digest": None, "md5_digest": None, "blake2_256_digest": None}, "digest-missing"),
        ("form-empty", {"sha256_digest": "", "md5_digest": "", "blake2_256_digest": ""}, "digest-missing"),
    ]
    out += [Case(category="digests", id=i, build=wheel(), form=f, status=400, rule=r) for i, f, r in form_cases]
    return out


def _form_fields() -> list[Case]:
    wheel_cases = [
        ("name-other", {"name": "other"}, "form-name"),
        ("name-prefix", {"name": "pk"}, "form-name"),
        ("version-other", {"version": "2.0"}, "form-version"),
        ("version-invalid", {"version": "one"}, "form-version"),
        ("filetype-sdist", {"filetype": "sdist"}, "form-filetype"),
        ("filetype-egg", {"filetype": "bdist_egg"}, "form-filetype"),
        ("pyversion-cp311", {"pyversion": "cp311"}, "form-pyversion"),
        ("pyversion-source", {"pyversion": "source"}, "form-pyversion"),
        ("pyversion-py2", {"pyversion": "py2"}, "form-pyversion"),
        ("pyversion-any", {"pyversion": "any"}, "form-pyversion"),
        ("pyversion-extra", {"pyversion": "py3.cp311"}, "form-pyversion"),
        ("version-patch", {"version": "1.0.1"}, "form-version"),
        ("version-local", {"version": "1.0+local"}, "form-version"),
        ("version-post", {"version": "1.0.post1"}, "form-version"),
        ("name-dashed", {"name": "pkg-evil"}, "form-name"),
    ]
    cases = [Case(category="form", id=i, build=wheel(), form=f, status=400, rule=r) for i, f, r in wheel_cases]
    sdist_cases = [
        ("sdist-filetype-wheel", {"filetype": "bdist_wheel"}, "form-filetype"),
        ("sdist-pyversion-py3", {"pyversion": "py3"}, "form-pyversion"),
        ("sdist-name-other", {"name": "evil"}, "form-name"),
    ]
    cases += [Case(category="form", id=i, build=lambda: sdist(), form=f, status=400, rule=r) for i, f, r in sdist_cases]
    cases += [
        Case(
            category="form",
            id="action-submit",
            build=wheel(),
            form={":action": "submit"},
            status=400,
            rule="form-action",
        ),
        Case(
            category="form", id="action-missing", build=wheel(), form={":action": None}, status=400, rule="form-action"
        ),
        Case(category="form", id="no-content", build=wheel(), form={"content": None}, status=400, rule="form-content"),
    ]
    return cases


def _basic(raw: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _auth() -> list[Case]:
    from conftest import TOKEN

    cases = [
        ("none", {}, 401, "auth-missing"),
        ("bearer", {"Authorization": f"Bearer {TOKEN}"}, 401, "auth-missing"),
        ("not-base64", {"Authorization": "Basic %%%"}, 401, "auth-malformed"),
        ("not-utf8", _basic(b"__token__:\xff\xfe"), 401, "auth-malformed"),
        ("user-alice", _basic(f"alice:{TOKEN}".encode()), 403, "auth-user"),
        ("user-empty", _basic(f":{TOKEN}".encode()), 403, "auth-user"),
        ("user-uppercase", _basic(f"__TOKEN__:{TOKEN}".encode()), 403, "auth-user"),
        ("token-wrong", _basic(b"__token__:wrong"), 403, "auth-token"),
        ("token-empty", _basic(b"__token__:"), 403, "auth-token"),
        ("token-prefix", _basic(f"__token__:{TOKEN[:-1]}".encode()), 403, "auth-token"),
        ("token-suffix", _basic(f"__token__:{TOKEN}x".encode()), 403, "auth-token"),
        ("token-case", _basic(f"__token__:{TOKEN.upper()}".encode()), 403, "auth-token"),
        ("token-space", _basic(f"__token__: {TOKEN}".encode()), 403, "auth-token"),
        ("token-newline", _basic(f"__token__:{TOKEN}\n".encode()), 403, "auth-token"),
        ("no-colon", _basic(TOKEN.encode()), 403, "auth-user"),
    ]
    return [Case(category="auth", id=i, build=wheel(), headers=h, status=s, rule=r) for i, h, s, r in cases]


CASES: list[Case] = (
    _paths()
    + _names()
    + _tags()
    + _metadata()
    + _build_info()
    + _archives()
    + _long_names()
    + _digests()
    + _form_fields()
    + _auth()
)
CATEGORIES = sorted({c.category for c in CASES})
