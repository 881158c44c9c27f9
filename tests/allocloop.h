/* tests/allocloop.h - fail the Nth allocation of tropt's allocator for
 * N = 1, 2, ... through open/init/log/finish/free of one spec. */
#ifndef TROPT_TESTS_ALLOCLOOP_H
#define TROPT_TESTS_ALLOCLOOP_H

/* Runs inside a Check test: asserts that every call returns TROPT_OK or a
 * clean error (TROPT_ENOMEM, TROPT_EBACKEND, TROPT_ESTATE), that a failed
 * open leaves its out-pointer NULL, and stops at the first N the sequence
 * no longer reaches (printing how many failures were injected).  Leaks are
 * for ASan or valgrind to find.  The allocator is reset before it returns. */
void tu_alloc_fail_loop(const char *spec);

#endif
