/* smbguard.logs._sambascan: the vfs_full_audit line reader of SambaSource.frames() in C.
 *
 * scan(body, year, ops, cats, kinds) splits a block of log lines (bytes; lines end with
 * '\n', only the last may lack it) and reads every line it can prove it reads exactly as
 * the Python reference SambaSource.parse_line / _full_audit does. Each line is one of:
 *   fast  : a vfs_full_audit line in the common shape (syslog head "Mmm dd hh:mm:ss ...]: "
 *           before column 80, ASCII head, valid UTF-8, an operation of `ops` followed by a
 *           result in field 1..9): read here, its event row (if it makes one) returned;
 *   odd   : parse_line hands the line to _full_audit, but it is not in that shape (or
 *           this code is unsure): declined, the caller reads it with parse_line, in order;
 *   other : parse_line never hands it to _full_audit (starts with '[' or has neither
 *           "|ok|" nor "|fail"): the caller reads it with parse_line.
 *
 * Returns (n_lines, odd, other, columns, prefixes):
 *   odd, other : lists of line numbers (0-based);
 *   columns    : list of (name, capsules) where capsules is the (ArrowSchema, ArrowArray)
 *                PyCapsule pair of one column (Arrow C data interface, moved out by the
 *                consumer): "fast_n" (UInt32, the line number of every fast line) and the
 *                event rows "n" (UInt32), "kind", "event_id", "time" (timestamp us UTC,
 *                null when the date does not exist), "pre" (UInt32: index in prefixes),
 *                "cshare", "path", "new_path", "status" (large utf8, nullable);
 *   prefixes   : the distinct prefixes (the text between "]: " and the '|' before the
 *                operation) as str, in order of first use.
 * `ops` (tuple of ASCII str) are the operation names, `cats` (bytes, one per op) their
 * category: 0 connect, 1 write, 2 rename, 3 delete, 4 open, 5 no event; `kinds` the five
 * kind strings (connect, write, rename, delete, access). The Python caller passes its own
 * sets, so there is one definition of them.
 *
 * Every read is bounded by the block length; buffers grow with checked arithmetic; the GIL
 * is released while the block is scanned (the bytes object is immutable and held by the
 * caller).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_arrow_abi.h" /* the Arrow C data interface structs */

/* ------------------------------------------------------------------ growable buffers */
typedef struct {
    uint8_t *p;
    size_t len;
    size_t cap;
} Buf;

static int
buf_grow(Buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len) {
        return -1;
    }
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) {
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int
buf_reserve(Buf *b, size_t extra)
{
    if (extra <= b->cap - b->len) { /* (len <= cap always) */
        return 0;
    }
    return buf_grow(b, extra);
}

static inline int
buf_put(Buf *b, const void *data, size_t len)
{
    if (buf_reserve(b, len) < 0) {
        return -1;
    }
    if (len) {
        memcpy(b->p + b->len, data, len);
    }
    b->len += len;
    return 0;
}

/* A column: kind 'u' = large utf8 (offsets + data + validity), 'I' = uint32, 't' = int64
 * microseconds with validity. */
typedef struct {
    char type;
    int64_t rows;
    int64_t nulls;
    Buf off;   /* 'u': int64 offsets (rows + 1) */
    Buf data;  /* 'u': bytes; 'I': uint32; 't': int64 */
    Buf valid; /* bitmap, bit set = valid */
} Col;

static int
col_init(Col *c, char type)
{
    memset(c, 0, sizeof *c);
    c->type = type;
    if (type == 'u') {
        int64_t zero = 0;
        return buf_put(&c->off, &zero, sizeof zero);
    }
    return 0;
}

static void
col_free(Col *c)
{
    free(c->off.p);
    free(c->data.p);
    free(c->valid.p);
    memset(c, 0, sizeof *c);
}

/* the validity bit of row c->rows (about to be appended) */
static int
col_valid_bit(Col *c, int valid)
{
    size_t byte = (size_t)(c->rows >> 3);
    if (byte >= c->valid.len) {
        if (buf_reserve(&c->valid, 1) < 0) {
            return -1;
        }
        c->valid.p[c->valid.len++] = 0;
    }
    if (valid) {
        c->valid.p[byte] |= (uint8_t)(1u << (c->rows & 7));
    }
    else {
        c->nulls++;
    }
    return 0;
}

static int
col_str(Col *c, const char *s, size_t len)
{
    if (col_valid_bit(c, 1) < 0 || buf_put(&c->data, s, len) < 0) {
        return -1;
    }
    int64_t end = (int64_t)c->data.len;
    if (buf_put(&c->off, &end, sizeof end) < 0) {
        return -1;
    }
    c->rows++;
    return 0;
}

/* two pieces, one value ("vfs:" + op) */
static int
col_str2(Col *c, const char *a, size_t alen, const char *b, size_t blen)
{
    if (col_valid_bit(c, 1) < 0 || buf_put(&c->data, a, alen) < 0 || buf_put(&c->data, b, blen) < 0) {
        return -1;
    }
    int64_t end = (int64_t)c->data.len;
    if (buf_put(&c->off, &end, sizeof end) < 0) {
        return -1;
    }
    c->rows++;
    return 0;
}

static int
col_null(Col *c)
{
    if (col_valid_bit(c, 0) < 0) {
        return -1;
    }
    if (c->type == 'u') {
        int64_t end = (int64_t)c->data.len;
        if (buf_put(&c->off, &end, sizeof end) < 0) {
            return -1;
        }
    }
    else if (c->type == 't') {
        int64_t zero = 0;
        if (buf_put(&c->data, &zero, sizeof zero) < 0) {
            return -1;
        }
    }
    c->rows++;
    return 0;
}

static int
col_u32(Col *c, uint32_t v)
{
    if (buf_put(&c->data, &v, sizeof v) < 0) {
        return -1;
    }
    c->rows++;
    return 0;
}

static int
col_time(Col *c, int valid, int64_t us)
{
    if (!valid) {
        return col_null(c);
    }
    if (col_valid_bit(c, 1) < 0 || buf_put(&c->data, &us, sizeof us) < 0) {
        return -1;
    }
    c->rows++;
    return 0;
}

/* Arrow export: the array owns the column's buffers (moved out of the Col). */
typedef struct {
    const void *buffers[3];
    void *owned[3];
} ArrayPrivate;

static void
release_array(struct ArrowArray *a)
{
    if (a->release == NULL) {
        return;
    }
    ArrayPrivate *priv = a->private_data;
    if (priv != NULL) {
        for (int i = 0; i < 3; i++) {
            free(priv->owned[i]);
        }
        free(priv);
    }
    a->private_data = NULL;
    a->release = NULL;
}

static void
release_schema(struct ArrowSchema *s)
{
    s->release = NULL; /* format and name are static strings */
}

/* (name, (schema capsule, array capsule)); the Col is emptied (its buffers moved). */
static PyObject *
export_col(Col *c, const char *name)
{
    static const uint64_t empty[2] = {0, 0}; /* a valid, aligned address for empty buffers */
    struct ArrowSchema *schema = calloc(1, sizeof *schema);
    struct ArrowArray *array = calloc(1, sizeof *array);
    ArrayPrivate *priv = calloc(1, sizeof *priv);
    PyObject *sc = NULL, *ac = NULL;
    if (schema == NULL || array == NULL || priv == NULL) {
        free(schema);
        free(array);
        free(priv);
        return PyErr_NoMemory();
    }
    schema->format = c->type == 'u' ? "U" : c->type == 'I' ? "I" : "tsu:UTC";
    schema->name = name;
    schema->flags = ARROW_FLAG_NULLABLE;
    schema->release = release_schema;

    array->length = c->rows;
    array->null_count = c->nulls;
    array->buffers = priv->buffers;
    array->private_data = priv;
    array->release = release_array;
    /* validity only when there are nulls (else NULL, allowed by the spec) */
    if (c->nulls > 0) {
        priv->owned[0] = c->valid.p;
        priv->buffers[0] = c->valid.p;
        c->valid.p = NULL;
    }
    if (c->type == 'u') {
        array->n_buffers = 3;
        priv->owned[1] = c->off.p;
        priv->buffers[1] = c->off.p;
        c->off.p = NULL;
        priv->owned[2] = c->data.p;
        priv->buffers[2] = c->data.p ? (const void *)c->data.p : (const void *)empty;
        c->data.p = NULL;
    }
    else {
        array->n_buffers = 2;
        priv->owned[1] = c->data.p;
        priv->buffers[1] = c->data.p ? (const void *)c->data.p : (const void *)empty;
        c->data.p = NULL;
    }
    col_free(c);
    sc = PyCapsule_New(schema, "arrow_schema", arrow_schema_capsule_free);
    if (sc == NULL) {
        schema->release(schema);
        free(schema);
        array->release(array);
        free(array);
        return NULL;
    }
    ac = PyCapsule_New(array, "arrow_array", arrow_array_capsule_free);
    if (ac == NULL) {
        Py_DECREF(sc);
        array->release(array);
        free(array);
        return NULL;
    }
    return Py_BuildValue("(s(NN))", name, sc, ac);
}

/* ------------------------------------------------------------------ line rules */

/* Strict UTF-8 (what bytes.decode("utf-8") accepts): no overlongs, no surrogates,
 * nothing above U+10FFFF. */
static int
valid_utf8(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* ASCII runs, 8 bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull) {
                break;
            }
            i += 8;
        }
        if (i >= n) {
            break;
        }
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            if (i + 1 >= n || (p[i + 1] & 0xc0) != 0x80) {
                return 0;
            }
            i += 2;
        }
        else if (c >= 0xe0 && c <= 0xef) {
            if (i + 2 >= n || (p[i + 1] & 0xc0) != 0x80 || (p[i + 2] & 0xc0) != 0x80) {
                return 0;
            }
            if (c == 0xe0 && p[i + 1] < 0xa0) {
                return 0; /* overlong */
            }
            if (c == 0xed && p[i + 1] > 0x9f) {
                return 0; /* surrogate */
            }
            i += 3;
        }
        else if (c >= 0xf0 && c <= 0xf4) {
            if (i + 3 >= n || (p[i + 1] & 0xc0) != 0x80 || (p[i + 2] & 0xc0) != 0x80 ||
                (p[i + 3] & 0xc0) != 0x80) {
                return 0;
            }
            if (c == 0xf0 && p[i + 1] < 0x90) {
                return 0; /* overlong */
            }
            if (c == 0xf4 && p[i + 1] > 0x8f) {
                return 0; /* above U+10FFFF */
            }
            i += 4;
        }
        else {
            return 0;
        }
    }
    return 1;
}

/* b"|ok|" in line or b"|fail" in line */
static int
has_audit(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        if (bar == NULL) {
            return 0;
        }
        size_t left = (size_t)(end - bar) - 1; /* bytes after the bar */
        if (left >= 3 && bar[1] == 'o' && bar[2] == 'k' && bar[3] == '|') {
            return 1;
        }
        if (left >= 4 && memcmp(bar + 1, "fail", 4) == 0) {
            return 1;
        }
        p = bar + 1;
    }
    return 0;
}

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char MONTHS[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int
leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil) */
static int64_t
days_from_civil(long y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t)era * 146097 + (int64_t)doe - 719468;
}

/* The first 16 bytes of a head (the line up to its first "]: ", at least 16 bytes, ASCII):
 * are they "Mmm dd hh:mm:ss " with day " d" or "dd" (what SambaSource._fast_head accepts;
 * the rest of the head is free)? If so, valid and us: the time _syslog_time gives
 * (valid 0: the date does not exist). */
static int
syslog_stamp(const char *h, long year, int *valid, int64_t *us)
{
    int month = 0;
    for (int m = 0; m < 12; m++) {
        if (h[0] == MONTHS[m][0] && h[1] == MONTHS[m][1] && h[2] == MONTHS[m][2]) {
            month = m + 1;
            break;
        }
    }
    if (month == 0 || h[3] != ' ' || h[6] != ' ' || h[9] != ':' || h[12] != ':' || h[15] != ' ') {
        return 0;
    }
    if (!is_digit(h[5]) || !(h[4] == ' ' || is_digit(h[4]))) {
        return 0;
    }
    if (!is_digit(h[7]) || !is_digit(h[8]) || !is_digit(h[10]) || !is_digit(h[11]) || !is_digit(h[13]) ||
        !is_digit(h[14])) {
        return 0;
    }
    int day = (h[4] == ' ' ? 0 : (h[4] - '0') * 10) + (h[5] - '0');
    int hh = (h[7] - '0') * 10 + (h[8] - '0');
    int mm = (h[10] - '0') * 10 + (h[11] - '0');
    int ss = (h[13] - '0') * 10 + (h[14] - '0');
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int dim = mdays[month - 1] + (month == 2 && leap(year));
    *valid = year >= 1 && year <= 9999 && day >= 1 && day <= dim && hh < 24 && mm < 60 && ss < 60;
    *us = 0;
    if (*valid) {
        int64_t days = days_from_civil(year, month, day);
        *us = ((days * 24 + hh) * 60 + mm) * 60 + ss;
        *us *= 1000000;
    }
    return 1;
}

/* ------------------------------------------------------------------ operations */
#define MAX_OPS 256
#define MAX_OP_LEN 63
#define OP_SLOTS 1024 /* open addressing, at most MAX_OPS used: load <= 1/4 */
typedef struct {
    const char *name[MAX_OPS];
    size_t len[MAX_OPS];
    uint8_t cat[MAX_OPS];
    int n;
    int16_t slot[OP_SLOTS]; /* op index + 1, 0 = empty */
    uint64_t lens[256];     /* bit L of lens[c]: an op of length L starts with byte c */
} Ops;

/* a hash of s[0:n], 8 bytes at a time (not for security: a collision only costs a compare) */
static uint64_t
hash_bytes(const char *s, size_t n)
{
    uint64_t h = (uint64_t)n * 0x9e3779b97f4a7c15ull;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, s, n);
        h = (h ^ w) * 0x94d049bb133111ebull;
    }
    return h ^ (h >> 32);
}

static uint32_t
hash32(const char *s, size_t n)
{
    return (uint32_t)hash_bytes(s, n);
}

/* after name/len/n are set; a duplicate name keeps its first index */
static void
ops_index(Ops *ops)
{
    memset(ops->slot, 0, sizeof ops->slot);
    memset(ops->lens, 0, sizeof ops->lens);
    for (int i = 0; i < ops->n; i++) {
        ops->lens[(uint8_t)ops->name[i][0]] |= (uint64_t)1 << ops->len[i];
        uint32_t j = hash32(ops->name[i], ops->len[i]) & (OP_SLOTS - 1);
        while (ops->slot[j]) {
            j = (j + 1) & (OP_SLOTS - 1);
        }
        ops->slot[j] = (int16_t)(i + 1);
    }
}

/* index of s[0:n] in ops, or -1 */
static int
op_index(const Ops *ops, const char *s, size_t n)
{
    if (n == 0 || n > MAX_OP_LEN || !((ops->lens[(uint8_t)s[0]] >> n) & 1)) {
        return -1;
    }
    uint32_t j = hash32(s, n) & (OP_SLOTS - 1);
    while (ops->slot[j]) {
        int i = ops->slot[j] - 1;
        if (ops->len[i] == n && memcmp(ops->name[i], s, n) == 0) {
            return i;
        }
        j = (j + 1) & (OP_SLOTS - 1);
    }
    return -1;
}

/* ------------------------------------------------------------------ prefixes */
typedef struct {
    uint64_t hash;
    size_t start;
    size_t len;
    uint32_t code;
    int used;
} Slot;

typedef struct {
    Slot *slots;
    size_t cap; /* power of two */
    size_t count;
    Buf spans; /* (start, len) pairs of size_t, by code */
} Prefixes;

static int
prefixes_grow(Prefixes *t, const char *body)
{
    size_t cap = t->cap ? t->cap * 2 : 256;
    if (cap > SIZE_MAX / sizeof(Slot)) {
        return -1;
    }
    Slot *slots = calloc(cap, sizeof(Slot));
    if (slots == NULL) {
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].used) {
            size_t j = (size_t)t->slots[i].hash & (cap - 1);
            while (slots[j].used) {
                j = (j + 1) & (cap - 1);
            }
            slots[j] = t->slots[i];
        }
    }
    (void)body;
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* code of body[start:start+len]; -1 on memory error */
static int64_t
prefix_code(Prefixes *t, const char *body, size_t start, size_t len)
{
    if ((t->count + 1) * 2 > t->cap && prefixes_grow(t, body) < 0) {
        return -1;
    }
    uint64_t h = hash_bytes(body + start, len);
    size_t j = (size_t)h & (t->cap - 1);
    while (t->slots[j].used) {
        Slot *s = &t->slots[j];
        if (s->hash == h && s->len == len && memcmp(body + s->start, body + start, len) == 0) {
            return s->code;
        }
        j = (j + 1) & (t->cap - 1);
    }
    if (t->count >= UINT32_MAX) {
        return -1;
    }
    Slot *s = &t->slots[j];
    s->used = 1;
    s->hash = h;
    s->start = start;
    s->len = len;
    s->code = (uint32_t)t->count++;
    size_t span[2] = {start, len};
    if (buf_put(&t->spans, span, sizeof span) < 0) {
        return -1;
    }
    return s->code;
}

/* ------------------------------------------------------------------ the scan */
enum { C_CONNECT = 0, C_WRITE, C_RENAME, C_DELETE, C_OPEN, C_NONE };
enum { COL_FAST_N, COL_N, COL_KIND, COL_EVENT_ID, COL_TIME, COL_PRE, COL_CSHARE, COL_PATH, COL_NEW, COL_STATUS, NCOLS };
static const char *const COL_NAMES[NCOLS] = {"fast_n", "n",      "kind", "event_id", "time",
                                             "pre",    "cshare", "path", "new_path", "status"};
static const char COL_TYPES[NCOLS] = {'I', 'I', 'u', 'u', 't', 'I', 'u', 'u', 'u', 'u'};

#define MAX_HEAD 80 /* _full_audit: "]: " before column 80 */
#define MAX_OP_FIELD 9 /* _full_audit: the operation in field 1..9 */

typedef struct {
    const char *kind[5];
    size_t kind_len[5];
} Kinds;

typedef struct {
    Col col[NCOLS];
    Prefixes pre;
    Buf odd;   /* uint32 line numbers */
    Buf other; /* uint32 line numbers */
    uint32_t lines;
    char stamp[16]; /* the last stamp read (have_stamp), and its time */
    int have_stamp;
    int stamp_valid;
    int64_t stamp_us;
} Scan;

static void
scan_free(Scan *sc)
{
    for (int i = 0; i < NCOLS; i++) {
        col_free(&sc->col[i]);
    }
    free(sc->pre.slots);
    free(sc->pre.spans.p);
    free(sc->odd.p);
    free(sc->other.p);
}

#define MAX_PIPES 512 /* a full_audit line with more '|' is declined */

/* One line s[0:n] (no '\n'), line number ln. Returns 0 fast, 1 odd, 2 other, -1 memory. */
static int
scan_line(Scan *sc, const char *body, size_t ls, size_t n, uint32_t ln, long year, const Ops *ops,
          const Kinds *kinds)
{
    const char *s = body + ls;
    if (n > 0 && s[0] == '[') {
        return 2; /* parse_line: a log.smbd header candidate, never _full_audit */
    }
    /* one pass: the positions of the '|' (the first MAX_PIPES), any byte >= 0x80 */
    uint32_t pipes[MAX_PIPES];
    size_t np = 0;
    uint64_t high = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        high |= w;
        uint64_t x = w ^ 0x7c7c7c7c7c7c7c7cull; /* a zero byte where w has '|' */
        /* exactly the high bit of each zero byte of x (no carries between bytes) */
        uint64_t z = ~(((x & 0x7f7f7f7f7f7f7f7full) + 0x7f7f7f7f7f7f7f7full) | x | 0x7f7f7f7f7f7f7f7full);
        if (z) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
            while (z) { /* the lowest set bit is the first byte in memory */
                size_t b = i + ((size_t)__builtin_ctzll(z) >> 3);
                if (np < MAX_PIPES) {
                    pipes[np] = (uint32_t)b;
                }
                np++;
                z &= z - 1;
            }
#else
            for (size_t b = i; b < i + 8; b++) {
                if (s[b] == '|') {
                    if (np < MAX_PIPES) {
                        pipes[np] = (uint32_t)b;
                    }
                    np++;
                }
            }
#endif
        }
    }
    for (; i < n; i++) {
        high |= (uint8_t)s[i];
        if (s[i] == '|') {
            if (np < MAX_PIPES) {
                pipes[np] = (uint32_t)i;
            }
            np++;
        }
    }
    if (np > MAX_PIPES || n > UINT32_MAX) { /* too many to keep: classify, and decline */
        return has_audit(s, n) ? 1 : 2;
    }
    /* b"|ok|" in raw or b"|fail" in raw */
    int audit = 0;
    for (size_t k = 0; k < np && !audit; k++) {
        size_t left = n - pipes[k] - 1; /* bytes after the bar */
        const char *bar = s + pipes[k];
        audit = (left >= 3 && bar[1] == 'o' && bar[2] == 'k' && bar[3] == '|') ||
                (left >= 4 && memcmp(bar + 1, "fail", 4) == 0);
    }
    if (!audit) {
        return 2;
    }
    /* from here parse_line calls _full_audit(raw, raw.decode("utf-8", "replace").rstrip("\r\n")) */
    size_t ascii_end = n; /* the first byte >= 0x80 */
    if (high & 0x8080808080808080ull) {
        if (!valid_utf8((const uint8_t *)s, n)) {
            return 1;
        }
        for (ascii_end = 0; ascii_end < n && (uint8_t)s[ascii_end] < 0x80; ascii_end++) {
        }
    }
    size_t te = n;
    while (te > 0 && s[te - 1] == '\r') {
        te--;
    }
    /* colon = text.find("]: "), needed at < 80 */
    size_t colon = SIZE_MAX;
    size_t lim = te < MAX_HEAD + 2 ? te : MAX_HEAD + 2; /* "]: " must end before lim */
    for (size_t j = 0; j + 2 < lim;) {
        const char *br = memchr(s + j, ']', lim - 2 - j);
        if (br == NULL) {
            break;
        }
        j = (size_t)(br - s);
        if (s[j + 1] == ':' && s[j + 2] == ' ') {
            colon = j;
            break;
        }
        j++;
    }
    /* the head s[0:colon]: fewer than 80 characters, ASCII (so characters are bytes), 16 or more */
    if (colon == SIZE_MAX || colon >= MAX_HEAD || colon >= ascii_end || colon < 16) {
        return 1;
    }
    if (!sc->have_stamp || memcmp(sc->stamp, s, 16) != 0) {
        int valid = 0;
        int64_t us = 0;
        if (!syslog_stamp(s, year, &valid, &us)) {
            return 1;
        }
        memcpy(sc->stamp, s, 16);
        sc->have_stamp = 1;
        sc->stamp_valid = valid;
        sc->stamp_us = us;
    }
    int tvalid = sc->stamp_valid;
    int64_t us = sc->stamp_us;
    /* fields of text[colon+3:te] split on '|' (every pipe is before te): the first
     * MAX_OP_FIELD + 2 of them */
    size_t b0 = colon + 3;
    size_t p0 = 0; /* the first pipe after the head */
    while (p0 < np && pipes[p0] < b0) {
        p0++;
    }
    size_t fs[MAX_OP_FIELD + 2], fe[MAX_OP_FIELD + 2];
    int nf = 0;
    size_t q = b0;
    for (size_t k = p0;; k++) {
        size_t e = k < np ? pipes[k] : te;
        fs[nf] = q;
        fe[nf] = e;
        nf++;
        if (k >= np || nf == MAX_OP_FIELD + 2) {
            break;
        }
        q = e + 1;
    }
    /* nf fields known; more may follow when nf == MAX_OP_FIELD + 2 (then the op range
     * range(1, min(len(fields) - 1, 10)) is 1..9 and field i + 1 <= 10 is known) */
    int op = -1, at = -1;
    for (int i = 1; i + 1 < nf && i <= MAX_OP_FIELD; i++) {
        int k = op_index(ops, s + fs[i], fe[i] - fs[i]);
        if (k < 0) {
            continue;
        }
        size_t rl = fe[i + 1] - fs[i + 1];
        const char *r = s + fs[i + 1];
        if ((rl == 2 && r[0] == 'o' && r[1] == 'k') || (rl >= 4 && memcmp(r, "fail", 4) == 0)) {
            op = k;
            at = i;
            break;
        }
    }
    if (op < 0) {
        return 1; /* _full_audit raises "no vfs operation": parse_line's error path */
    }
    /* it is read here: a record, and an event row for some */
    if (col_u32(&sc->col[COL_FAST_N], ln) < 0) {
        return -1;
    }
    int cat = ops->cat[op];
    const char *status = s + fs[at + 1];
    size_t status_len = fe[at + 1] - fs[at + 1];
    int ok = status_len == 2 && status[0] == 'o' && status[1] == 'k';
    if (cat == C_NONE || (cat != C_CONNECT && !ok)) {
        return 0;
    }
    /* the args: fields at + 2 .. end; field f (f >= 1) starts after pipe p0 + f - 1 */
    size_t a_s[2] = {0, 0}, a_e[2] = {0, 0}, last_s = 0, last_e = 0;
    size_t nargs = 0;
    int writing = 0;
    for (size_t k = p0 + (size_t)at + 1; k < np; k++) {
        size_t q0 = pipes[k] + 1;
        size_t e = k + 1 < np ? pipes[k + 1] : te;
        size_t len = e - q0;
        if (nargs < 2) {
            a_s[nargs] = q0;
            a_e[nargs] = e;
        }
        nargs++;
        last_s = q0;
        last_e = e;
        if ((len == 6 && memcmp(s + q0, "create", 6) == 0) || (len == 9 && memcmp(s + q0, "overwrite", 9) == 0)) {
            writing = 1;
        }
    }
    Col *c = sc->col;
    int64_t code = prefix_code(&sc->pre, body, ls + b0, fs[at] - 1 - b0);
    if (code < 0) {
        return -1;
    }
    int kind = 0;
    switch (cat) {
    case C_CONNECT:
        kind = 0;
        break;
    case C_WRITE:
        kind = 1;
        break;
    case C_RENAME:
        kind = 2;
        break;
    case C_DELETE:
        kind = 3;
        break;
    default: { /* open: mode in ("w", "rw") or "create"/"overwrite" among the args */
        size_t ml = nargs ? a_e[0] - a_s[0] : 0;
        const char *m = s + a_s[0];
        if (nargs && ((ml == 1 && m[0] == 'w') || (ml == 2 && m[0] == 'r' && m[1] == 'w'))) {
            writing = 1;
        }
        kind = writing ? 1 : 4;
    }
    }
    if (col_u32(&c[COL_N], ln) < 0 || col_str(&c[COL_KIND], kinds->kind[kind], kinds->kind_len[kind]) < 0 ||
        col_str2(&c[COL_EVENT_ID], "vfs:", 4, ops->name[op], ops->len[op]) < 0 ||
        col_time(&c[COL_TIME], tvalid, us) < 0 || col_u32(&c[COL_PRE], (uint32_t)code) < 0 ||
        col_str(&c[COL_STATUS], status, status_len) < 0) {
        return -1;
    }
    int r = 0;
    if (cat == C_CONNECT) { /* share = args[0] if args else None */
        r |= nargs ? col_str(&c[COL_CSHARE], s + a_s[0], a_e[0] - a_s[0]) : col_null(&c[COL_CSHARE]);
        r |= col_null(&c[COL_PATH]);
        r |= col_null(&c[COL_NEW]);
    }
    else if (cat == C_RENAME) { /* path = args[0], new = args[1] */
        r |= col_null(&c[COL_CSHARE]);
        r |= nargs ? col_str(&c[COL_PATH], s + a_s[0], a_e[0] - a_s[0]) : col_null(&c[COL_PATH]);
        r |= nargs > 1 ? col_str(&c[COL_NEW], s + a_s[1], a_e[1] - a_s[1]) : col_null(&c[COL_NEW]);
    }
    else { /* path = args[-1] */
        r |= col_null(&c[COL_CSHARE]);
        r |= nargs ? col_str(&c[COL_PATH], s + last_s, last_e - last_s) : col_null(&c[COL_PATH]);
        r |= col_null(&c[COL_NEW]);
    }
    return r < 0 ? -1 : 0;
}

static int
run_scan(Scan *sc, const char *body, size_t n, long year, const Ops *ops, const Kinds *kinds)
{
    size_t ls = 0;
    uint32_t ln = 0;
    while (ls < n) {
        const char *nl = memchr(body + ls, '\n', n - ls);
        size_t le = nl ? (size_t)(nl - body) : n;
        int r = scan_line(sc, body, ls, le - ls, ln, year, ops, kinds);
        if (r < 0) {
            return -1;
        }
        if (r == 1 && buf_put(&sc->odd, &ln, sizeof ln) < 0) {
            return -1;
        }
        if (r == 2 && buf_put(&sc->other, &ln, sizeof ln) < 0) {
            return -1;
        }
        if (ln == UINT32_MAX) {
            return -1;
        }
        ln++;
        ls = le + 1;
    }
    sc->lines = ln;
    return 0;
}

static PyObject *
u32_list(const Buf *b)
{
    size_t count = b->len / sizeof(uint32_t);
    PyObject *list = PyList_New((Py_ssize_t)count);
    if (list == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        uint32_t v;
        memcpy(&v, b->p + i * sizeof v, sizeof v);
        PyObject *o = PyLong_FromUnsignedLong(v);
        if (o == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, o);
    }
    return list;
}

static PyObject *
scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "scan(body, year, ops, cats, kinds)");
        return NULL;
    }
    PyObject *body_obj = args[0], *ops_obj = args[2], *cats_obj = args[3], *kinds_obj = args[4];
    if (!PyBytes_Check(body_obj) || !PyTuple_Check(ops_obj) || !PyBytes_Check(cats_obj) ||
        !PyTuple_Check(kinds_obj) || PyTuple_GET_SIZE(kinds_obj) != 5) {
        PyErr_SetString(PyExc_TypeError, "scan(bytes, int, tuple[str, ...], bytes, tuple of 5 str)");
        return NULL;
    }
    long year = PyLong_AsLong(args[1]);
    if (year == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Ops ops;
    ops.n = (int)PyTuple_GET_SIZE(ops_obj);
    if (ops.n > MAX_OPS || PyBytes_GET_SIZE(cats_obj) != ops.n) {
        PyErr_SetString(PyExc_ValueError, "too many operations, or cats not one per op");
        return NULL;
    }
    for (int i = 0; i < ops.n; i++) {
        Py_ssize_t len;
        const char *name = PyUnicode_Check(PyTuple_GET_ITEM(ops_obj, i))
                               ? PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(ops_obj, i), &len)
                               : NULL;
        if (name == NULL || len == 0 || len > MAX_OP_LEN) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "operations are non-empty str of at most 63 bytes");
            }
            return NULL;
        }
        ops.name[i] = name;
        ops.len[i] = (size_t)len;
        ops.cat[i] = (uint8_t)PyBytes_AS_STRING(cats_obj)[i];
        if (ops.cat[i] > C_NONE) {
            PyErr_SetString(PyExc_ValueError, "category out of range");
            return NULL;
        }
    }
    ops_index(&ops);
    Kinds kinds;
    for (int i = 0; i < 5; i++) {
        Py_ssize_t len;
        PyObject *k = PyTuple_GET_ITEM(kinds_obj, i);
        kinds.kind[i] = PyUnicode_Check(k) ? PyUnicode_AsUTF8AndSize(k, &len) : NULL;
        if (kinds.kind[i] == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "kinds are str");
            }
            return NULL;
        }
        kinds.kind_len[i] = (size_t)len;
    }
    const char *body = PyBytes_AS_STRING(body_obj);
    size_t n = (size_t)PyBytes_GET_SIZE(body_obj);

    Scan sc;
    memset(&sc, 0, sizeof sc);
    int r = 0;
    for (int i = 0; i < NCOLS; i++) {
        r |= col_init(&sc.col[i], COL_TYPES[i]);
    }
    if (r < 0) {
        scan_free(&sc);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    r = run_scan(&sc, body, n, year, &ops, &kinds);
    Py_END_ALLOW_THREADS
    if (r < 0) {
        scan_free(&sc);
        return PyErr_NoMemory();
    }
    PyObject *odd = NULL, *other = NULL, *cols = NULL, *prefixes = NULL, *result = NULL;
    odd = u32_list(&sc.odd);
    other = u32_list(&sc.other);
    cols = PyList_New(0);
    prefixes = PyList_New((Py_ssize_t)sc.pre.count);
    if (odd == NULL || other == NULL || cols == NULL || prefixes == NULL) {
        goto done;
    }
    for (size_t i = 0; i < sc.pre.count; i++) {
        size_t span[2];
        memcpy(span, sc.pre.spans.p + i * sizeof span, sizeof span);
        PyObject *text = PyUnicode_DecodeUTF8(body + span[0], (Py_ssize_t)span[1], "strict");
        if (text == NULL) {
            goto done;
        }
        PyList_SET_ITEM(prefixes, (Py_ssize_t)i, text);
    }
    for (int i = 0; i < NCOLS; i++) {
        PyObject *item = export_col(&sc.col[i], COL_NAMES[i]);
        if (item == NULL) {
            goto done;
        }
        int failed = PyList_Append(cols, item);
        Py_DECREF(item);
        if (failed < 0) {
            goto done;
        }
    }
    result = Py_BuildValue("(IOOOO)", sc.lines, odd, other, cols, prefixes);
done:
    Py_XDECREF(odd);
    Py_XDECREF(other);
    Py_XDECREF(cols);
    Py_XDECREF(prefixes);
    scan_free(&sc);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "scan(body, year, ops, cats, kinds) -> (n_lines, odd, other, columns, prefixes)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "smbguard.logs._sambascan",
    "The vfs_full_audit line reader of SambaSource.frames() (see samba.py; Python is the reference).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__sambascan(void)
{
    return PyModule_Create(&module_def);
}
