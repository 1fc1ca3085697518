// Linked by the CUDA wheel factory into every extension it builds, compiled with the tuple's C++ ABI.
//
// gcc 11+'s libstdc++ headers make extensions reference a few functions that libstdc++ exports only
// from a recent symbol version, so one inline use raises a wheel's glibc floor (auditwheel reads
// GLIBCXX_3.4.29 or CXXABI_1.3.13 as manylinux_2_34). Each is defined here, hidden, from what older
// libstdc++ releases export, so the extension's own calls bind to these and nothing else changes:
//
//   std::__throw_out_of_range_fmt (GLIBCXX_3.4.20): std::vector::at, std::string::substr, ... report a
//     bad index through it. Formats the same message (libstdc++ passes only %s, %zu, %lu) and throws the
//     same std::out_of_range, built from a std::string so that no newer constructor is referenced.
//   std::__throw_bad_array_new_length (GLIBCXX_3.4.29): `new T[n]` whose size overflows. Throws
//     std::bad_alloc, the base class of std::bad_array_new_length (whose type info is CXXABI_1.3.8): a
//     handler for bad_alloc or std::exception catches it as before, one for bad_array_new_length would not.
//   std::exception_ptr's _M_addref / _M_release (CXXABI_1.3.13): gcc 11+ copies and destroys an
//     exception_ptr inline through these. libstdc++ has always exported the copy constructor and the
//     destructor (CXXABI_1.3.3), which add and drop one reference exactly so: the definitions call those
//     (a copy made and never destroyed is one more reference; a destroyed bitwise copy is one fewer).
#include <cstdarg>
#include <cstdio>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>

extern "C" {
// std::__exception_ptr::exception_ptr::exception_ptr(const exception_ptr&) and ~exception_ptr(), as
// libstdc++.so exports them (an exception_ptr is one pointer).
void _ZNSt15__exception_ptr13exception_ptrC1ERKS0_(void* self, const void* other);
void _ZNSt15__exception_ptr13exception_ptrD1Ev(void* self);
}

namespace std {
void __throw_out_of_range_fmt(const char* format, ...) {
    char message[512];
    va_list args;
    va_start(args, format);
    std::vsnprintf(message, sizeof message, format, args);
    va_end(args);
    throw std::out_of_range(std::string(message));
}

void __throw_bad_array_new_length() { throw std::bad_alloc(); }

namespace __exception_ptr {
void exception_ptr::_M_addref() noexcept {
    void* copy;
    _ZNSt15__exception_ptr13exception_ptrC1ERKS0_(&copy, this);
}

void exception_ptr::_M_release() noexcept {
    void* copy = *reinterpret_cast<void* const*>(this);
    _ZNSt15__exception_ptr13exception_ptrD1Ev(&copy);
    *reinterpret_cast<void**>(this) = nullptr;  // as libstdc++'s own _M_release leaves it
}
}  // namespace __exception_ptr
}  // namespace std

// Hidden, so the extension neither exports these nor lets another library's calls bind to them
// (libstdc++'s headers declare them with default visibility, which a C++ attribute here cannot override).
asm(".hidden _ZSt24__throw_out_of_range_fmtPKcz");
asm(".hidden _ZSt28__throw_bad_array_new_lengthv");
asm(".hidden _ZNSt15__exception_ptr13exception_ptr9_M_addrefEv");
asm(".hidden _ZNSt15__exception_ptr13exception_ptr10_M_releaseEv");
