/*
** faultutil.h — fault injection for tesoro's torture suites.
**
** Two shims, both installed into SQLite, so they reach tesoro as well
** (every byte tesoro allocates comes from sqlite3_malloc64, and tesoro opens
** its file through the default VFS):
**
**   - An allocator (SQLITE_CONFIG_MALLOC) wrapping SQLite's default one.  It
**     counts allocations and what is outstanding, and can fail the Nth
**     allocation (malloc or realloc) from the moment it is armed, once or
**     from then on ("persistent").  libsodium's own allocations (password
**     hashing) do not go through it.
**   - A VFS ("faultvfs", registered as the default while installed) wrapping
**     the default VFS.  It can fail the Nth read, write, sync or truncate
**     (any mix of them) with the matching SQLITE_IOERR_* code, once or
**     persistently, and can simulate a full disk: a budget of bytes by which
**     the files may still grow; a write that would grow a file past it fails
**     with SQLITE_FULL (the disk stays full until disarmed).
**
** Every fault that fires is counted, per arming (fu_*_fired) and in total
** (fu_*_total).  The shims are for single-threaded tests.
*/
#ifndef TESORO_FAULTUTIL_H
#define TESORO_FAULTUTIL_H

#include <stdint.h>

/* Install both shims (sqlite3_shutdown, config, sqlite3_initialize; no
** SQLite connection may be open).  Returns 0, or -1 if SQLite refused. */
int fu_install(void);
/* Remove them again (no connection may be open): the default allocator and
** the default VFS come back. */
void fu_uninstall(void);

/* ---- allocation faults ---- */
/* Fail the nth allocation from now (n >= 1); persistent: every later one
** too.  Replaces any earlier arming and resets fu_malloc_fired(). */
void fu_malloc_fail(int64_t n, int persistent);
/* Disarm (counters stay). */
void fu_malloc_off(void);
/* Faults fired since the last fu_malloc_fail. */
int64_t fu_malloc_fired(void);
/* Allocations (malloc + realloc) attempted since the last fu_malloc_fail. */
int64_t fu_malloc_calls(void);
/* Totals since install: allocations, injected failures. */
int64_t fu_malloc_count(void);
int64_t fu_malloc_total(void);
/* Live allocations and their bytes, now. */
int64_t fu_malloc_outstanding(void);
int64_t fu_malloc_outstanding_bytes(void);

/* ---- I/O faults ---- */
#define FU_IO_READ     1
#define FU_IO_WRITE    2
#define FU_IO_SYNC     4
#define FU_IO_TRUNCATE 8
#define FU_IO_ANY      (FU_IO_READ | FU_IO_WRITE | FU_IO_SYNC | FU_IO_TRUNCATE)
/* Fail the nth operation of the kinds in `mask` from now (n >= 1);
** persistent: every later one of those kinds too.  Resets fu_io_fired(). */
void fu_io_fail(int mask, int64_t n, int persistent);
/* A full disk: files may grow by `budget` more bytes in all; a write that
** would grow one past that fails with SQLITE_FULL, and so does every later
** growing write.  Resets fu_io_fired(). */
void fu_disk_full(int64_t budget);
/* on: xSync reports success without calling the real fsync (still counted
** and still faultable).  For suites that test error handling, not
** durability: it makes every commit and checkpoint cheap. */
void fu_io_nosync(int on);
/* Disarm I/O faults and the full disk (counters stay). */
void fu_io_off(void);
/* I/O faults (including SQLITE_FULL) fired since the last arming. */
int64_t fu_io_fired(void);
/* Operations of the armed kinds seen since the last arming. */
int64_t fu_io_calls(void);
/* Totals since install: injected I/O errors, injected SQLITE_FULL. */
int64_t fu_io_total(void);
int64_t fu_full_total(void);

/* Disarm everything. */
void fu_all_off(void);

/* ---- helpers ---- */
/* TESORO_LIGHT set (valgrind runs: shrink the loops)? */
int fu_light(void);
/* A small deterministic PRNG (splitmix64). */
uint64_t fu_rand(uint64_t *state);
/* Uniform in [0, n) (n > 0). */
uint64_t fu_below(uint64_t *state, uint64_t n);

#endif /* TESORO_FAULTUTIL_H */
