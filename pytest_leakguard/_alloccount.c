/*
 * A byte counter for Python's allocators: the figure tracemalloc's traced
 * memory gives, without recording a traceback per allocation.
 *
 * start() hooks the PYMEM_DOMAIN_MEM and PYMEM_DOMAIN_OBJ allocators (the
 * ones tracemalloc traces, minus RAW, which C code calls without the GIL) and
 * keeps, for every block allocated since, its requested size in an
 * open-addressing table keyed by address.  current() is the sum of those
 * sizes: bytes allocated since start() and still alive; blocks() is their
 * number.  Blocks allocated before start() are not in the table, so freeing
 * them changes nothing.  Unlike sys.getallocatedblocks(), which visits every
 * pool of every arena, both cost the same whatever the size of the heap.
 *
 * tracemalloc spends most of its time capturing and interning a traceback
 * and allocating a trace record per allocation; this table costs a hash and
 * a probe.  Both hooked domains are only called with the GIL held, so the
 * table needs no lock (the module refuses free-threaded builds).
 *
 * From Python 3.12 on, a subinterpreter may have its own GIL: its allocations
 * reach the same hooks concurrently.  The hooks never touch the table for an
 * interpreter other than the one that called start(); they note that one
 * allocated (foreign), and the count is refused until start() again.
 *
 * focus() narrows counting to the calling thread and the threads created after
 * a given one (thread states are numbered in order of creation): background
 * threads that were already running (a session fixture's, a library's worker
 * pool) allocate and free without changing the count.  Each block is counted
 * or not when it is allocated; its free subtracts it whichever thread makes it,
 * so the count stays exact (a realloc is a free, then an allocation by the
 * calling thread).
 *
 * The table holds the blocks counted since start() and still alive; a session
 * keeps some per test (its reports), so compact() (at each test's start)
 * forgets them once they are many: their bytes stay in the count, their frees
 * no longer subtract.  It also shrinks a table left sparse by a peak.  The
 * table is sized by the blocks one test keeps alive, not by the tests run.
 *
 * The hooks stay installed once started: another hook (tracemalloc started
 * later) may wrap them and would otherwise call a stale allocator.  stop()
 * only stops counting and frees the table.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct {
    uintptr_t ptr; /* 0: empty slot */
    size_t size;
} entry_t;

#define INITIAL_SLOTS ((size_t)1 << 14)
/* compact() forgets the blocks of earlier tests beyond this many (a table of 8 MiB at most). */
#define KEPT_BLOCKS ((size_t)1 << 17)

static entry_t *table = NULL;
static size_t mask = 0; /* slots - 1; slots is a power of two */
static unsigned shift = 64; /* 64 - log2(slots) */
static size_t used = 0;
static size_t live = 0;
static size_t forgotten_blocks = 0; /* forgotten by compact(), still in blocks() */
static size_t forgotten_bytes = 0;  /* and in current() */
static int focused = 0;             /* count only the threads chosen by focus() */
static PyThreadState *focus_tstate = NULL; /* the thread that called focus() */
static uint64_t focus_thread = 0;          /* and its id */
static uint64_t newest_before = 0;  /* threads whose id is above it are counted */
static int counting = 0;
static int overflowed = 0; /* the table could not grow: counts are no longer exact */
static int installed = 0;
static int seen = 0; /* set by every hooked call; see hooked() */

#if PY_VERSION_HEX >= 0x030D0000
#define CURRENT_TSTATE() PyThreadState_GetUnchecked()
#else
#define CURRENT_TSTATE() _PyThreadState_UncheckedGet()
#endif
static PyInterpreterState *owner = NULL; /* the interpreter that called start() */
#if PY_VERSION_HEX >= 0x030C0000
/* Subinterpreters may run without the main GIL: see caller(). */
#define OWN_GIL_INTERPRETERS 1
static volatile int foreign = 0; /* another interpreter allocated while counting */
#endif

static PyMemAllocatorEx old_mem, old_obj;

static inline size_t
slot_of(uintptr_t p)
{
    /* The blocks of one 256-byte stretch of memory share a group of 16 slots (4 cache
     * lines), one per 16-byte unit; Fibonacci hashing (the top bits of the product)
     * places the group.  Consecutive allocations and frees then mostly touch the same
     * lines of the table: hashing every block alone cost a cache miss per call once
     * the table outgrew the caches (3 to 6 times the allocator's own cost, against 1.5
     * to 3).  Linear probing stays correct whatever the hash; only its speed moves. */
    size_t group = (size_t)((((uint64_t)p >> 8) * 0x9E3779B97F4A7C15ULL) >> shift) << 4;
    return (group | (size_t)(((uint64_t)p >> 4) & 15)) & mask;
}

/* Rehash into a table of `slots` slots (a power of two, more than twice `used`). */
static int
resize(size_t slots)
{
    entry_t *fresh = calloc(slots, sizeof(entry_t));
    if (fresh == NULL) {
        return -1;
    }
    entry_t *old = table;
    size_t old_slots = table ? mask + 1 : 0;
    table = fresh;
    mask = slots - 1;
    shift = 64;
    for (size_t s = slots; s > 1; s >>= 1) {
        shift--;
    }
    for (size_t i = 0; i < old_slots; i++) {
        if (old[i].ptr) {
            size_t j = slot_of(old[i].ptr);
            while (table[j].ptr) {
                j = (j + 1) & mask;
            }
            table[j] = old[i];
        }
    }
    free(old);
    return 0;
}

static int
grow(void)
{
    return resize(table ? (mask + 1) * 2 : INITIAL_SLOTS);
}

static void
add(void *p, size_t size)
{
    if (p == NULL) {
        return;
    }
    if (table == NULL || (used + 1) * 2 > mask + 1) { /* load factor <= 1/2 */
        if (grow() < 0) {
            overflowed = 1;
            return;
        }
    }
    uintptr_t key = (uintptr_t)p;
    size_t i = slot_of(key);
    while (table[i].ptr) {
        if (table[i].ptr == key) { /* freed behind our back; cannot happen via the hooks */
            live -= table[i].size;
            table[i].size = size;
            live += size;
            return;
        }
        i = (i + 1) & mask;
    }
    table[i].ptr = key;
    table[i].size = size;
    used++;
    live += size;
}

/* Whether p was counted (it is no longer). */
static int
forget(void *p)
{
    if (p == NULL || table == NULL) {
        return 0;
    }
    uintptr_t key = (uintptr_t)p;
    size_t i = slot_of(key);
    while (table[i].ptr != key) {
        if (table[i].ptr == 0) {
            return 0; /* allocated before start(), by another thread, or forgotten */
        }
        i = (i + 1) & mask;
    }
    live -= table[i].size;
    used--;
    /* Backward-shift deletion: keeps every probe chain whole without tombstones. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (table[j].ptr == 0) {
            break;
        }
        size_t home = slot_of(table[j].ptr);
        int stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            table[i] = table[j];
            i = j;
        }
    }
    table[i].ptr = 0;
    table[i].size = 0;
    return 1;
}

/* Whether a thread other than the focused one counts (see focus()). */
static int
counted(PyThreadState *tstate)
{
    if (!focused || tstate == NULL || PyThreadState_GetInterpreter(tstate) != owner) {
        return 1; /* ids are per interpreter; before 3.12 others share the GIL: counted */
    }
    uint64_t id = PyThreadState_GetID(tstate);
    return id == focus_thread || id > newest_before;
}

/* What a hooked call may do: 2, count its block; 1, only forget one (another thread's
 * call); 0, nothing: it comes from another interpreter, which may hold another GIL. */
static inline int
caller(void)
{
#ifdef OWN_GIL_INTERPRETERS
    PyThreadState *tstate = CURRENT_TSTATE();
    if (tstate == focus_tstate) { /* the test's thread: most calls */
        return 2;
    }
    if (tstate != NULL && PyThreadState_GetInterpreter(tstate) != owner) {
        foreign = 1;
        return 0;
    }
    return counted(tstate) ? 2 : 1;
#else
    if (!focused) {
        return 2;
    }
    PyThreadState *tstate = CURRENT_TSTATE();
    return tstate == focus_tstate || counted(tstate) ? 2 : 1;
#endif
}

/* Whether a free may touch the table (the calling interpreter started counting). */
#ifdef OWN_GIL_INTERPRETERS
#define OURS() (caller() != 0)
#else
#define OURS() 1
#endif

#define HOOKS(NAME, OLD)                                                     \
    static void *NAME##_malloc(void *ctx, size_t n)                          \
    {                                                                        \
        void *p = OLD.malloc(OLD.ctx, n);                                    \
        seen = 1;                                                            \
        if (counting && caller() == 2) {                                     \
            add(p, n);                                                       \
        }                                                                    \
        return p;                                                            \
    }                                                                        \
    static void *NAME##_calloc(void *ctx, size_t nelem, size_t elsize)       \
    {                                                                        \
        void *p = OLD.calloc(OLD.ctx, nelem, elsize);                        \
        seen = 1;                                                            \
        if (counting && p != NULL && caller() == 2) {                        \
            add(p, nelem * elsize); /* no overflow: calloc succeeded */      \
        }                                                                    \
        return p;                                                            \
    }                                                                        \
    static void *NAME##_realloc(void *ctx, void *q, size_t n)                \
    {                                                                        \
        void *p = OLD.realloc(OLD.ctx, q, n);                                \
        seen = 1;                                                            \
        int who = counting && p != NULL ? caller() : 0;                      \
        if (who) {                                                           \
            /* A free, then an allocation by this thread (a free list's */   \
            /* frame another thread allocated, resized for this one). */     \
            forget(q);                                                       \
            if (who == 2) {                                                  \
                add(p, n);                                                   \
            }                                                                \
        }                                                                    \
        return p;                                                            \
    }                                                                        \
    static void NAME##_free(void *ctx, void *q)                              \
    {                                                                        \
        seen = 1;                                                            \
        if (counting && OURS()) {                                            \
            forget(q);                                                       \
        }                                                                    \
        OLD.free(OLD.ctx, q);                                                \
    }

HOOKS(mem, old_mem)
HOOKS(obj, old_obj)

/* Whether allocations still reach the hooks: a hook installed before ours and
 * removed since (tracemalloc started first, then stopped) takes ours with it. */
static int
hooked(void)
{
    seen = 0;
    void *p = PyMem_Malloc(1);
    PyMem_Free(p);
    int mem = seen;
    seen = 0;
    p = PyObject_Malloc(1);
    PyObject_Free(p);
    return mem && seen;
}

static void
reset(void)
{
    free(table);
    table = NULL;
    mask = 0;
    shift = 64;
    used = 0;
    live = 0;
    forgotten_blocks = 0;
    forgotten_bytes = 0;
    focused = 0;
    focus_tstate = NULL;
    overflowed = 0;
#ifdef OWN_GIL_INTERPRETERS
    foreign = 0;
#endif
}

static PyObject *
alloccount_start(PyObject *module, PyObject *unused)
{
    if (!installed || !hooked()) {
        PyMemAllocatorEx hook = {NULL, mem_malloc, mem_calloc, mem_realloc, mem_free};
        PyMem_GetAllocator(PYMEM_DOMAIN_MEM, &old_mem);
        PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &old_obj);
        PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &hook);
        hook.malloc = obj_malloc;
        hook.calloc = obj_calloc;
        hook.realloc = obj_realloc;
        hook.free = obj_free;
        PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &hook);
        installed = 1;
    }
    counting = 0;
    reset();
    owner = PyInterpreterState_Get();
    if (grow() < 0) {
        return PyErr_NoMemory();
    }
    counting = 1;
    Py_RETURN_NONE;
}

static PyObject *
alloccount_stop(PyObject *module, PyObject *unused)
{
    counting = 0;
    reset();
    Py_RETURN_NONE;
}

/* -1 with an exception set if the count cannot be trusted. */
static int
check(void)
{
    if (!counting) {
        PyErr_SetString(PyExc_RuntimeError, "the allocation counter is not started");
        return -1;
    }
#ifdef OWN_GIL_INTERPRETERS
    if (foreign) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the allocation counter cannot count while subinterpreters run (with "
                        "their own GIL they allocate concurrently): its count is refused; "
                        "use -X tracemalloc");
        return -1;
    }
#endif
    if (overflowed) {
        PyErr_SetString(PyExc_MemoryError,
                        "the allocation counter's table could not grow: its count is lost");
        return -1;
    }
    if (!hooked()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the allocation counter's hook was removed (another allocator hook "
                        "installed before it was uninstalled): its count is lost");
        return -1;
    }
    return 0;
}

static PyObject *
alloccount_current(PyObject *module, PyObject *unused)
{
    return check() < 0 ? NULL : PyLong_FromSize_t(forgotten_bytes + live);
}

static PyObject *
alloccount_blocks(PyObject *module, PyObject *unused)
{
    return check() < 0 ? NULL : PyLong_FromSize_t(forgotten_blocks + used);
}

/* The id of the newest thread state of the calling interpreter (new ones go first). */
static uint64_t
newest_thread(void)
{
    PyThreadState *head = PyInterpreterState_ThreadHead(PyInterpreterState_Get());
    return head == NULL ? 0 : PyThreadState_GetID(head);
}

static PyObject *
alloccount_newest_thread(PyObject *module, PyObject *unused)
{
    return PyLong_FromUnsignedLongLong(newest_thread());
}

static PyObject *
alloccount_focus(PyObject *module, PyObject *args)
{
    unsigned long long newest = 0;
    if (!PyArg_ParseTuple(args, "|K:focus", &newest)) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(args) == 0) {
        newest = newest_thread();
    }
    if (counting && PyInterpreterState_Get() != owner) {
        PyErr_SetString(PyExc_RuntimeError, "focus() from an interpreter that is not counting");
        return NULL;
    }
    focus_tstate = PyThreadState_Get();
    focus_thread = PyThreadState_GetID(focus_tstate);
    newest_before = newest;
    focused = 1;
    Py_RETURN_NONE;
}

/* A fresh table for the blocks counted from now on; the earlier ones stay in the count. */
static void
forget_all(void)
{
    entry_t *old = table;
    size_t old_used = used, old_live = live;
    table = NULL;
    used = 0;
    live = 0;
    if (resize(INITIAL_SLOTS) < 0) { /* keep the table as it is */
        table = old;
        used = old_used;
        live = old_live;
        return;
    }
    free(old);
    forgotten_blocks += old_used;
    forgotten_bytes += old_live;
}

static PyObject *
alloccount_compact(PyObject *module, PyObject *unused)
{
    if (!counting || overflowed || table == NULL) {
        Py_RETURN_NONE;
    }
    if (used > KEPT_BLOCKS) {
        forget_all();
        Py_RETURN_NONE;
    }
    size_t slots = INITIAL_SLOTS;
    while (slots < 4 * used) { /* a load factor of 1/4 after shrinking */
        slots *= 2;
    }
    if (slots * 4 <= mask + 1) { /* sparse: below 1/16 */
        (void)resize(slots);   /* if it fails, the larger table serves as well */
    }
    Py_RETURN_NONE;
}

static PyObject *
alloccount_table_slots(PyObject *module, PyObject *unused)
{
    return PyLong_FromSize_t(table ? mask + 1 : 0);
}

static PyObject *
alloccount_is_counting(PyObject *module, PyObject *unused)
{
    return PyBool_FromLong(counting);
}

/* Take `count` blocks of each of `bins` sizes (24, 40, ... bytes: glibc's tcache
 * bins) and free them: each bin of the calling thread's cache of freed chunks is
 * then full, whatever it held (see pytest_leakguard/probes/c_heap.py).  The
 * pointers go through volatile storage, so the compiler keeps the calls. */
#define FILL_MAX 64

static PyObject *
alloccount_fill_malloc_cache(PyObject *module, PyObject *args)
{
    Py_ssize_t bins, count, bin, i;
    void *volatile taken[FILL_MAX];

    if (!PyArg_ParseTuple(args, "nn:fill_malloc_cache", &bins, &count)) {
        return NULL;
    }
    if (bins < 0 || bins > FILL_MAX || count < 0 || count > FILL_MAX) {
        PyErr_SetString(PyExc_ValueError, "bins and count must be in 0..64");
        return NULL;
    }
    for (bin = 0; bin < bins; bin++) {
        for (i = 0; i < count; i++) {
            taken[i] = malloc((size_t)(16 * bin + 24));
        }
        for (i = 0; i < count; i++) {
            free(taken[i]);
        }
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"start", alloccount_start, METH_NOARGS,
     "start()\n--\n\nHook Python's allocators (once) and count from zero."},
    {"stop", alloccount_stop, METH_NOARGS,
     "stop()\n--\n\nStop counting and free the table (the hooks stay, passing through)."},
    {"current", alloccount_current, METH_NOARGS,
     "current()\n--\n\nBytes allocated since start() and still alive."},
    {"blocks", alloccount_blocks, METH_NOARGS,
     "blocks()\n--\n\nBlocks allocated since start() and still alive."},
    {"is_counting", alloccount_is_counting, METH_NOARGS,
     "is_counting()\n--\n\nWhether start() was called and stop() was not."},
    {"newest_thread", alloccount_newest_thread, METH_NOARGS,
     "newest_thread()\n--\n\nThe id of the newest thread state (an argument for focus())."},
    {"focus", alloccount_focus, METH_VARARGS,
     "focus([newest])\n--\n\nFrom now on, count only what the calling thread and the threads "
     "created after the thread `newest` (from newest_thread(); default: now) allocate."},
    {"compact", alloccount_compact, METH_NOARGS,
     "compact()\n--\n\nForget the counted blocks if they are many (their bytes stay counted), "
     "or shrink a sparse table."},
    {"table_slots", alloccount_table_slots, METH_NOARGS,
     "table_slots()\n--\n\nThe size of the table of live blocks, in slots (0: not counting)."},
    {"fill_malloc_cache", alloccount_fill_malloc_cache, METH_VARARGS,
     "fill_malloc_cache(bins, count)\n--\n\nTake and free count blocks of bins sizes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "_alloccount",
    "Counts the bytes allocated through Python's allocators and still alive.",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__alloccount(void)
{
#ifdef Py_GIL_DISABLED
    /* The table has no lock: without the GIL the hooks would race. */
    PyErr_SetString(PyExc_ImportError, "the allocation counter needs the GIL");
    return NULL;
#else
    return PyModule_Create(&module_def);
#endif
}
