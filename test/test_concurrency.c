/*
** test_concurrency.c — concurrent writers (issue 9): no lost update, no
** deadlock, busy only after the timeout.
**
** Four workers share one file: two forked processes and two threads of this
** process, each with its own handle (tesoro's threading rule).  Each worker
** adds notes to its own referral, walks viewings of its own deal property
** (request → confirm → cancel), adds notes to one shared referral, and
** reschedules one shared appointment with expected_version — read the
** version, reschedule at that version, retry on TESORO_ECONFLICT.  Every
** success is counted by the worker that got it; the final rows must equal
** the sums: the shared appointment's version is 2 plus the reschedules, and
** the versions the workers won are exactly 3..final, each once (two winners
** of one version would be a lost update).  A watchdog bounds the whole run:
** a worker still running at the deadline is a deadlock.
**
** Busy: a raw sqlite3 connection holds the write lock (BEGIN IMMEDIATE);
** with TESORO_CONFIG_BUSY_TIMEOUT_MS = 300 a writing call returns
** TESORO_EBUSY after at least 300 ms and the database is unchanged; a lock
** released before the timeout is waited for; readers are never blocked.
**
** TESORO_LIGHT=1 (valgrind) shrinks the number of rounds.
**
** FIGURES.  From one plain `make run-tests` on 2026-11-23 (2 m 33 s, every
** suite passed), as its `torture <what>=<n>` lines printed them:
** 900 concurrent transitions, 0 lost updates, 0 deadlocks, EBUSY never
** before the timeout.
*/
#include "testutil.h"
#include "faultutil.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define DAY INT64_C(86400)
#define APPT TESORO_ENTITY_APPOINTMENT
#define REF TESORO_ENTITY_REFERRAL

#define N_WORKERS 4 /* 0, 1: processes; 2, 3: threads */
#define MAX_ROUNDS 64

/* TESORO_LIGHT (valgrind, CI's ASan run): faultutil's rule. */
static int light(void) { return fu_light(); }

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ------------------------------------------------------------------------
** The shared world and the workers.
*/
typedef struct shared {
  const char *path;
  int64_t admin, agent, client;
  int64_t appt;                /* confirmed, rescheduled by everyone */
  int64_t ref;                 /* noted by everyone */
  int64_t own_ref[N_WORKERS];  /* noted by its worker only */
  int64_t dp[N_WORKERS];       /* viewings of its worker only */
  int rounds;
} shared;

typedef struct worker {
  int index;
  /* counted by the worker: what it was told succeeded */
  int64_t transitions, own_notes, shared_notes, cycles, reschedules;
  int64_t conflicts, busy, early_busy;
  int64_t won[MAX_ROUNDS]; /* the version each reschedule produced */
  int failed;
  char msg[200];
} worker;

typedef struct job {
  const shared *sh;
  worker *wk;
  int go_fd;
  atomic_int *finished;
} job;

static int worker_fail(worker *wk, tesoro *t, const char *what, int rc) {
  wk->failed = 1;
  snprintf(wk->msg, sizeof wk->msg, "worker %d: %s returned %s: %s",
           wk->index, what, tesoro_errname(rc),
           t ? tesoro_errmsg(t) : "(no handle)");
  return rc;
}

/* The workers keep the default busy timeout. */
#define BUSY_MS 5000

/* rc = call, timed: an EBUSY is counted, and counted as early when it came
   before the busy timeout had passed. */
#define TIMED(wk, rc, call)                                                   \
  do {                                                                        \
    int64_t t0_ = mono_ms();                                                  \
    (rc) = (call);                                                            \
    if ((rc) == TESORO_EBUSY) {                                               \
      (wk)->busy++;                                                           \
      if (mono_ms() - t0_ < BUSY_MS) (wk)->early_busy++;                      \
    }                                                                         \
  } while (0)

/* Run `call` again while it answers TESORO_EBUSY; at most 50 times — each
   try already waited the whole busy timeout. */
#define RETRY_BUSY(wk, rc, call)                                              \
  do {                                                                        \
    int tries_ = 0;                                                           \
    do {                                                                      \
      TIMED(wk, rc, call);                                                    \
    } while ((rc) == TESORO_EBUSY && ++tries_ < 50);                          \
  } while (0)

static int worker_round(const shared *sh, worker *wk, tesoro *t, int round) {
  char body[64];
  int64_t note = 0, appt = 0;
  int64_t start = TU_NOW + 60 * DAY + (int64_t)wk->index * 10 * DAY +
                  (int64_t)round * 3600;
  int rc;

  snprintf(body, sizeof body, "worker %d round %d", wk->index, round);
  RETRY_BUSY(wk, rc, tesoro_referral_note_add(t, sh->agent,
                                              sh->own_ref[wk->index], body,
                                              &note));
  if (rc) return worker_fail(wk, t, "own note", rc);
  wk->own_notes++;
  wk->transitions++;

  RETRY_BUSY(wk, rc, tesoro_referral_note_add(t, sh->agent, sh->ref, body,
                                              &note));
  if (rc) return worker_fail(wk, t, "shared note", rc);
  wk->shared_notes++;
  wk->transitions++;

  /* Optimistic concurrency: read, write at that version, retry. */
  for (int tries = 0;; tries++) {
    int64_t v = 0;
    if (tries > 10000) return worker_fail(wk, t, "reschedule (starved)", -1);
    RETRY_BUSY(wk, rc, tesoro_entity_state(t, sh->agent, APPT, sh->appt, NULL,
                                           &v));
    if (rc) return worker_fail(wk, t, "read version", rc);
    /* A user reads, thinks, then acts: others may act in between. */
    if ((round + tries + wk->index) % 2) sleep_ms(1);
    TIMED(wk, rc, tesoro_appointment_reschedule(t, sh->agent, sh->appt, start, 0,
                                                v));
    if (rc == TESORO_OK) {
      wk->won[wk->reschedules++] = v + 1;
      wk->transitions++;
      break;
    }
    if (rc == TESORO_ECONFLICT) wk->conflicts++;
    else if (rc != TESORO_EBUSY) return worker_fail(wk, t, "reschedule", rc);
  }

  if (round % 4 == 0) {
    int64_t pref = start + DAY;
    RETRY_BUSY(wk, rc, tesoro_appointment_request(t, sh->client,
                                                  sh->dp[wk->index], &pref, 1,
                                                  &appt));
    if (rc) return worker_fail(wk, t, "request", rc);
    wk->transitions++;
    RETRY_BUSY(wk, rc, tesoro_appointment_confirm(t, sh->agent, appt, pref, 0, 1));
    if (rc) return worker_fail(wk, t, "confirm", rc);
    wk->transitions++;
    RETRY_BUSY(wk, rc, tesoro_appointment_cancel(t, sh->client, appt, NULL, 2));
    if (rc) return worker_fail(wk, t, "cancel", rc);
    wk->transitions++;
    wk->cycles++;
  }
  return TESORO_OK;
}

static void worker_run(const shared *sh, worker *wk, int go_fd) {
  tesoro *t = NULL;
  char go;
  int rc, r;
  /* Everyone starts at once. */
  if (read(go_fd, &go, 1) != 1) {
    wk->failed = 1;
    snprintf(wk->msg, sizeof wk->msg, "worker %d: no start signal",
             wk->index);
    return;
  }
  rc = tesoro_open(sh->path, &t);
  if (rc == TESORO_OK) rc = tesoro_clock_set(t, TU_NOW);
  if (rc != TESORO_OK) {
    worker_fail(wk, t, "open", rc);
  } else {
    for (r = 0; r < sh->rounds && !wk->failed; r++)
      if (worker_round(sh, wk, t, r) != TESORO_OK) break;
  }
  tesoro_close(t);
}

static void *worker_thread(void *arg) {
  job *j = arg;
  worker_run(j->sh, j->wk, j->go_fd);
  atomic_fetch_add(j->finished, 1);
  return NULL;
}

/* A worker process: runs, sends its counts to the parent, exits. */
static void worker_process(const shared *sh, worker *wk, int go_fd,
                           int out_fd) {
  const char *p = (const char *)wk;
  size_t left = sizeof *wk;
  worker_run(sh, wk, go_fd);
  while (left > 0) {
    ssize_t n = write(out_fd, p, left);
    if (n <= 0) _exit(2);
    p += n;
    left -= (size_t)n;
  }
  _exit(0);
}

static int read_all(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* A published listing offered to one more deal of Ada: the deal property. */
static int64_t offered(tu_world *w, int64_t listing) {
  int64_t deal = 0, dp = 0;
  TU_OK(w, tesoro_deal_create(w->t, w->agent, w->contact, "A canal house",
                              &deal));
  TU_OK(w, tesoro_deal_offer(w->t, w->agent, deal, listing, &dp));
  return dp;
}

static int64_t version_of(tu_world *w, int entity, int64_t id) {
  int64_t v = 0;
  TU_OK(w, tesoro_entity_state(w->t, w->admin, entity, id, NULL, &v));
  return v;
}

/* The shared appointment: requested by Ada, confirmed by the agent. */
static int64_t confirmed_viewing(tu_world *w, int64_t dp) {
  int64_t appt = 0, at = TU_NOW + 30 * DAY;
  TU_OK(w, tesoro_appointment_request(w->t, w->client, dp, &at, 1, &appt));
  TU_OK(w, tesoro_appointment_confirm(w->t, w->agent, appt, at, 0, 1));
  assert_int_equal(version_of(w, APPT, appt), 2);
  return appt;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* ------------------------------------------------------------------------
** Two processes and two threads on one file.
*/
static void test_two_processes_two_threads_lose_no_update(void **state) {
  tu_world *w = *state;
  shared sh;
  worker wks[N_WORKERS];
  job jobs[N_WORKERS];
  pthread_t threads[2];
  pid_t pids[2];
  int outs[2], go[2], i, deadlocks = 0, running;
  int deadline_s = light() ? 300 : 90;
  atomic_int finished;
  int64_t listing, t0, lost = 0, total = 0, sum_shared = 0, sum_resched = 0,
                       conflicts = 0, busy = 0, early = 0, won_n = 0;
  int64_t *won;
  int children_done[2] = {0, 0};

  memset(&sh, 0, sizeof sh);
  memset(wks, 0, sizeof wks);
  sh.path = w->path;
  sh.admin = w->admin;
  sh.agent = w->agent;
  sh.client = w->client;
  sh.rounds = light() ? 4 : 60;
  listing = tu_published_listing(w, "Canal house", "Herengracht 100, Amsterdam",
                                 45000000);
  sh.appt = confirmed_viewing(w, offered(w, listing));
  TU_OK(w, tesoro_referral_create(w->t, w->admin, w->contact, w->agent,
                                  &sh.ref));
  for (i = 0; i < N_WORKERS; i++) {
    TU_OK(w, tesoro_referral_create(w->t, w->admin, w->contact, w->agent,
                                    &sh.own_ref[i]));
    sh.dp[i] = offered(w, listing);
    wks[i].index = i;
  }
  TU_OK(w, tesoro_close(w->t));
  w->t = NULL;

  /* The watchdog of last resort: a hang the deadline below cannot end
     (a stuck thread) kills the suite instead of hanging CI. */
  alarm((unsigned)deadline_s + 60);
  atomic_init(&finished, 0);
  assert_int_equal(pipe(go), 0);
  for (i = 0; i < 2; i++) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      close(p[0]);
      close(go[1]);
      worker_process(&sh, &wks[i], go[0], p[1]);
    }
    close(p[1]);
    outs[i] = p[0];
  }
  for (i = 0; i < 2; i++) {
    jobs[i].sh = &sh;
    jobs[i].wk = &wks[2 + i];
    jobs[i].go_fd = go[0];
    jobs[i].finished = &finished;
    assert_int_equal(pthread_create(&threads[i], NULL, worker_thread, &jobs[i]),
                     0);
  }
  assert_int_equal(write(go[1], "GOGO", N_WORKERS), N_WORKERS);

  /* Wait for all four, up to the deadline. */
  t0 = mono_ms();
  for (;;) {
    running = 2 - atomic_load(&finished);
    for (i = 0; i < 2; i++) {
      int status = 0;
      if (!children_done[i] && waitpid(pids[i], &status, WNOHANG) == pids[i]) {
        children_done[i] = 1;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
          fail_msg("worker process %d ended with status %d", i, status);
      }
      running += !children_done[i];
    }
    if (running == 0) break;
    if (mono_ms() - t0 > (int64_t)deadline_s * 1000) {
      deadlocks = running;
      break;
    }
    sleep_ms(5);
  }
  if (deadlocks) {
    for (i = 0; i < 2; i++)
      if (!children_done[i]) {
        kill(pids[i], SIGKILL);
        waitpid(pids[i], NULL, 0);
      }
    printf("torture concurrent_transitions=0 lost_updates=0 deadlocks=%d\n",
           deadlocks);
    fail_msg("%d workers still running after %d s", deadlocks, deadline_s);
  }
  alarm(0);
  for (i = 0; i < 2; i++) {
    assert_int_equal(pthread_join(threads[i], NULL), 0);
    assert_int_equal(read_all(outs[i], &wks[i], sizeof wks[i]), 0);
    close(outs[i]);
  }
  close(go[0]);
  close(go[1]);

  for (i = 0; i < N_WORKERS; i++) {
    if (wks[i].failed) fail_msg("%s", wks[i].msg);
    total += wks[i].transitions;
    sum_shared += wks[i].shared_notes;
    sum_resched += wks[i].reschedules;
    conflicts += wks[i].conflicts;
    busy += wks[i].busy;
    early += wks[i].early_busy;
    assert_int_equal(wks[i].own_notes, sh.rounds);
  }

  /* The file against the sums. */
  TU_OK(w, tesoro_open(w->path, &w->t));
  TU_OK(w, tesoro_check(w->t));
#define LOST_IF_NOT(want, got)                                                \
  do {                                                                        \
    int64_t want_ = (want), got_ = (got);                                     \
    if (want_ != got_) {                                                      \
      print_message("%s: %lld acknowledged, %lld in the file\n", #got,        \
                    (long long)want_, (long long)got_);                       \
      lost += want_ > got_ ? want_ - got_ : got_ - want_;                     \
    }                                                                         \
  } while (0)
  LOST_IF_NOT(2 + sum_resched, version_of(w, APPT, sh.appt));
  LOST_IF_NOT(1 + sum_shared, version_of(w, REF, sh.ref));
  LOST_IF_NOT(sum_shared,
              tu_sqlf(w, "SELECT count(*) FROM referral_note WHERE "
                         "referral_id = %lld", (long long)sh.ref));
  for (i = 0; i < N_WORKERS; i++) {
    LOST_IF_NOT(1 + wks[i].own_notes, version_of(w, REF, sh.own_ref[i]));
    LOST_IF_NOT(wks[i].own_notes,
                tu_sqlf(w, "SELECT count(*) FROM referral_note WHERE "
                           "referral_id = %lld AND body LIKE 'worker %d %%'",
                        (long long)sh.own_ref[i], i));
    LOST_IF_NOT(wks[i].cycles,
                tu_sqlf(w, "SELECT count(*) FROM appointment WHERE "
                           "deal_property_id = %lld AND state = 'cancelled' "
                           "AND version = 3", (long long)sh.dp[i]));
    LOST_IF_NOT(wks[i].cycles,
                tu_sqlf(w, "SELECT count(*) FROM appointment WHERE "
                           "deal_property_id = %lld", (long long)sh.dp[i]));
  }
  /* Each reschedule won its own version: 3, 4, ..., 2 + all of them. */
  won = calloc((size_t)sum_resched + 1, sizeof *won);
  assert_non_null(won);
  for (i = 0; i < N_WORKERS; i++)
    for (int r = 0; r < wks[i].reschedules; r++) won[won_n++] = wks[i].won[r];
  qsort(won, (size_t)won_n, sizeof *won, cmp_i64);
  for (i = 0; i < won_n; i++)
    if (won[i] != 3 + i) {
      print_message("the reschedule versions are not 3..%lld once each "
                    "(position %d holds %lld)\n",
                    (long long)(2 + won_n), i, (long long)won[i]);
      lost++;
      break;
    }
  free(won);
  /* And the history holds one row per acknowledged reschedule. */
  LOST_IF_NOT(sum_resched,
              tu_sqlf(w, "SELECT count(*) FROM history WHERE entity = 8 AND "
                         "entity_id = %lld AND event = 'reschedule'",
                      (long long)sh.appt));
#undef LOST_IF_NOT

  printf("torture concurrent_transitions=%lld lost_updates=%lld deadlocks=%d "
         "conflicts=%lld busy_retries=%lld early_busy=%lld\n",
         (long long)total, (long long)lost, deadlocks, (long long)conflicts,
         (long long)busy, (long long)early);
  fflush(stdout);
  assert_int_equal(lost, 0);
  /* Contention surfaced as EBUSY only once the timeout had passed. */
  assert_int_equal(early, 0);
  assert_int_equal(sum_resched, (int64_t)N_WORKERS * sh.rounds);
}

/* ------------------------------------------------------------------------
** Stale versions across handles.
*/
static void test_stale_version_from_another_handle_conflicts(void **state) {
  tu_world *w = *state;
  tesoro *t2 = NULL;
  int64_t listing, appt, v1 = 0, v2 = 0;
  char before[65], after[65];
  int rc;

  listing = tu_published_listing(w, "Canal house", "Herengracht 100, Amsterdam",
                                 45000000);
  appt = confirmed_viewing(w, offered(w, listing));
  assert_int_equal(tesoro_open(w->path, &t2), TESORO_OK);
  assert_int_equal(tesoro_clock_set(t2, TU_NOW), TESORO_OK);
  /* Both read version 2. */
  TU_OK(w, tesoro_entity_state(w->t, w->agent, APPT, appt, NULL, &v1));
  assert_int_equal(tesoro_entity_state(t2, w->agent, APPT, appt, NULL, &v2),
                   TESORO_OK);
  assert_int_equal(v1, 2);
  assert_int_equal(v2, 2);
  TU_OK(w, tesoro_appointment_reschedule(w->t, w->agent, appt,
                                         TU_NOW + 40 * DAY, 0, v1));
  tu_digest(w, before);
  rc = tesoro_appointment_reschedule(t2, w->agent, appt, TU_NOW + 50 * DAY, 0, v2);
  tu_digest(w, after);
  assert_int_equal(rc, TESORO_ECONFLICT);
  assert_true(tu_contains_ci(tesoro_errmsg(t2), "version"));
  tu_check_digest_(before, after, "stale reschedule", __FILE__, __LINE__);
  /* The first writer's start stands. */
  assert_int_equal(tu_sqlf(w, "SELECT start_at FROM appointment WHERE id = %lld",
                           (long long)appt),
                   TU_NOW + 40 * DAY);
  /* Read again, write again: accepted. */
  assert_int_equal(tesoro_entity_state(t2, w->agent, APPT, appt, NULL, &v2),
                   TESORO_OK);
  assert_int_equal(v2, 3);
  assert_int_equal(tesoro_appointment_reschedule(t2, w->agent, appt,
                                                 TU_NOW + 50 * DAY, 0, v2),
                   TESORO_OK);
  assert_int_equal(version_of(w, APPT, appt), 4);
  tesoro_close(t2);
  TU_OK(w, tesoro_check(w->t));
}

/* A handle skips its catch-up probe while no timer is due (it remembers the
   earliest due time).  Another handle's commit must unsettle that memory: a
   viewing another handle confirmed, whose end has passed, is completed by
   this handle's next write on it, which is then refused (ESTATE). */
static void test_timers_planned_by_another_handle_are_caught_up(void **state) {
  tu_world *w = *state;
  tesoro *t2 = NULL;
  int64_t listing, dp, appt = 0, at = TU_NOW + 2 * DAY;
  const char *st = NULL;

  listing = tu_published_listing(w, "Canal house", "Herengracht 100, Amsterdam",
                                 45000000);
  dp = offered(w, listing); /* w->t has written: it knows the next due time */
  assert_int_equal(tesoro_open(w->path, &t2), TESORO_OK);
  assert_int_equal(tesoro_clock_set(t2, TU_NOW), TESORO_OK);
  assert_int_equal(tesoro_appointment_request(t2, w->client, dp, &at, 1, &appt),
                   TESORO_OK);
  assert_int_equal(tesoro_appointment_confirm(t2, w->agent, appt, at, 0, 1),
                   TESORO_OK);
  tesoro_close(t2);
  TU_OK(w, tesoro_clock_set(w->t, TU_NOW + 3 * DAY));
  TU_ASSERT_ERR(w, tesoro_appointment_cancel(w->t, w->agent, appt, "late", 0),
                TESORO_ESTATE, NULL);
  /* the tick records the completion (the refused call kept nothing) */
  TU_OK(w, tesoro_tick(w->t, TU_NOW + 3 * DAY, NULL));
  TU_OK(w, tesoro_entity_state(w->t, w->agent, APPT, appt, &st, NULL));
  assert_string_equal(st, "completed");
  TU_OK(w, tesoro_check(w->t));
}

/* ------------------------------------------------------------------------
** Busy.
*/
static sqlite3 *raw_writer(tu_world *w) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(w->path, &db, SQLITE_OPEN_READWRITE, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                   SQLITE_OK);
  return db;
}

/* `call` on w->t returns EBUSY, took at least the 300 ms timeout (and less
   than the 5000 ms default: the setting is what was waited), and changed
   nothing. */
#define BUSY_AFTER_TIMEOUT(w, call)                                           \
  do {                                                                        \
    char b_before_[65], b_after_[65];                                         \
    int64_t b_t0_, b_ms_;                                                     \
    tu_digest((w), b_before_);                                                \
    b_t0_ = mono_ms();                                                        \
    TU_ASSERT_ERR((w), (call), TESORO_EBUSY, NULL);                           \
    b_ms_ = mono_ms() - b_t0_;                                                \
    if (b_ms_ < 300 || b_ms_ >= 5000) {                                       \
      print_error("%s: EBUSY after %lld ms, expected 300..5000\n", #call,     \
                  (long long)b_ms_);                                          \
      fail();                                                                 \
    }                                                                         \
    assert_true(tu_contains_ci(tesoro_errmsg((w)->t), "lock") ||              \
                tu_contains_ci(tesoro_errmsg((w)->t), "busy"));               \
    tu_digest((w), b_after_);                                                 \
    tu_check_digest_(b_before_, b_after_, #call, __FILE__, __LINE__);         \
  } while (0)

static void test_busy_only_after_the_timeout(void **state) {
  tu_world *w = *state;
  sqlite3 *raw;
  int64_t ref = 0, note = 0, t0;
  const char *st = NULL;

  TU_OK(w, tesoro_referral_create(w->t, w->admin, w->contact, w->agent, &ref));
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_BUSY_TIMEOUT_MS, 300));
  raw = raw_writer(w);

  BUSY_AFTER_TIMEOUT(w, tesoro_referral_note_add(w->t, w->agent, ref, "busy",
                                                 &note));
  BUSY_AFTER_TIMEOUT(w, tesoro_referral_move(w->t, w->agent, ref,
                                             TESORO_STAGE_CONNECTED, NULL, 1));
  BUSY_AFTER_TIMEOUT(w, tesoro_begin(w->t));
  assert_int_equal(note, 0); /* out-parameter untouched */
  /* The refused begin left no transaction open. */
  TU_ASSERT_ERR(w, tesoro_commit(w->t), TESORO_EMISUSE, "no transaction");

  /* Readers are not blocked by the writer (WAL): no wait at all. */
  t0 = mono_ms();
  TU_OK(w, tesoro_entity_state(w->t, w->agent, REF, ref, &st, NULL));
  assert_string_equal(st, "left_voicemail");
  assert_true(mono_ms() - t0 < 300);

  /* The lock gone, the same call goes through. */
  assert_int_equal(sqlite3_exec(raw, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(raw);
  TU_OK(w, tesoro_referral_move(w->t, w->agent, ref, TESORO_STAGE_CONNECTED,
                                NULL, 1));
  assert_int_equal(version_of(w, REF, ref), 2);
  TU_OK(w, tesoro_check(w->t));
}

/* A writer that holds the lock for a while, in its own thread. */
typedef struct holder {
  const char *path;
  int hold_ms;
  int fd; /* written once the lock is held */
  int rc;
} holder;

static void *hold_lock(void *arg) {
  holder *h = arg;
  sqlite3 *db = NULL;
  h->rc = sqlite3_open_v2(h->path, &db, SQLITE_OPEN_READWRITE, NULL);
  if (h->rc == SQLITE_OK)
    h->rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (write(h->fd, "L", 1) != 1) h->rc = -1;
  sleep_ms(h->hold_ms);
  if (h->rc == SQLITE_OK) h->rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  sqlite3_close(db);
  return NULL;
}

static void test_lock_released_before_the_timeout_is_waited_for(void **state) {
  tu_world *w = *state;
  holder h;
  pthread_t th;
  int p[2];
  char c;
  int64_t ref = 0, note = 0, t0, ms;

  TU_OK(w, tesoro_referral_create(w->t, w->admin, w->contact, w->agent, &ref));
  TU_OK(w, tesoro_config(w->t, TESORO_CONFIG_BUSY_TIMEOUT_MS, 10000));
  assert_int_equal(pipe(p), 0);
  h.path = w->path;
  h.hold_ms = 400;
  h.fd = p[1];
  h.rc = 0;
  assert_int_equal(pthread_create(&th, NULL, hold_lock, &h), 0);
  assert_int_equal(read(p[0], &c, 1), 1); /* the lock is held */
  t0 = mono_ms();
  TU_OK(w, tesoro_referral_note_add(w->t, w->agent, ref, "waited", &note));
  ms = mono_ms() - t0;
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(h.rc, SQLITE_OK);
  close(p[0]);
  close(p[1]);
  /* It waited for the holder (most of its 400 ms), then went through. */
  if (ms < 200) fail_msg("the note went through after %lld ms", (long long)ms);
  assert_true(note > 0);
  assert_int_equal(version_of(w, REF, ref), 2);
}

#define T TU_TEST

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_stale_version_from_another_handle_conflicts),
    T(test_timers_planned_by_another_handle_are_caught_up),
      T(test_busy_only_after_the_timeout),
      T(test_lock_released_before_the_timeout_is_waited_for),
      T(test_two_processes_two_threads_lose_no_update),
  };
  return cmocka_run_group_tests_name("concurrency", tests, NULL, NULL);
}
