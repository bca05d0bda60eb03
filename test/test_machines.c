/*
** test_machines.c — a lint of the state-machine tables (section 7 of
** tesoro.c): the rows the engine runs, the allowed-events query reads and
** the diagrams draw.
**
** tesoro.c is compiled into this program (as test/bench.c does) so the test
** reads the static tables themselves: tesoro__machine_of(entity) for every
** entity 1..TESORO__ENTITY_MAX (a contact has none), each machine's states,
** events and rows (tesoro__trans: from mask, event, to, roles, guard).
**
** A creation row (from TESORO__NEW: the entity is not there yet) starts
** nothing but the entity: its `to` is the state the entity begins in.
**
**   a. every row names what exists: `to` a state of its machine or
**      TESORO__SAME (a creation row: a state); `from` a non-empty mask of
**      its states, or ALL_STATES (the tables' "any state"), or exactly
**      TESORO__NEW; `event` an event of the machine; `roles` a non-empty set
**      of R_* bits.  State and event names are unique.
**   b. no two rows overlap.  tesoro__match walks the rows in table order and
**      takes the FIRST row whose event is the call's, whose from-mask holds
**      the current state and whose roles hold the actor's bit; its guard is
**      run afterwards and a refusal is the answer (EGUARD): the engine never
**      falls through to a later row.  So two rows of one event whose
**      from-masks and roles intersect are ambiguous whether or not they
**      have guards: for that (state, role) the later row can never fire.
**      Guards resolve nothing here; every such overlap is flagged.
**      Creation rows are picked by tesoro__create_begin: the first creation
**      row whose `to` is the state asked for and whose roles hold the
**      actor's bit, whatever its event or guard.  So two creation rows with
**      the same `to` and intersecting roles are flagged too.  (Asked for no
**      particular state, it takes the first creation row the actor may use:
**      tesoro.c does that only for machines with one creation row, which
**      the test cannot see from the tables.)
**   c. each machine's state names are exactly its table's CHECK list in a
**      fresh database made by tesoro_open.  The table is the one the
**      machine's load statement reads (SELECT ... FROM <table>), which is
**      also the one its set-state statement updates and the machine's name
**      (the entity registry at the top of tesoro.c: "its lower-case name is
**      its table").
**   d. every machine renders to DOT and to Mermaid with one edge per
**      (from state, row), in row order; a creation row is one edge from the
**      start point ("start" in DOT, "[*]" in Mermaid).
**   e. every event of every machine is used by at least one row (an unused
**      event is dead: allowed-events lists it as never allowed).  Every
**      event has a row today and tesoro.c gives no reason to keep one
**      without, so nothing is exempt; such an event would be listed here
**      with the reason tesoro.c gives for it.
**   f. every notice row (tesoro__notice: what the engine's one notify step
**      queues after a row's effect) names what exists: `event` an event of
**      its machine that some row of the machine lets an actor of `by` (0:
**      anyone) do, else the notice could never be sent; `to` a TO_*; a
**      non-empty template; `channels` CH_* bits a notification uses (crm,
**      push, e-mail); and TO_AGENT only on a machine that says how to find
**      its agent (tesoro__machine.agent).  A wrong table is shown to fail.
**
** Each rule reports every offending row or machine (print_error) before the
** test fails, so one run names them all.
*/
#include "../tesoro.c"

#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define R_ALL (R_STAFF | R_CLIENT | R_WEBSITE | R_SYSTEM)

/* A creation row: the entity is not there yet. */
#define CREATION(r) ((r)->from == TESORO__NEW)

/* The mask of a machine's states. */
static uint32_t states_mask(const tesoro__machine *m) {
  return m->nstates >= 32 ? 0xFFFFFFFFu : (1u << m->nstates) - 1u;
}

/* The states a row starts from, within its machine (none for a creation
   row). */
static uint32_t row_from(const tesoro__machine *m, const tesoro__trans *r) {
  return r->from & states_mask(m);
}

static int popcount32(uint32_t x) {
  int n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

/* How many diagram edges a row has: one per from state, one from the start
   point for a creation row. */
static int row_edges(const tesoro__machine *m, const tesoro__trans *r) {
  return CREATION(r) ? 1 : popcount32(row_from(m, r));
}

/* The event name of a row, or "?" when its event is out of range. */
static const char *row_event(const tesoro__machine *m, const tesoro__trans *r) {
  return r->event < m->nevents ? m->events[r->event] : "?";
}

/* The state names of a mask, "a|b|c" (truncated to n bytes). */
static void states_text(const tesoro__machine *m, uint32_t mask, char *out,
                        size_t n) {
  size_t used = 0;
  out[0] = '\0';
  for (int s = 0; s < m->nstates && used < n; s++)
    if (mask & ST(s))
      used += (size_t)snprintf(out + used, n - used, "%s%s", used ? "|" : "",
                               m->states[s]);
}

/* One lint rule over one machine: the number of problems it found (each
   printed).  `db` is the fresh database file of rule c (NULL for the rest). */
typedef int (*machine_check)(const tesoro__machine *m, const char *db);

/* The problems of one rule over every machine, in entity order.  Asserts
   the registry on the way: only a contact has no machine, and each machine
   is the one of its entity. */
static int lint(machine_check check, const char *db) {
  int bad = 0, n = 0;
  for (int e = 1; e <= TESORO__ENTITY_MAX; e++) {
    const tesoro__machine *m = tesoro__machine_of(e);
    if (e == TESORO_ENTITY_CONTACT) {
      assert_null(m);
      continue;
    }
    if (m == NULL) {
      print_error("entity %d has no machine\n", e);
      fail();
    }
    assert_int_equal(m->entity, e);
    assert_non_null(m->name);
    bad += check(m, db);
    n++;
  }
  assert_true(n > 0);
  return bad;
}

/* Print one flaw of machine m (its name, then the printf-style rest);
   returns 1, to be added to a lint's count. */
static int flaw(const tesoro__machine *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int flaw(const tesoro__machine *m, const char *fmt, ...) {
  va_list ap;
  print_error("%s", m->name);
  va_start(ap, fmt);
  vprint_error(fmt, ap);
  va_end(ap);
  return 1;
}

/* ------------------------------------------------------------------------
** a. Rows name existing states, events and roles.
*/
/* The names listed more than once (each printed). */
static int repeated_names(const tesoro__machine *m, const char *what,
                          const char *const *names, int n) {
  int bad = 0;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (strcmp(names[i], names[j]) == 0) {
        bad += flaw(m, ": %s \"%s\" is listed twice\n", what, names[i]);
      }
  return bad;
}

static int rows_name_what_exists(const tesoro__machine *m, const char *db) {
  int bad = 0;
  if (m->nstates < 1 || m->nstates > 32 || m->nevents < 1 ||
      m->nevents > TESORO__SAME || m->nrows < 1) {
    print_error("%s: %d states, %d events, %d rows\n", m->name, m->nstates,
                m->nevents, m->nrows);
    return 1;
  }
  bad += repeated_names(m, "state", m->states, m->nstates);
  bad += repeated_names(m, "event", m->events, m->nevents);
  for (int i = 0; i < m->nrows; i++) {
    const tesoro__trans *r = &m->rows[i];
    if ((r->to != TESORO__SAME || CREATION(r)) && r->to >= m->nstates) {
      bad += flaw(m, " row %d (%s): target %d is not one of its %d states\n", i,
                  row_event(m, r), r->to, m->nstates);
    }
    if (CREATION(r)) {
      /* from the start point: nothing else to check */
    } else if (r->from != ALL_STATES && (r->from & ~states_mask(m))) {
      bad += flaw(m,
                  " row %d (%s): from-mask 0x%x names states beyond its "
                  "%d\n",
                  i, row_event(m, r), (unsigned)r->from, m->nstates);
    }
    if (!CREATION(r) && row_from(m, r) == 0) {
      bad += flaw(m, " row %d (%s): empty from-mask\n", i, row_event(m, r));
    }
    if (r->event >= m->nevents) {
      bad += flaw(m, " row %d: event %d is not one of its %d events\n", i,
                  r->event, m->nevents);
    }
    if (r->roles == 0 || (r->roles & ~R_ALL)) {
      bad += flaw(m, " row %d (%s): roles 0x%x (R_* bits: 0x%x)\n", i,
                  row_event(m, r), (unsigned)r->roles, (unsigned)R_ALL);
    }
  }
  return bad;
}

static void test_rows_name_existing_states_events_and_roles(void **state) {
  assert_int_equal(lint(rows_name_what_exists, NULL), 0);
}

/* ------------------------------------------------------------------------
** b. No two rows overlap (see the header: the first matching row wins, the
**    guard does not pass the call on).
*/
static int rows_overlap(const tesoro__machine *m, const char *db) {
  int bad = 0;
  for (int i = 0; i < m->nrows; i++)
    for (int j = i + 1; j < m->nrows; j++) {
      const tesoro__trans *a = &m->rows[i], *b = &m->rows[j];
      uint32_t common = row_from(m, a) & row_from(m, b);
      int roles = a->roles & b->roles;
      char both[256], who[96];
      if (roles && CREATION(a) && CREATION(b) && a->to == b->to) {
        tesoro__roles_text(roles, who, sizeof who);
        bad += flaw(m,
                    ": creation rows %d and %d both start in %s for %s: "
                    "tesoro__create_begin always takes row %d\n",
                    i, j, a->to < m->nstates ? m->states[a->to] : "?", who, i);
        continue;
      }
      if (a->event != b->event || common == 0 || roles == 0) continue;
      states_text(m, common, both, sizeof both);
      tesoro__roles_text(roles, who, sizeof who);
      bad += flaw(m,
                  ": rows %d and %d (%s) overlap in state %s for %s%s: "
                  "tesoro__match always takes row %d there\n",
                  i, j, row_event(m, a), both, who,
                  a->guard || b->guard ? " (a guard does not separate them: "
                                         "a refusal is final)"
                                       : "",
                  i);
    }
  return bad;
}

static void test_no_two_rows_overlap(void **state) {
  assert_int_equal(lint(rows_overlap, NULL), 0);
}

/* ------------------------------------------------------------------------
** c. State names equal the schema's CHECK lists.
*/

/* The table a statement reads or writes: the word after `keyword` (" FROM ",
   "UPDATE "), copied into out; the test fails when there is none. */
static void table_after(const char *sql, const char *keyword, char *out,
                        size_t n) {
  const char *p = strstr(sql, keyword);
  size_t len = 0;
  if (p == NULL) {
    print_error("no \"%s\" in: %s\n", keyword, sql);
    fail();
  }
  p += strlen(keyword);
  while (p[len] == '_' || (p[len] >= 'a' && p[len] <= 'z')) len++;
  assert_true(len > 0 && len < n);
  memcpy(out, p, len);
  out[len] = '\0';
}

static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
  return p;
}

/* p starts with the keyword `word` (any case) followed by a non-word
   character?  Returns the text after it, or NULL. */
static const char *word_at(const char *p, const char *word) {
  size_t n = strlen(word);
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != word[i]) return NULL;
  }
  if (p[n] == '_' || (p[n] >= 'a' && p[n] <= 'z') ||
      (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9'))
    return NULL;
  return p + n;
}

/* A quoted SQL string at p (no '' inside: state names have none) into
   values[*nv]; returns the text after it, or NULL. */
static const char *quoted(const char *p, char values[][64], int *nv) {
  const char *end;
  if (*p != '\'') return NULL;
  end = strchr(p + 1, '\'');
  if (end == NULL || end[1] == '\'' || (size_t)(end - p - 1) >= 64 ||
      *nv >= 64)
    return NULL;
  memcpy(values[*nv], p + 1, (size_t)(end - p - 1));
  values[*nv][end - p - 1] = '\0';
  (*nv)++;
  return end + 1;
}

/* The values of the column CHECK of `state` in a CREATE TABLE statement:
   "state TEXT ... CHECK (state IN ('a', 'b'))" or "CHECK (state = 'a' OR
   state = 'b')".  Returns the count; the test fails on any other form. */
static int state_check(const char *table, const char *create,
                       char values[][64]) {
  const char *col = NULL, *p, *check, *body, *end;
  int nv = 0, depth;
  /* the column definition: "state" opening a line, then its type */
  for (p = create; (p = strstr(p, "state")) != NULL; p++) {
    const char *before = p;
    while (before > create && (before[-1] == ' ' || before[-1] == '\t'))
      before--;
    if (before > create && before[-1] != '\n' && before[-1] != '(' &&
        before[-1] != ',')
      continue;
    if (word_at(skip_ws(p + 5), "text")) {
      col = p;
      break;
    }
  }
  if (col == NULL) {
    print_error("%s: no state column in %s\n", table, create);
    fail();
  }
  /* its CHECK, before the column definition ends (a comma at depth 0) */
  check = NULL;
  depth = 0;
  for (p = col; *p && !(depth == 0 && *p == ','); p++) {
    if (*p == '(') depth++;
    else if (*p == ')' && --depth < 0) break;
    else if (depth == 0 && word_at(p, "check") && p > col &&
             (p[-1] == ' ' || p[-1] == '\n')) {
      check = p;
      break;
    }
  }
  if (check == NULL) {
    print_error("%s: the state column has no CHECK in %s\n", table, create);
    fail();
  }
  body = skip_ws(check + 5);
  assert_int_equal(*body, '(');
  /* the end of the CHECK's parentheses */
  depth = 0;
  for (end = body; *end; end++) {
    if (*end == '(') depth++;
    else if (*end == ')' && --depth == 0) break;
  }
  assert_int_equal(*end, ')');
  p = word_at(skip_ws(body + 1), "state");
  if (p && word_at(skip_ws(p), "in")) {
    p = skip_ws(word_at(skip_ws(p), "in"));
    if (*p++ != '(') p = NULL;
    while (p) {
      p = quoted(skip_ws(p), values, &nv);
      if (p == NULL) break;
      p = skip_ws(p);
      if (*p == ',') p++;
      else if (*p == ')') {
        p = skip_ws(p + 1);
        break;
      } else
        p = NULL;
    }
  } else if (p) {
    for (;;) {
      p = skip_ws(p);
      if (*p++ != '=' || (p = quoted(skip_ws(p), values, &nv)) == NULL) break;
      p = skip_ws(p);
      if (p == end) break;
      if ((p = word_at(p, "or")) == NULL ||
          (p = word_at(skip_ws(p), "state")) == NULL)
        break;
    }
  }
  if (p != end || nv == 0) {
    print_error("%s: the state CHECK is neither \"state IN (...)\" nor an OR "
                "chain of \"state = '...'\": %.*s\n",
                table, (int)(end - body + 1), body);
    fail();
  }
  return nv;
}

static int states_equal_check_list(const tesoro__machine *m, const char *db) {
  char table[64], updated[64], sql[160], values[64][64];
  char *create;
  int nv, bad = 0;
  table_after(tesoro__sql[m->load], " FROM ", table, sizeof table);
  table_after(tesoro__sql[m->set_state], "UPDATE ", updated, sizeof updated);
  if (strcmp(table, updated) != 0 || strcmp(table, m->name) != 0) {
    bad += flaw(m, ": loads from %s, sets the state of %s\n", table, updated);
  }
  snprintf(sql, sizeof sql,
           "SELECT sql FROM sqlite_master WHERE type = 'table' AND "
           "name = '%s'",
           table);
  create = tu_sql_text_path(db, sql);
  if (create == NULL) {
    print_error("%s: no table %s in the schema\n", m->name, table);
    return bad + 1;
  }
  nv = state_check(table, create, values);
  free(create);
  for (int s = 0; s < m->nstates; s++) {
    int found = 0;
    for (int v = 0; v < nv; v++) found += strcmp(values[v], m->states[s]) == 0;
    if (found != 1) {
      bad += flaw(m, ": state \"%s\" is %s in the CHECK of table %s\n",
                  m->states[s], found ? "repeated" : "missing", table);
    }
  }
  for (int v = 0; v < nv; v++) {
    int found = 0;
    for (int s = 0; s < m->nstates; s++)
      found |= strcmp(values[v], m->states[s]) == 0;
    if (!found) {
      bad += flaw(m,
                  ": the CHECK of table %s allows \"%s\", not a state of "
                  "the machine\n",
                  table, values[v]);
    }
  }
  return bad;
}

/* A fresh database made by tesoro_open in a new temporary directory; the
   teardown removes both even when the test failed. */
typedef struct fresh_db {
  char dir[32], path[64];
} fresh_db;

static int fresh_db_setup(void **state) {
  fresh_db *f = calloc(1, sizeof *f);
  tesoro *t = NULL;
  if (f == NULL) return -1;
  *state = f;
  snprintf(f->dir, sizeof f->dir, "/tmp/tesoro-machines-XXXXXX");
  if (mkdtemp(f->dir) == NULL) return -1;
  snprintf(f->path, sizeof f->path, "%s/fresh.db", f->dir);
  if (tesoro_open(f->path, &t) != TESORO_OK) {
    tesoro_close(t);
    return -1;
  }
  return tesoro_close(t) == TESORO_OK ? 0 : -1;
}

static int fresh_db_teardown(void **state) {
  fresh_db *f = *state;
  static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
  char side[80];
  for (size_t i = 0; f && f->path[0] && i < sizeof suffix / sizeof *suffix;
       i++) {
    snprintf(side, sizeof side, "%s%s", f->path, suffix[i]);
    unlink(side);
  }
  if (f && f->dir[0]) rmdir(f->dir);
  free(f);
  return 0;
}

static void test_states_equal_the_schema_check_lists(void **state) {
  fresh_db *f = *state;
  assert_int_equal(lint(states_equal_check_list, f->path), 0);
}

/* A machine keeps its lines on history exactly when the view timeline
** reads its history lines ("h.entity = N"): a line of one without the
** other would vanish from the contact's timeline. */
static int lines_match_the_timeline(const tesoro__machine *m, const char *db) {
  sqlite3 *h = NULL;
  sqlite3_stmt *s = NULL;
  char arm[32];
  int read = 0;
  snprintf(arm, sizeof arm, "h.entity = %d ", m->entity);
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT instr(sql, ?1) > 0 FROM "
                                      "sqlite_schema WHERE type = 'view' "
                                      "AND name = 'timeline'", -1, &s, NULL),
                   SQLITE_OK);
  sqlite3_bind_text(s, 1, arm, -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  read = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(h);
  if (read == (m->lines_on_history != 0)) return 0;
  print_error("%s: lines_on_history %d, but the timeline view %s its "
              "history lines\n", m->name, m->lines_on_history,
              read ? "reads" : "does not read");
  return 1;
}

static void test_lines_on_history_match_the_timeline_view(void **state) {
  fresh_db *f = *state;
  assert_int_equal(lint(lines_match_the_timeline, f->path), 0);
}

/* ------------------------------------------------------------------------
** d. Diagrams: one edge per (from state, row), in row order.
*/

/* Check one diagram's edges; returns the number of problems (printed). */
static int diagram_edges(const tesoro__machine *m, int format) {
  const char *arrow = format == TESORO_DIAGRAM_DOT ? " -> " : " --> ";
  const char *fname = format == TESORO_DIAGRAM_DOT ? "DOT" : "Mermaid";
  char *out = NULL, *line, *next;
  int want = 0, got = 0, bad = 0, i = 0, s = -1;
  if (tesoro_machine_diagram(m->entity, format, &out) != TESORO_OK ||
      out == NULL) {
    print_error("%s: no %s diagram\n", m->name, fname);
    return 1;
  }
  for (int k = 0; k < m->nrows; k++) want += row_edges(m, &m->rows[k]);
  /* each edge line against the next (row, from state) pair, in order */
  for (line = out; *line; line = next) {
    char edge[256];
    const tesoro__trans *r;
    next = strchr(line, '\n');
    next = next ? next + 1 : line + strlen(line);
    if (!strstr(line, arrow) || strstr(line, arrow) >= next) continue;
    got++;
    do { /* the next pair; a creation row has one, at s == 0 */
      if (++s >= m->nstates) s = 0, i++;
    } while (i < m->nrows && (CREATION(&m->rows[i])
                                  ? s != 0
                                  : !(row_from(m, &m->rows[i]) & ST(s))));
    if (i >= m->nrows) continue; /* more edges than pairs: counted */
    r = &m->rows[i];
    snprintf(edge, sizeof edge,
             format == TESORO_DIAGRAM_DOT ? "  %s -> %s [label=\"%s ["
                                          : "    %s --> %s : %s (",
             CREATION(r) ? format == TESORO_DIAGRAM_DOT ? "start" : "[*]"
                         : m->states[s],
             m->states[r->to == TESORO__SAME || r->to >= m->nstates ? s
                                                                    : r->to],
             row_event(m, r));
    if (strncmp(line, edge, strlen(edge)) != 0 && bad++ < 3)
      print_error("%s %s: edge %d is \"%.*s\", expected \"%s...\"\n", m->name,
                  fname, got, (int)(next - line - 1), line, edge);
  }
  if (got != want) {
    bad += flaw(m,
                " %s: %d edges, expected %d (one per from state of each "
                "row)\n",
                fname, got, want);
  }
  tesoro_free(out);
  return bad;
}

static int diagrams_have_every_edge(const tesoro__machine *m, const char *db) {
  return diagram_edges(m, TESORO_DIAGRAM_DOT) +
         diagram_edges(m, TESORO_DIAGRAM_MERMAID);
}

static void test_diagrams_have_one_edge_per_from_state_and_row(void **state) {
  assert_int_equal(lint(diagrams_have_every_edge, NULL), 0);
}

/* ------------------------------------------------------------------------
** e. No dead events.
*/
static int events_have_rows(const tesoro__machine *m, const char *db) {
  int bad = 0;
  for (int e = 0; e < m->nevents; e++) {
    int used = 0;
    for (int i = 0; i < m->nrows && !used; i++) used = m->rows[i].event == e;
    if (!used) {
      bad += flaw(m, ": event \"%s\" has no row (dead)\n", m->events[e]);
    }
  }
  return bad;
}

static void test_every_event_has_a_row(void **state) {
  assert_int_equal(lint(events_have_rows, NULL), 0);
}

/* ------------------------------------------------------------------------
** f. Notice rows name what exists.
*/
static int notices_name_what_exists(const tesoro__machine *m, const char *db) {
  int bad = 0;
  (void)db;
  if ((m->notices == NULL) != (m->nnotices == 0)) {
    print_error("%s: %d notice rows at %p\n", m->name, m->nnotices,
                (const void *)m->notices);
    return 1;
  }
  for (int i = 0; i < m->nnotices; i++) {
    const tesoro__notice *n = &m->notices[i];
    const char *event =
        n->event >= 0 && n->event < m->nevents ? m->events[n->event] : "?";
    int roles = 0;
    for (int j = 0; j < m->nrows; j++)
      if (m->rows[j].event == n->event) roles |= m->rows[j].roles;
    if (n->event < 0 || n->event >= m->nevents) {
      bad += flaw(m, " notice %d: event %d is not one of its %d events\n", i,
                  n->event, m->nevents);
    } else if ((n->by & ~R_ALL) || !(roles & (n->by ? n->by : R_ALL))) {
      bad += flaw(m, " notice %d (%s): by 0x%x, but only 0x%x do %s\n", i,
                  event, (unsigned)n->by, (unsigned)roles, event);
    }
    if (n->template_name == NULL || n->template_name[0] == '\0') {
      bad += flaw(m, " notice %d (%s): no template\n", i, event);
    }
    if (n->to < TO_STAFF || n->to > TO_AGENT) {
      bad += flaw(m, " notice %d (%s): recipient %d is no TO_*\n", i, event,
                  n->to);
    } else if (n->to == TO_AGENT && m->agent == NULL) {
      bad += flaw(m,
                  " notice %d (%s): tells the agent, but %s says not how "
                  "to find its agent\n",
                  i, event, m->name);
    }
    if (n->channels & ~(CH_CRM | CH_PUSH | CH_EMAIL)) {
      bad += flaw(m, " notice %d (%s): channels 0x%x\n", i, event,
                  (unsigned)n->channels);
    }
  }
  return bad;
}

static void test_notices_name_existing_events_and_recipients(void **state) {
  (void)state;
  assert_int_equal(lint(notices_name_what_exists, NULL), 0);
}

/* The rule catches each kind of wrong row: the room's machine with a table
** of bad rows, one fault each, and no way to find an agent. */
static void test_wrong_notice_rows_fail(void **state) {
  static const tesoro__notice wrong[] = {
      {ROOM_EV_CREATE, 0, TO_STAFF, 0, "Fine", NULL},      /* right */
      {ROOM_EV_CREATE + 1, 0, TO_STAFF, 0, "No such event", NULL},
      {-1, 0, TO_STAFF, 0, "No such event either", NULL},
      {ROOM_EV_ADD_NOTE, R_CLIENT, TO_STAFF, 0, "Never", NULL}, /* staff only */
      {ROOM_EV_POST_MESSAGE, 0, TO_CLIENT, 0, "", NULL},
      {ROOM_EV_POST_MESSAGE, 0, TO_CLIENT, 0, NULL, NULL},
      {ROOM_EV_POST_MESSAGE, 0, TO_AGENT, 0, "No agent", NULL},
      {ROOM_EV_POST_MESSAGE, 0, 0, 0, "Nobody", NULL},
      {ROOM_EV_POST_MESSAGE, 0, TO_CLIENT, CH_WEBSITE, "Website", NULL},
  };
  tesoro__machine m = tesoro__room_machine;
  (void)state;
  m.notices = wrong;
  m.nnotices = COUNT(wrong);
  m.agent = NULL;
  assert_int_equal(notices_name_what_exists(&m, NULL), COUNT(wrong) - 1);
  /* the same TO_AGENT row is right where the machine finds its agent */
  m.nnotices = 1;
  m.notices = &wrong[6];
  m.agent = tesoro__appointment_machine.agent;
  assert_int_equal(notices_name_what_exists(&m, NULL), 0);
}

/* ------------------------------------------------------------------------
** The entity registry (TESORO__ENTITIES): every kind it lists has a name
** that is a table of the schema, a JSON statement, a machine of its own
** number (contacts excepted), its state = history invariant, its arm in
** the checker's agency rule and in the privacy map's entity selector, and
** a table in the privacy map.  A kind left out of any generated list
** fails here.
*/
static int privacy_has_table(const char *table) {
  for (int i = 0; i < COUNT(tesoro__privacy_map); i++)
    if (strcmp(tesoro__privacy_map[i].table, table) == 0) return 1;
  return 0;
}

static const char *invariant_named(const char *rule) {
  for (int i = 0; i < COUNT(tesoro__invariants); i++)
    if (strcmp(tesoro__invariants[i].rule, rule) == 0)
      return tesoro__invariants[i].sql;
  return NULL;
}

static void test_registry_covers_every_entity(void **state) {
  tesoro *t = NULL;
  char path[] = "/tmp/tesoro_registry_XXXXXX", db[64];
  const char *agency_rule = invariant_named(
      "history belongs to an existing entity of its agency");
  int fd = mkstemp(path);
  (void)state;
  assert_true(fd >= 0);
  close(fd);
  unlink(path);
  snprintf(db, sizeof db, "%s.db", path);
  assert_int_equal(tesoro_open(db, &t), TESORO_OK);
  assert_non_null(agency_rule);
  for (int e = 1; e <= TESORO__ENTITY_MAX; e++) {
    const char *name = tesoro__entity_names[e];
    const tesoro__machine *m = tesoro__machine_of(e);
    char rule[96], arm[128], sql[160];
    sqlite3_stmt *s;
    assert_non_null(name);
    /* its name is a table */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
             "name = '%s'", name);
    assert_int_equal(sqlite3_prepare_v2(t->db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    assert_true(tesoro__json_stmts[e] > 0);
    assert_true(privacy_has_table(name));
    snprintf(arm, sizeof arm, "WHEN %d THEN (SELECT agency_id FROM %s WHERE",
             e, name);
    assert_non_null(strstr(agency_rule, arm));
    snprintf(arm, sizeof arm, "(entity = %d AND entity_id IN ", e);
    assert_non_null(strstr(C_ENTITIES, arm));
    if (e == TESORO_ENTITY_CONTACT) {
      assert_null(m);
      continue;
    }
    assert_non_null(m);
    assert_int_equal(m->entity, e);
    assert_string_equal(m->name, name);
    snprintf(rule, sizeof rule, "%s state = last history", name);
    assert_non_null(invariant_named(rule));
  }
  /* nothing past the last number */
  assert_null(tesoro__machine_of(TESORO__ENTITY_MAX + 1));
  assert_int_equal(COUNT(tesoro__entity_names), TESORO__ENTITY_MAX + 1);
  tesoro_close(t);
  unlink(db);
}

/* Every machine is created by a row of its table: at least one creation
** row (from TESORO__NEW) to one of its states, for some role. */
static void test_every_machine_has_a_creation_row(void **state) {
  (void)state;
  for (int e = 1; e <= TESORO__ENTITY_MAX; e++) {
    const tesoro__machine *m = tesoro__machine_of(e);
    int rows = 0;
    if (m == NULL) continue;
    for (int i = 0; i < m->nrows; i++) {
      if (m->rows[i].from != TESORO__NEW) continue;
      rows++;
      assert_true(m->rows[i].to < m->nstates);
      assert_true(m->rows[i].roles != 0);
    }
    if (rows == 0) fail_msg("%s has no creation row", m->name);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rows_name_existing_states_events_and_roles),
      cmocka_unit_test(test_no_two_rows_overlap),
      cmocka_unit_test_setup_teardown(test_states_equal_the_schema_check_lists,
                                      fresh_db_setup, fresh_db_teardown),
      cmocka_unit_test_setup_teardown(
          test_lines_on_history_match_the_timeline_view, fresh_db_setup,
          fresh_db_teardown),
      cmocka_unit_test(test_diagrams_have_one_edge_per_from_state_and_row),
      cmocka_unit_test(test_every_event_has_a_row),
      cmocka_unit_test(test_notices_name_existing_events_and_recipients),
      cmocka_unit_test(test_wrong_notice_rows_fail),
      cmocka_unit_test(test_registry_covers_every_entity),
      cmocka_unit_test(test_every_machine_has_a_creation_row),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
