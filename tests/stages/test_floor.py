"""Reaching torch <= 2.6's glibc 2.17 floor with gcc 12: what references raise it, and the means the
factory uses against them (old ABI, -fno-sized-deallocation, the local __throw_out_of_range_fmt), each
checked on a shared object compiled here; and the record of a floor raised anyway."""

from __future__ import annotations

import subprocess
from importlib import resources
from pathlib import Path

import pytest

from factory.stages.floor import raised_floor_record, symbols_above

SOURCE = """
#include <exception>
#include <memory>
#include <string>
#include <vector>
int at(std::vector<int>& v, int i) { return v.at(i); }
std::string name(const char* s) { return std::string(s) + "!"; }
struct Big { double x[8]; };
void drop(Big* b) { delete b; }
double* raw(unsigned long n) { return std::allocator<double>().allocate(n); }
bool same(std::exception_ptr e) { std::exception_ptr copy = e; return copy == e; }
"""
SHIM = Path(str(resources.files("factory").joinpath("data/glibcxx_floor.cpp")))
LIBC_SHIM = Path(str(resources.files("factory").joinpath("data/libc_single_threaded.c")))  # linked into every build
FLOOR = "manylinux_2_17_x86_64"


def shared_object(tmp_path: Path, *flags: str, shim: bool = False) -> Path:
    src = tmp_path / "ext.cpp"
    src.write_text(SOURCE)
    out = tmp_path / f"ext{len(list(tmp_path.glob('*.so')))}.so"
    libc = tmp_path / "libc_shim.o"
    subprocess.run(["gcc", "-c", "-fPIC", "-O2", str(LIBC_SHIM), "-o", str(libc)], check=True)
    objects = [str(src), str(libc)]
    if shim:
        obj = tmp_path / "shim.o"
        subprocess.run(["g++", "-c", "-fPIC", "-O2", *flags, str(SHIM), "-o", str(obj)], check=True)
        objects.append(str(obj))
    subprocess.run(["g++", "-shared", "-fPIC", "-O2", *flags, *objects, "-o", str(out)], check=True)
    return out


def test_gcc_12_defaults_raise_the_floor_and_the_reader_names_the_symbols(tmp_path: Path) -> None:
    above = symbols_above(shared_object(tmp_path), FLOOR)
    assert any(s.endswith("@GLIBCXX_3.4.21") for s in above)  # the C++11 std::string
    assert "_ZSt24__throw_out_of_range_fmtPKcz@GLIBCXX_3.4.20" in above
    assert "_ZdlPvm@CXXABI_1.3.9" in above  # sized operator delete
    assert "_ZSt28__throw_bad_array_new_lengthv@GLIBCXX_3.4.29" in above
    assert "_ZNSt15__exception_ptr13exception_ptr9_M_addrefEv@CXXABI_1.3.13" in above
    assert symbols_above(shared_object(tmp_path), "manylinux_2_28_x86_64") == [
        "_ZNSt15__exception_ptr13exception_ptr10_M_releaseEv@CXXABI_1.3.13",
        "_ZNSt15__exception_ptr13exception_ptr9_M_addrefEv@CXXABI_1.3.13",
        "_ZSt28__throw_bad_array_new_lengthv@GLIBCXX_3.4.29",
    ]  # gcc 12 raises even torch >= 2.7's floor past 2.28 (to 2.34) without the shim
    assert symbols_above(shared_object(tmp_path, shim=True), "manylinux_2_28_x86_64") == []


def test_old_abi_without_sized_delete_and_with_the_shim_reaches_2_17(tmp_path: Path) -> None:
    flags = ("-D_GLIBCXX_USE_CXX11_ABI=0", "-fno-sized-deallocation")
    without_shim = symbols_above(shared_object(tmp_path, *flags), FLOOR)
    assert without_shim == [
        "_ZNSt15__exception_ptr13exception_ptr10_M_releaseEv@CXXABI_1.3.13",
        "_ZNSt15__exception_ptr13exception_ptr9_M_addrefEv@CXXABI_1.3.13",
        "_ZSt24__throw_out_of_range_fmtPKcz@GLIBCXX_3.4.20",
        "_ZSt28__throw_bad_array_new_lengthv@GLIBCXX_3.4.29",
    ]
    so = shared_object(tmp_path, *flags, shim=True)
    assert symbols_above(so, FLOOR) == []
    exported = subprocess.run(["nm", "-D", "--defined-only", str(so)], capture_output=True, text=True).stdout
    for name in ("__throw_out_of_range_fmt", "__throw_bad_array_new_length", "_M_addref", "_M_release"):
        assert name not in exported  # hidden: neither exported nor interposable


EXCEPTION_PTR_PROGRAM = r"""
#include <cstdio>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>
static int alive = 0;
struct Counted { Counted() { ++alive; } Counted(const Counted&) { ++alive; } ~Counted() { --alive; } };
int main() {
  {
    std::exception_ptr first = std::make_exception_ptr(Counted());
    std::vector<std::exception_ptr> copies(1000, first);  // 1000 references more
    std::exception_ptr moved = std::move(copies.back());
    copies.clear();
    try { std::rethrow_exception(moved); } catch (const Counted&) { std::printf("caught; alive=%d\n", alive); }
  }
  std::printf("after: alive=%d\n", alive);  // every reference dropped: the exception object was freed once
  volatile long n = -1;
  try { int* p = new int[n]; delete[] p; } catch (const std::bad_alloc&) { std::puts("bad_alloc"); }
  return alive;
}
"""


def test_the_exception_ptr_and_new_array_definitions_behave(tmp_path: Path) -> None:
    for abi in ("0", "1"):
        flags = (f"-D_GLIBCXX_USE_CXX11_ABI={abi}",)
        main = tmp_path / "eptr.cpp"
        main.write_text(EXCEPTION_PTR_PROGRAM)
        obj = tmp_path / "shim.o"
        subprocess.run(["g++", "-c", "-fPIC", "-O2", *flags, str(SHIM), "-o", str(obj)], check=True)
        exe = tmp_path / f"eptr{abi}"
        subprocess.run(["g++", "-O2", *flags, str(main), str(obj), "-o", str(exe)], check=True)
        imports = subprocess.run(["nm", "-u", str(exe)], capture_output=True, text=True).stdout
        assert "_M_addref" not in imports and "_M_release" not in imports  # the local definitions ran
        done = subprocess.run([str(exe)], capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout.split("\n")[:3] == [
            "caught; alive=1",
            "after: alive=0",
            "bad_alloc",
        ]


def test_the_shim_throws_what_libstdcxx_would(tmp_path: Path) -> None:
    flags = ("-D_GLIBCXX_USE_CXX11_ABI=0", "-fno-sized-deallocation")
    main = tmp_path / "main.cpp"
    main.write_text(
        "#include <cstdio>\n#include <stdexcept>\n#include <vector>\n"
        "int main() { std::vector<int> v(3);\n"
        "  try { return v.at(7); } catch (const std::out_of_range& e) { std::puts(e.what()); return 0; } }\n"
    )
    obj = tmp_path / "shim.o"
    subprocess.run(["g++", "-c", "-fPIC", "-O2", *flags, str(SHIM), "-o", str(obj)], check=True)
    exe = tmp_path / "main"
    subprocess.run(["g++", "-O2", *flags, str(main), str(obj), "-o", str(exe)], check=True)
    said = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    assert said.strip() == "vector::_M_range_check: __n (which is 7) >= this->size() (which is 3)"


def test_a_raised_floor_is_said_with_the_symbol_that_raised_it() -> None:
    record = raised_floor_record(FLOOR, "manylinux_2_24_x86_64", {"ext.so": ["_ZdlPvm@CXXABI_1.3.9"]})
    assert record["why"] == "floor raised from 2.17 to 2.24 by _ZdlPvm@CXXABI_1.3.9"
    assert record["raised_by"] == {"ext.so": ["_ZdlPvm@CXXABI_1.3.9"]} and record["wanted"] == FLOOR


@pytest.mark.parametrize("platform", ["manylinux_2_17_x86_64", "manylinux2014_x86_64"])
def test_legacy_and_pep600_names_mean_the_same_policy(tmp_path: Path, platform: str) -> None:
    assert symbols_above(shared_object(tmp_path), platform) == symbols_above(shared_object(tmp_path), FLOOR)
