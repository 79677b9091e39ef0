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

static entry_t *table = NULL;
static size_t mask = 0; /* slots - 1; slots is a power of two */
static unsigned shift = 64; /* 64 - log2(slots) */
static size_t used = 0;
static size_t live = 0;
static int counting = 0;
static int overflowed = 0; /* the table could not grow: counts are no longer exact */
static int installed = 0;
static int seen = 0; /* set by every hooked call; see hooked() */

#if PY_VERSION_HEX >= 0x030C0000
/* Subinterpreters may run without the main GIL: see ours(). */
#define OWN_GIL_INTERPRETERS 1
static PyInterpreterState *owner = NULL; /* the interpreter that called start() */
static volatile int foreign = 0;         /* another interpreter allocated while counting */
#if PY_VERSION_HEX >= 0x030D0000
#define CURRENT_TSTATE() PyThreadState_GetUnchecked()
#else
#define CURRENT_TSTATE() _PyThreadState_UncheckedGet()
#endif
#endif

static PyMemAllocatorEx old_mem, old_obj;

static inline size_t
slot_of(uintptr_t p)
{
    /* Fibonacci hashing: the top bits of the product. */
    return (size_t)(((uint64_t)p * 0x9E3779B97F4A7C15ULL) >> shift);
}

static int
grow(void)
{
    size_t slots = table ? (mask + 1) * 2 : INITIAL_SLOTS;
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

static void
forget(void *p)
{
    if (p == NULL || table == NULL) {
        return;
    }
    uintptr_t key = (uintptr_t)p;
    size_t i = slot_of(key);
    while (table[i].ptr != key) {
        if (table[i].ptr == 0) {
            return; /* allocated before start() */
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
}

/* Whether a hooked call may touch the table: it comes from the interpreter that
 * started counting (under its GIL).  Any other one may hold another GIL. */
static inline int
ours(void)
{
#ifdef OWN_GIL_INTERPRETERS
    PyThreadState *tstate = CURRENT_TSTATE();
    if (tstate != NULL && PyThreadState_GetInterpreter(tstate) != owner) {
        foreign = 1;
        return 0;
    }
#endif
    return 1;
}

#define HOOKS(NAME, OLD)                                                     \
    static void *NAME##_malloc(void *ctx, size_t n)                          \
    {                                                                        \
        void *p = OLD.malloc(OLD.ctx, n);                                    \
        seen = 1;                                                            \
        if (counting && ours()) {                                            \
            add(p, n);                                                       \
        }                                                                    \
        return p;                                                            \
    }                                                                        \
    static void *NAME##_calloc(void *ctx, size_t nelem, size_t elsize)       \
    {                                                                        \
        void *p = OLD.calloc(OLD.ctx, nelem, elsize);                        \
        seen = 1;                                                            \
        if (counting && p != NULL && ours()) {                               \
            add(p, nelem * elsize); /* no overflow: calloc succeeded */      \
        }                                                                    \
        return p;                                                            \
    }                                                                        \
    static void *NAME##_realloc(void *ctx, void *q, size_t n)                \
    {                                                                        \
        void *p = OLD.realloc(OLD.ctx, q, n);                                \
        seen = 1;                                                            \
        if (counting && p != NULL && ours()) {                               \
            forget(q);                                                       \
            add(p, n);                                                       \
        }                                                                    \
        return p;                                                            \
    }                                                                        \
    static void NAME##_free(void *ctx, void *q)                              \
    {                                                                        \
        seen = 1;                                                            \
        if (counting && ours()) {                                            \
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
#ifdef OWN_GIL_INTERPRETERS
    owner = PyInterpreterState_Get();
#endif
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
    return check() < 0 ? NULL : PyLong_FromSize_t(live);
}

static PyObject *
alloccount_blocks(PyObject *module, PyObject *unused)
{
    return check() < 0 ? NULL : PyLong_FromSize_t(used);
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
