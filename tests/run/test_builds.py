"""factory.run.builds: the build number a tuple publishes next, from its published builds."""

from factory.run.builds import PublishedBuild, by_tuple, next_build, replaced

FULL = ("80", "90", "100", "ptx:120")


def build(n: int, key: str | None, *, archs: tuple[str, ...] = FULL, platform: str = "manylinux_2_28_x86_64",
          yanked: bool = False) -> PublishedBuild:  # fmt: skip
    return PublishedBuild(
        filename=f"p-1.0-{n}-cp311-cp311-{platform}.whl", build=n, input_key=key, archs=archs,
        platform_tags=(platform,), yanked=yanked,
    )  # fmt: skip


def test_first_build_is_one() -> None:
    assert next_build([], "k", FULL).build == 1


def test_equal_key_on_the_newest_is_up_to_date() -> None:
    assert next_build([build(1, "old"), build(2, "k")], "k", FULL).build is None


def test_key_equal_only_to_an_older_build_gets_the_next_number() -> None:
    assert next_build([build(1, "k"), build(2, "other")], "k", FULL).build == 3


def test_wheels_from_before_build_tags_count_as_build_zero() -> None:
    assert next_build([build(0, None)], "k", FULL).build == 1


def test_a_yanked_newest_build_is_rebuilt_under_a_new_number() -> None:
    assert next_build([build(1, "k", yanked=True)], "k", FULL).build == 2


def test_other_arch_list_is_refused_both_ways() -> None:
    reduced = ("90",)
    refused = next_build([build(1, "k")], "k2", reduced)
    assert refused.build is None and refused.refusal is not None and "reduced-arch" in refused.refusal
    assert next_build([build(1, "k", archs=reduced)], "k2", FULL).refusal is not None
    assert next_build([build(1, "k", archs=reduced, yanked=True)], "k2", FULL).build == 2


def test_replaced_lists_live_builds_with_other_platform_tags() -> None:
    old = build(1, "a", platform="manylinux_2_17_x86_64")
    same = build(2, "b")
    gone = build(3, "c", platform="manylinux_2_17_x86_64", yanked=True)
    assert replaced([old, same, gone], ("manylinux_2_28_x86_64",)) == [old.filename]


def test_by_tuple_reads_the_build_tag_and_spec_id_of_catalog_entries() -> None:
    info = {"spec": {"id": "p-1.0-x", "archs": ["90"], "ptx": None}, "input_key": "k"}
    grouped = by_tuple(
        [
            ("p-1.0-2-cp311-cp311-manylinux_2_28_x86_64.whl", info, False),
            ("p-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {"spec": info["spec"]}, True),
            ("p-1.0.tar.gz", None, False),
        ]
    )
    assert [(b.build, b.input_key, b.archs, b.yanked) for b in grouped["p-1.0-x"]] == [
        (2, "k", ("90",), False),
        (0, None, ("90",), True),
    ]
