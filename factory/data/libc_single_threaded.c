/* Linked into every extension by the CUDA wheel factory.
 *
 * libstdc++'s headers since gcc 11 read `__libc_single_threaded` (a glibc 2.32 symbol) to skip atomic
 * reference counting in single-threaded programs. Referencing it raises a wheel's glibc floor to 2.32,
 * which auditwheel can only tag manylinux_2_34. A hidden local definition satisfies those references
 * inside the extension itself; 0 means "maybe multi-threaded", so libstdc++ always takes its atomic,
 * thread-safe path. Nothing else changes. */
__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;
