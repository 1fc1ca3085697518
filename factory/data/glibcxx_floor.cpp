// Linked by the CUDA wheel factory into extensions whose tuple aims for glibc 2.17 (manylinux2014:
// GLIBCXX <= 3.4.19); compiled with the tuple's C++ ABI.
//
// libstdc++'s inline code (std::vector::at, std::string::substr, ...) reports a bad index through
// std::__throw_out_of_range_fmt, which libstdc++ exports only from GLIBCXX_3.4.20 (gcc 4.9). This local
// definition satisfies those calls inside the extension: it formats the same message (the format
// strings libstdc++ passes use only %s, %zu and %lu) and throws the same std::out_of_range, built from
// a std::string so that no newer constructor is referenced.
#include <cstdarg>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace std {
void __throw_out_of_range_fmt(const char* format, ...) {
    char message[512];
    va_list args;
    va_start(args, format);
    std::vsnprintf(message, sizeof message, format, args);
    va_end(args);
    throw std::out_of_range(std::string(message));
}
}  // namespace std

// Hidden, so the extension neither exports it nor lets another library's calls bind to it (libstdc++'s
// headers declare it with default visibility, which a C++ attribute here cannot override).
asm(".hidden _ZSt24__throw_out_of_range_fmtPKcz");
