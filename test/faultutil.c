/*
** faultutil.c — the allocator and VFS shims of faultutil.h.
**
** Both wrap what SQLite had before (the default allocator as
** SQLITE_CONFIG_GETMALLOC reports it, the default VFS), so with nothing armed
** they only count.
*/
#include "faultutil.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

/* ------------------------------------------------------------------------
** Allocator.
*/
static sqlite3_mem_methods fu_real_mem;
static int fu_installed;

static struct {
  int64_t countdown;  /* > 0: armed, fail when it reaches 0 */
  int persistent;
  int failing;        /* persistent and fired: fail everything */
  int64_t fired, calls;
  int64_t count, total;
  int64_t live, live_bytes;
} fu_mem;

/* Should this allocation fail? */
static int fu_mem_should_fail(void) {
  fu_mem.count++;
  if (fu_mem.failing) {
    fu_mem.calls++;
    fu_mem.fired++;
    fu_mem.total++;
    return 1;
  }
  if (fu_mem.countdown <= 0) return 0;
  fu_mem.calls++;
  if (--fu_mem.countdown > 0) return 0;
  fu_mem.fired++;
  fu_mem.total++;
  if (fu_mem.persistent) fu_mem.failing = 1;
  return 1;
}

static void *fu_xmalloc(int n) {
  void *p;
  if (fu_mem_should_fail()) return NULL;
  p = fu_real_mem.xMalloc(n);
  if (p) {
    fu_mem.live++;
    fu_mem.live_bytes += fu_real_mem.xSize(p);
  }
  return p;
}

static void fu_xfree(void *p) {
  if (p == NULL) return;
  fu_mem.live--;
  fu_mem.live_bytes -= fu_real_mem.xSize(p);
  fu_real_mem.xFree(p);
}

static void *fu_xrealloc(void *p, int n) {
  int old;
  void *q;
  if (fu_mem_should_fail()) return NULL;
  old = fu_real_mem.xSize(p);
  q = fu_real_mem.xRealloc(p, n);
  if (q) fu_mem.live_bytes += fu_real_mem.xSize(q) - old;
  return q;
}

static int fu_xsize(void *p) { return fu_real_mem.xSize(p); }
static int fu_xroundup(int n) { return fu_real_mem.xRoundup(n); }
static int fu_xinit(void *app) {
  (void)app;
  return fu_real_mem.xInit(fu_real_mem.pAppData);
}
static void fu_xshutdown(void *app) {
  (void)app;
  fu_real_mem.xShutdown(fu_real_mem.pAppData);
}

static const sqlite3_mem_methods fu_mem_methods = {
    fu_xmalloc, fu_xfree,     fu_xrealloc, fu_xsize,
    fu_xroundup, fu_xinit,    fu_xshutdown, NULL};

void fu_malloc_fail(int64_t n, int persistent) {
  fu_mem.countdown = n > 0 ? n : 0;
  fu_mem.persistent = persistent;
  fu_mem.failing = 0;
  fu_mem.fired = 0;
  fu_mem.calls = 0;
}

void fu_malloc_off(void) {
  fu_mem.countdown = 0;
  fu_mem.failing = 0;
}

int64_t fu_malloc_fired(void) { return fu_mem.fired; }
int64_t fu_malloc_calls(void) { return fu_mem.calls; }
int64_t fu_malloc_count(void) { return fu_mem.count; }
int64_t fu_malloc_total(void) { return fu_mem.total; }
int64_t fu_malloc_outstanding(void) { return fu_mem.live; }
int64_t fu_malloc_outstanding_bytes(void) { return fu_mem.live_bytes; }

/* ------------------------------------------------------------------------
** VFS.
*/
static sqlite3_vfs *fu_real_vfs;
static sqlite3_vfs fu_vfs;

static struct {
  int mask;
  int64_t countdown;
  int persistent, failing;
  int full;           /* disk-full mode armed */
  int64_t budget;     /* bytes the files may still grow by */
  int disk_is_full;
  int64_t fired, calls, total, full_total;
  int nosync;
} fu_io;

typedef struct fu_file {
  sqlite3_file base;
  sqlite3_file *real;
} fu_file;

/* The real file lives right after ours, suitably aligned. */
#define FU_FILE_SIZE ((sizeof(fu_file) + 15) & ~(size_t)15)

/* Should this operation of `kind` fail? */
static int fu_io_should_fail(int kind) {
  if (!(fu_io.mask & kind)) return 0;
  fu_io.calls++;
  if (fu_io.failing) {
    fu_io.fired++;
    fu_io.total++;
    return 1;
  }
  if (fu_io.countdown <= 0) return 0;
  if (--fu_io.countdown > 0) return 0;
  fu_io.fired++;
  fu_io.total++;
  if (fu_io.persistent) fu_io.failing = 1;
  return 1;
}

static int fu_close(sqlite3_file *f) {
  fu_file *p = (fu_file *)f;
  int rc = p->real->pMethods ? p->real->pMethods->xClose(p->real) : SQLITE_OK;
  p->real->pMethods = NULL;
  return rc;
}

static int fu_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 ofst) {
  fu_file *p = (fu_file *)f;
  if (fu_io_should_fail(FU_IO_READ)) return SQLITE_IOERR_READ;
  return p->real->pMethods->xRead(p->real, buf, amt, ofst);
}

static int fu_write(sqlite3_file *f, const void *buf, int amt,
                    sqlite3_int64 ofst) {
  fu_file *p = (fu_file *)f;
  if (fu_io_should_fail(FU_IO_WRITE)) return SQLITE_IOERR_WRITE;
  if (fu_io.full) {
    sqlite3_int64 size = 0, end = ofst + amt;
    int rc = p->real->pMethods->xFileSize(p->real, &size);
    if (rc != SQLITE_OK) return rc;
    if (end > size) {
      if (fu_io.disk_is_full || end - size > fu_io.budget) {
        fu_io.disk_is_full = 1;
        fu_io.fired++;
        fu_io.full_total++;
        return SQLITE_FULL;
      }
      fu_io.budget -= end - size;
    }
  }
  return p->real->pMethods->xWrite(p->real, buf, amt, ofst);
}

static int fu_truncate(sqlite3_file *f, sqlite3_int64 size) {
  fu_file *p = (fu_file *)f;
  if (fu_io_should_fail(FU_IO_TRUNCATE)) return SQLITE_IOERR_TRUNCATE;
  return p->real->pMethods->xTruncate(p->real, size);
}

static int fu_sync(sqlite3_file *f, int flags) {
  fu_file *p = (fu_file *)f;
  if (fu_io_should_fail(FU_IO_SYNC)) return SQLITE_IOERR_FSYNC;
  if (fu_io.nosync) return SQLITE_OK;
  return p->real->pMethods->xSync(p->real, flags);
}

static int fu_file_size(sqlite3_file *f, sqlite3_int64 *size) {
  fu_file *p = (fu_file *)f;
  return p->real->pMethods->xFileSize(p->real, size);
}

static int fu_lock(sqlite3_file *f, int level) {
  fu_file *p = (fu_file *)f;
  return p->real->pMethods->xLock(p->real, level);
}

static int fu_unlock(sqlite3_file *f, int level) {
  fu_file *p = (fu_file *)f;
  return p->real->pMethods->xUnlock(p->real, level);
}

static int fu_check_reserved(sqlite3_file *f, int *out) {
  fu_file *p = (fu_file *)f;
  return p->real->pMethods->xCheckReservedLock(p->real, out);
}

static int fu_file_control(sqlite3_file *f, int op, void *arg) {
  fu_file *p = (fu_file *)f;
  int rc = p->real->pMethods->xFileControl(p->real, op, arg);
  if (op == SQLITE_FCNTL_VFSNAME && rc == SQLITE_OK) {
    /* SQLite expects a sqlite3_malloc'd string: name the shim in front. */
    char *inner = *(char **)arg;
    *(char **)arg = sqlite3_mprintf("faultvfs/%s", inner ? inner : "");
    sqlite3_free(inner);
  }
  return rc;
}

static int fu_sector_size(sqlite3_file *f) {
  fu_file *p = (fu_file *)f;
  return p->real->pMethods->xSectorSize(p->real);
}

static int fu_device_chars(sqlite3_file *f) {
  fu_file *p = (fu_file *)f;
  return p->real->pMethods->xDeviceCharacteristics(p->real);
}

static int fu_shm_map(sqlite3_file *f, int pg, int pgsz, int extend,
                      void volatile **pp) {
  fu_file *p = (fu_file *)f;
  return p->real->pMethods->xShmMap(p->real, pg, pgsz, extend, pp);
}

static int fu_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
  fu_file *p = (fu_file *)f;
  return p->real->pMethods->xShmLock(p->real, offset, n, flags);
}

static void fu_shm_barrier(sqlite3_file *f) {
  fu_file *p = (fu_file *)f;
  p->real->pMethods->xShmBarrier(p->real);
}

static int fu_shm_unmap(sqlite3_file *f, int del) {
  fu_file *p = (fu_file *)f;
  return p->real->pMethods->xShmUnmap(p->real, del);
}

/* No memory mapping: every page comes through xRead, where faults are. */
static int fu_fetch(sqlite3_file *f, sqlite3_int64 ofst, int amt, void **pp) {
  (void)f;
  (void)ofst;
  (void)amt;
  *pp = NULL;
  return SQLITE_OK;
}

static int fu_unfetch(sqlite3_file *f, sqlite3_int64 ofst, void *page) {
  (void)f;
  (void)ofst;
  (void)page;
  return SQLITE_OK;
}

/* One method table per io_methods version, so SQLite never calls a shm or
** fetch method the real file lacks. */
static sqlite3_io_methods fu_methods[4];

static void fu_methods_init(void) {
  static const sqlite3_io_methods v3 = {
      3,           fu_close,         fu_read,           fu_write,
      fu_truncate, fu_sync,          fu_file_size,      fu_lock,
      fu_unlock,   fu_check_reserved, fu_file_control,  fu_sector_size,
      fu_device_chars, fu_shm_map,   fu_shm_lock,       fu_shm_barrier,
      fu_shm_unmap, fu_fetch,        fu_unfetch};
  for (int v = 1; v <= 3; v++) {
    fu_methods[v] = v3;
    fu_methods[v].iVersion = v;
    if (v < 2) {
      fu_methods[v].xShmMap = NULL;
      fu_methods[v].xShmLock = NULL;
      fu_methods[v].xShmBarrier = NULL;
      fu_methods[v].xShmUnmap = NULL;
    }
    if (v < 3) {
      fu_methods[v].xFetch = NULL;
      fu_methods[v].xUnfetch = NULL;
    }
  }
}

static int fu_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
                   int flags, int *out_flags) {
  fu_file *p = (fu_file *)f;
  int rc, v;
  (void)vfs;
  p->real = (sqlite3_file *)((char *)f + FU_FILE_SIZE);
  p->real->pMethods = NULL;
  p->base.pMethods = NULL;
  rc = fu_real_vfs->xOpen(fu_real_vfs, name, p->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (p->real->pMethods) p->real->pMethods->xClose(p->real);
    p->real->pMethods = NULL;
    return rc;
  }
  v = p->real->pMethods->iVersion;
  if (v < 1) v = 1;
  if (v > 3) v = 3;
  p->base.pMethods = &fu_methods[v];
  return SQLITE_OK;
}

static int fu_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
  (void)vfs;
  return fu_real_vfs->xDelete(fu_real_vfs, name, sync_dir);
}

static int fu_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
  (void)vfs;
  return fu_real_vfs->xAccess(fu_real_vfs, name, flags, out);
}

static int fu_full_pathname(sqlite3_vfs *vfs, const char *name, int n,
                            char *out) {
  (void)vfs;
  return fu_real_vfs->xFullPathname(fu_real_vfs, name, n, out);
}

static void *fu_dlopen(sqlite3_vfs *vfs, const char *name) {
  (void)vfs;
  return fu_real_vfs->xDlOpen(fu_real_vfs, name);
}

static void fu_dlerror(sqlite3_vfs *vfs, int n, char *msg) {
  (void)vfs;
  fu_real_vfs->xDlError(fu_real_vfs, n, msg);
}

static void (*fu_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void) {
  (void)vfs;
  return fu_real_vfs->xDlSym(fu_real_vfs, h, sym);
}

static void fu_dlclose(sqlite3_vfs *vfs, void *h) {
  (void)vfs;
  fu_real_vfs->xDlClose(fu_real_vfs, h);
}

static int fu_randomness(sqlite3_vfs *vfs, int n, char *out) {
  (void)vfs;
  return fu_real_vfs->xRandomness(fu_real_vfs, n, out);
}

static int fu_sleep(sqlite3_vfs *vfs, int us) {
  (void)vfs;
  return fu_real_vfs->xSleep(fu_real_vfs, us);
}

static int fu_current_time(sqlite3_vfs *vfs, double *out) {
  (void)vfs;
  return fu_real_vfs->xCurrentTime(fu_real_vfs, out);
}

static int fu_last_error(sqlite3_vfs *vfs, int n, char *out) {
  (void)vfs;
  return fu_real_vfs->xGetLastError
             ? fu_real_vfs->xGetLastError(fu_real_vfs, n, out)
             : 0;
}

static int fu_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
  (void)vfs;
  return fu_real_vfs->xCurrentTimeInt64(fu_real_vfs, out);
}

static int fu_set_syscall(sqlite3_vfs *vfs, const char *name,
                          sqlite3_syscall_ptr ptr) {
  (void)vfs;
  return fu_real_vfs->xSetSystemCall(fu_real_vfs, name, ptr);
}

static sqlite3_syscall_ptr fu_get_syscall(sqlite3_vfs *vfs, const char *name) {
  (void)vfs;
  return fu_real_vfs->xGetSystemCall(fu_real_vfs, name);
}

static const char *fu_next_syscall(sqlite3_vfs *vfs, const char *name) {
  (void)vfs;
  return fu_real_vfs->xNextSystemCall(fu_real_vfs, name);
}

void fu_io_fail(int mask, int64_t n, int persistent) {
  fu_io.mask = mask;
  fu_io.countdown = n > 0 ? n : 0;
  fu_io.persistent = persistent;
  fu_io.failing = 0;
  fu_io.fired = 0;
  fu_io.calls = 0;
}

void fu_disk_full(int64_t budget) {
  fu_io.full = 1;
  fu_io.budget = budget > 0 ? budget : 0;
  fu_io.disk_is_full = 0;
  fu_io.fired = 0;
  fu_io.calls = 0;
}

void fu_io_nosync(int on) { fu_io.nosync = on; }

void fu_io_off(void) {
  fu_io.mask = 0;
  fu_io.countdown = 0;
  fu_io.failing = 0;
  fu_io.full = 0;
  fu_io.disk_is_full = 0;
}

int64_t fu_io_fired(void) { return fu_io.fired; }
int64_t fu_io_calls(void) { return fu_io.calls; }
int64_t fu_io_total(void) { return fu_io.total; }
int64_t fu_full_total(void) { return fu_io.full_total; }

void fu_all_off(void) {
  fu_malloc_off();
  fu_io_off();
}

/* ------------------------------------------------------------------------
** Install / uninstall.
*/
int fu_install(void) {
  if (fu_installed) return 0;
  if (sqlite3_shutdown() != SQLITE_OK) return -1;
  if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &fu_real_mem) != SQLITE_OK)
    return -1;
  if (sqlite3_config(SQLITE_CONFIG_MALLOC, &fu_mem_methods) != SQLITE_OK)
    return -1;
  if (sqlite3_initialize() != SQLITE_OK) return -1;

  fu_real_vfs = sqlite3_vfs_find(NULL);
  if (fu_real_vfs == NULL) return -1;
  fu_methods_init();
  fu_vfs = (sqlite3_vfs){
      .iVersion = fu_real_vfs->iVersion < 3 ? fu_real_vfs->iVersion : 3,
      .szOsFile = (int)FU_FILE_SIZE + fu_real_vfs->szOsFile,
      .mxPathname = fu_real_vfs->mxPathname,
      .zName = "faultvfs",
      .xOpen = fu_open, .xDelete = fu_delete, .xAccess = fu_access,
      .xFullPathname = fu_full_pathname,
      .xDlOpen = fu_dlopen, .xDlError = fu_dlerror, .xDlSym = fu_dlsym,
      .xDlClose = fu_dlclose,
      .xRandomness = fu_randomness, .xSleep = fu_sleep,
      .xCurrentTime = fu_current_time, .xGetLastError = fu_last_error};
  if (fu_vfs.iVersion >= 2) fu_vfs.xCurrentTimeInt64 = fu_current_time64;
  if (fu_vfs.iVersion >= 3) {
    fu_vfs.xSetSystemCall = fu_set_syscall;
    fu_vfs.xGetSystemCall = fu_get_syscall;
    fu_vfs.xNextSystemCall = fu_next_syscall;
  }
  if (sqlite3_vfs_register(&fu_vfs, 1) != SQLITE_OK) return -1;
  fu_installed = 1;
  return 0;
}

void fu_uninstall(void) {
  if (!fu_installed) return;
  fu_all_off();
  sqlite3_vfs_register(fu_real_vfs, 1);
  sqlite3_vfs_unregister(&fu_vfs);
  sqlite3_shutdown();
  sqlite3_config(SQLITE_CONFIG_MALLOC, &fu_real_mem);
  sqlite3_initialize();
  fu_installed = 0;
}

/* ------------------------------------------------------------------------
** Helpers.
*/
int fu_light(void) {
  const char *v = getenv("TESORO_LIGHT");
  return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

uint64_t fu_rand(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

uint64_t fu_below(uint64_t *state, uint64_t n) {
  return n ? fu_rand(state) % n : 0;
}
