/* smbguard.logs._zeekjson: the JSON-line reader of ZeekSource.frames() in C.
 *
 * scan(data, start, end, keys, modes) reads the lines of data[start:end] (split at "\n" only,
 * as iterating a binary file does; the last line may lack its "\n") and, for each line,
 * either TAKES it or DECLINES it (the caller then runs the Python reference,
 * ZeekSource.line, on it). A line is taken when
 *   - it is blank (only bytes that bytes.strip() removes): the reference counts it as a
 *     record and gives nothing; or
 *   - it starts with "{" and is, as a whole, one JSON object that this code proves
 *     json.loads accepts (strict RFC 8259 grammar, no NaN/Infinity, strings without
 *     control characters, valid escapes, strictly valid UTF-8, no lone surrogate
 *     escape, nesting at most MAX_DEPTH levels, numbers of at most MAX_NUMBER bytes so
 *     that int_max_str_digits cannot refuse them, top-level keys without escapes), and
 *     every wanted top-level key (keys[i]) is missing, null, or has a value whose
 *     meaning to ZeekSource is exact here:
 *       mode 's': a string (given decoded, as json.loads gives it);
 *       mode 't' (ts): a string, or a number written [0-9]{1,10}(\.[0-9]{1,9})?
 *                 (given as written: zeek._emit converts exactly these as a float);
 *       mode 'b' (ntlm success): a string, or true/false (given as "T"/"F", which the
 *                 source treats exactly as json.loads' True/False).
 *     A key given twice: the last value counts, as in json.loads' dict.
 * Everything else (anything the grammar above does not cover, including every line
 * json.loads would refuse) is declined: this code never decides that a line is bad.
 *
 * Returns (schema capsule, array capsule, declined, lines): the taken JSON lines as one
 * Arrow struct array (Arrow C data interface: "_i" uint32 = line number, then one
 * large-utf8 column per key, null where missing/null) for polars to import, the declined
 * lines as a list of (line number, start, end) with data[start:end] the raw line (with
 * its "\n"), and the number of lines. The scan runs without the GIL.
 *
 * Every read is bounded by the line end; nesting uses a fixed stack of MAX_DEPTH
 * entries (no recursion); all output buffers grow with overflow-checked realloc.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 32
#define MAX_DEPTH 64
#define MAX_NUMBER 600 /* bytes; sys.set_int_max_str_digits accepts no limit below 640 */

#include "_arrow_abi.h" /* the Arrow C data interface structs */

#include "_arrow_export.h" /* Buf, and the Arrow export helpers */

/* ------------------------------------------------------------------------- columns */
typedef struct {
    const char *name;
    size_t name_len;
    char mode;                /* 's', 't' or 'b' (see the top comment) */
    Buf data;                 /* the values' UTF-8 bytes */
    Buf offsets;              /* int64 per row + 1 */
    Buf valid;                /* validity bitmap, one bit per row */
    int64_t nulls;
    /* the current line's value */
    const unsigned char *vp;
    size_t vn;
    int vset;
} Column;

/* byte classes inside a JSON string: 0 plain, 1 '"', 2 '\\', 3 control, 4 non-ASCII */
static unsigned char str_class[256];

static void
init_tables(void)
{
    for (int c = 0; c < 256; c++) {
        str_class[c] = c < 0x20 ? 3 : c == '"' ? 1 : c == '\\' ? 2 : c >= 0x80 ? 4 : 0;
    }
}

/* One strictly valid UTF-8 sequence at p (what Python's decoder accepts without
 * replacement: no overlong forms, no encoded surrogates, at most U+10FFFF); the
 * pointer after it, or NULL. */
static const unsigned char *
utf8_char(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) {
            lo = 0xA0;
        } else if (c == 0xED) {
            hi = 0x9F;
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) {
            lo = 0x90;
        } else if (c == 0xF4) {
            hi = 0x8F;
        }
    } else {
        return NULL;
    }
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi) {
        return NULL;
    }
    for (size_t i = 2; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return NULL;
        }
    }
    return p + n;
}

static int
hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            d = c - 'A' + 10;
        } else {
            return -1;
        }
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR 1
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* The high bit of each byte of v that is '"', '\\', below 0x20 or above 0x7F, and maybe
 * of bytes above such a byte (a borrow); so the lowest flagged byte is always one. */
static inline uint64_t
special_bytes(uint64_t v)
{
    uint64_t q = v ^ (ONES * '"'), b = v ^ (ONES * '\\');
    return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((v - ONES * 0x20) & ~v) | v) & HIGHS;
}
#endif

/* A JSON string whose opening quote is at p[-1]: the pointer after its closing quote,
 * or NULL (invalid, or a lone surrogate escape: declined). *escaped is set when it
 * holds an escape. */
static const unsigned char *
scan_string(const unsigned char *p, const unsigned char *end, int *escaped)
{
    *escaped = 0;
    while (p < end) {
#ifdef SWAR
        while (end - p >= 8) { /* 8 plain bytes at a time, up to the next other one */
            uint64_t v;
            memcpy(&v, p, 8);
            uint64_t m = special_bytes(v);
            if (m) {
                p += __builtin_ctzll(m) >> 3;
                break;
            }
            p += 8;
        }
        if (p >= end) {
            break;
        }
#endif
        switch (str_class[*p]) {
        case 0:
            p++;
            continue;
        case 1:
            return p + 1;
        case 3:
            return NULL;
        case 4:
            p = utf8_char(p, end);
            if (p == NULL) {
                return NULL;
            }
            continue;
        default: /* '\\' */
            *escaped = 1;
            if (end - p < 2) {
                return NULL;
            }
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                continue;
            case 'u': {
                unsigned u, u2;
                if (end - p < 6 || hex4(p + 2, &u) < 0) {
                    return NULL;
                }
                p += 6;
                if (u >= 0xDC00 && u <= 0xDFFF) {
                    return NULL; /* lone low surrogate */
                }
                if (u >= 0xD800 && u <= 0xDBFF) { /* only a high-low pair */
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &u2) < 0
                        || u2 < 0xDC00 || u2 > 0xDFFF) {
                        return NULL;
                    }
                    p += 6;
                }
                continue;
            }
            default:
                return NULL;
            }
        }
    }
    return NULL;
}

/* The content of a string scan_string accepted (between the quotes), unescaped as
 * json.loads does, into out (at most n bytes: an escape never decodes longer). */
static size_t
decode_string(const unsigned char *p, const unsigned char *end, unsigned char *out)
{
    unsigned char *o = out;
    while (p < end) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        unsigned char c = p[1];
        p += 2;
        switch (c) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned u, u2;
            hex4(p, &u);
            p += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                hex4(p + 2, &u2);
                p += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00);
            }
            if (u < 0x80) {
                *o++ = (unsigned char)u;
            } else if (u < 0x800) {
                *o++ = (unsigned char)(0xC0 | u >> 6);
                *o++ = (unsigned char)(0x80 | (u & 0x3F));
            } else if (u < 0x10000) {
                *o++ = (unsigned char)(0xE0 | u >> 12);
                *o++ = (unsigned char)(0x80 | (u >> 6 & 0x3F));
                *o++ = (unsigned char)(0x80 | (u & 0x3F));
            } else {
                *o++ = (unsigned char)(0xF0 | u >> 18);
                *o++ = (unsigned char)(0x80 | (u >> 12 & 0x3F));
                *o++ = (unsigned char)(0x80 | (u >> 6 & 0x3F));
                *o++ = (unsigned char)(0x80 | (u & 0x3F));
            }
            break;
        }
        default: /* '"', '\\', '/' */
            *o++ = c;
        }
    }
    return (size_t)(o - out);
}

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')

/* A JSON number at p: the pointer after it, or NULL (not RFC 8259, or longer than
 * MAX_NUMBER). *plain_ts: it is written [0-9]{1,10}(\.[0-9]{1,9})?. */
static const unsigned char *
scan_number(const unsigned char *p, const unsigned char *end, int *plain_ts)
{
    const unsigned char *start = p;
    int neg = 0, int_digits, frac_digits = -1, exp = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end) {
        return NULL;
    }
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && IS_DIGIT(*p)) {
            p++;
        }
    } else {
        return NULL;
    }
    int_digits = (int)(p - start - neg);
    if (p < end && *p == '.') {
        const unsigned char *f = ++p;
        while (p < end && IS_DIGIT(*p)) {
            p++;
        }
        if (p == f) {
            return NULL;
        }
        frac_digits = (int)(p - f);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        exp = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        const unsigned char *e = p;
        while (p < end && IS_DIGIT(*p)) {
            p++;
        }
        if (p == e) {
            return NULL;
        }
    }
    if (p - start > MAX_NUMBER) {
        return NULL;
    }
    *plain_ts = !neg && !exp && int_digits <= 10 && frac_digits <= 9;
    return p;
}

static const unsigned char *
scan_literal(const unsigned char *p, const unsigned char *end, const char *word, size_t n)
{
    if ((size_t)(end - p) < n || memcmp(p, word, n) != 0) {
        return NULL;
    }
    return p + n;
}

#define WS(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')
#define SKIP_WS()                   \
    while (p < end && WS(*p)) { \
        p++;                        \
    }

/* One line (p[0] == '{', no "\n" in it): 1 taken (the columns' current values set),
 * 0 declined. scratch holds at least end - p bytes (decoded wanted strings). */
static int
parse_line(const unsigned char *p, const unsigned char *end, Column *cols, int ncols,
           unsigned char *scratch)
{
    char stack[MAX_DEPTH];
    int sp = 0;
    int escaped, plain;
    const unsigned char *q;
    for (int i = 0; i < ncols; i++) {
        cols[i].vset = 0;
    }
    stack[sp++] = '{';
    p++;
    SKIP_WS();
    if (p < end && *p == '}') {
        p++;
        sp--;
        goto after_value;
    }
key:
    if (p >= end || *p != '"') {
        return 0;
    }
    q = scan_string(p + 1, end, &escaped);
    if (q == NULL) {
        return 0;
    }
    {
        Column *want = NULL;
        if (sp == 1) { /* a top-level key: is it wanted? */
            if (escaped) {
                return 0;
            }
            size_t n = (size_t)(q - p - 2);
            for (int i = 0; i < ncols; i++) {
                if (cols[i].name_len == n && (n == 0 || cols[i].name[n - 1] == p[n])
                    && memcmp(cols[i].name, p + 1, n) == 0) {
                    want = &cols[i];
                    break;
                }
            }
        }
        p = q;
        SKIP_WS();
        if (p >= end || *p != ':') {
            return 0;
        }
        p++;
        SKIP_WS();
        if (want == NULL) {
            goto value;
        }
        if (p >= end) {
            return 0;
        }
        if (*p == '"') {
            q = scan_string(p + 1, end, &escaped);
            if (q == NULL) {
                return 0;
            }
            if (escaped) {
                want->vn = decode_string(p + 1, q - 1, scratch);
                want->vp = scratch;
                scratch += want->vn;
            } else {
                want->vp = p + 1;
                want->vn = (size_t)(q - p - 2);
            }
            want->vset = 1;
        } else if (*p == 'n') {
            q = scan_literal(p, end, "null", 4);
            if (q == NULL) {
                return 0;
            }
            want->vset = 0;
        } else if (want->mode == 'b' && (*p == 't' || *p == 'f')) {
            int yes = *p == 't';
            q = yes ? scan_literal(p, end, "true", 4) : scan_literal(p, end, "false", 5);
            if (q == NULL) {
                return 0;
            }
            want->vp = (const unsigned char *)(yes ? "T" : "F");
            want->vn = 1;
            want->vset = 1;
        } else if (want->mode == 't' && IS_DIGIT(*p)) {
            q = scan_number(p, end, &plain);
            if (q == NULL || !plain) {
                return 0;
            }
            want->vp = p;
            want->vn = (size_t)(q - p);
            want->vset = 1;
        } else {
            return 0; /* a value whose str() differs from its text here */
        }
        p = q;
        goto after_value;
    }
value:
    if (p >= end) {
        return 0;
    }
    switch (*p) {
    case '"':
        p = scan_string(p + 1, end, &escaped);
        break;
    case '{':
    case '[':
        if (sp >= MAX_DEPTH) {
            return 0;
        }
        stack[sp++] = (char)*p;
        p++;
        SKIP_WS();
        if (stack[sp - 1] == '{') {
            if (p < end && *p == '}') {
                p++;
                sp--;
                goto after_value;
            }
            goto key;
        }
        if (p < end && *p == ']') {
            p++;
            sp--;
            goto after_value;
        }
        goto value;
    case 't':
        p = scan_literal(p, end, "true", 4);
        break;
    case 'f':
        p = scan_literal(p, end, "false", 5);
        break;
    case 'n':
        p = scan_literal(p, end, "null", 4);
        break;
    default:
        p = scan_number(p, end, &plain);
    }
    if (p == NULL) {
        return 0;
    }
after_value:
    SKIP_WS();
    if (sp == 0) {
        return p == end; /* only JSON whitespace after the object */
    }
    if (p >= end) {
        return 0;
    }
    if (*p == ',') {
        p++;
        SKIP_WS();
        if (stack[sp - 1] == '{') {
            goto key;
        }
        goto value;
    }
    if (*p == (stack[sp - 1] == '{' ? '}' : ']')) {
        p++;
        sp--;
        goto after_value;
    }
    return 0;
}


/* The capsules (schema, array) of the struct {_i, cols...}; the buffers are moved. */
static PyObject *
export(Buf *index, Column *cols, int ncols, int64_t rows)
{
    struct ArrowSchema *schema = calloc(1, sizeof(*schema));
    struct ArrowArray *array = calloc(1, sizeof(*array));
    int n = ncols + 1;
    if (schema == NULL || array == NULL) {
        goto fail;
    }
    schema->format = "+s";
    schema->name = "";
    schema->release = release_schema;
    schema->children = calloc((size_t)n, sizeof(void *));
    array->release = release_array;
    array->length = rows;
    array->n_buffers = 1;
    array->buffers = calloc(1, sizeof(void *));
    array->children = calloc((size_t)n, sizeof(void *));
    if (schema->children == NULL || array->buffers == NULL || array->children == NULL) {
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        struct ArrowSchema *cs = malloc(sizeof(*cs));
        if (cs == NULL) {
            goto fail;
        }
        if (i == 0 ? fill_schema(cs, "I", "_i", 0)
                   : fill_schema(cs, "U", cols[i - 1].name, ARROW_FLAG_NULLABLE)) {
            free(cs);
            goto fail;
        }
        schema->children[schema->n_children++] = cs;
        Buf none = {0};
        struct ArrowArray *ca = i == 0
            ? new_child(rows, 0, 2, &none, index, &none)
            : new_child(rows, cols[i - 1].nulls, 3, &cols[i - 1].valid, &cols[i - 1].offsets,
                        &cols[i - 1].data);
        if (ca == NULL) {
            goto fail;
        }
        array->children[array->n_children++] = ca;
    }
    return export_capsules(schema, array, 1);
fail:
    return export_capsules(schema, array, 0);
}

/* ------------------------------------------------------------------------ scan() */
typedef struct {
    uint32_t line;
    Py_ssize_t start, end;
} Declined;

static int
append_row(Column *cols, int ncols, int64_t row)
{
    for (int i = 0; i < ncols; i++) {
        Column *c = &cols[i];
        if ((row & 7) == 0) {
            unsigned char zero = 0;
            if (buf_put(&c->valid, &zero, 1) < 0) {
                return -1;
            }
        }
        if (c->vset) {
            c->valid.data[row >> 3] |= (unsigned char)(1u << (row & 7));
            if (buf_put(&c->data, c->vp, c->vn) < 0) {
                return -1;
            }
        } else {
            c->nulls++;
        }
        int64_t off = (int64_t)c->data.len;
        if (buf_put(&c->offsets, &off, sizeof(off)) < 0) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
scan(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer view;
    Py_ssize_t start, stop_at;
    PyObject *keys;
    const char *modes;
    Py_ssize_t nmodes;
    if (!PyArg_ParseTuple(args, "y*nnO!y#:scan", &view, &start, &stop_at, &PyTuple_Type, &keys, &modes,
                          &nmodes)) {
        return NULL;
    }
    PyObject *result = NULL, *declined_list = NULL, *caps = NULL;
    Column cols[MAX_KEYS];
    int ncols = (int)PyTuple_GET_SIZE(keys);
    Buf index = {0}, scratch = {0}, declined = {0};
    memset(cols, 0, sizeof(cols));
    if (ncols > MAX_KEYS || nmodes != ncols) {
        PyErr_SetString(PyExc_ValueError, "scan: at most 32 keys, one mode each");
        goto done;
    }
    if (start < 0 || start > stop_at || stop_at > view.len) {
        PyErr_SetString(PyExc_ValueError, "scan: need 0 <= start <= end <= len(data)");
        goto done;
    }
    for (int i = 0; i < ncols; i++) {
        PyObject *key = PyTuple_GET_ITEM(keys, i);
        Py_ssize_t n;
        if (!PyUnicode_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "scan: keys must be str");
            goto done;
        }
        cols[i].name = PyUnicode_AsUTF8AndSize(key, &n);
        if (cols[i].name == NULL) {
            goto done;
        }
        if (modes[i] != 's' && modes[i] != 't' && modes[i] != 'b') {
            PyErr_SetString(PyExc_ValueError, "scan: modes are 's', 't' or 'b'");
            goto done;
        }
        cols[i].name_len = (size_t)n;
        cols[i].mode = modes[i];
        int64_t zero = 0;
        if (buf_put(&cols[i].offsets, &zero, sizeof(zero)) < 0) {
            PyErr_NoMemory();
            goto done;
        }
    }
    const unsigned char *base = view.buf;
    const unsigned char *p = base + start, *stop = base + stop_at;
    int64_t rows = 0;
    uint32_t line = 0;
    int failed = 0; /* 1 out of memory, 2 too many lines */
    Py_BEGIN_ALLOW_THREADS
    while (p < stop) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(stop - p));
        const unsigned char *end = nl ? nl : stop;
        const unsigned char *next = nl ? nl + 1 : stop;
        int taken = 0;
        if (*p == '{') {
            if (scratch.cap < (size_t)(end - p) && buf_reserve(&scratch, (size_t)(end - p)) < 0) {
                failed = 1;
                break;
            }
            if (parse_line(p, end, cols, ncols, scratch.data)) {
                uint32_t at = line;
                if (append_row(cols, ncols, rows) < 0 || buf_put(&index, &at, sizeof(at)) < 0) {
                    failed = 1;
                    break;
                }
                rows++;
                taken = 1;
            }
        } else {
            const unsigned char *q = p;
            while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == 0x0B || *q == 0x0C)) {
                q++;
            }
            taken = q == end; /* blank: counted, no event */
        }
        if (!taken) {
            Declined d = {line, p - base, next - base};
            if (buf_put(&declined, &d, sizeof(d)) < 0) {
                failed = 1;
                break;
            }
        }
        p = next;
        if (line == UINT32_MAX) {
            failed = 2;
            break;
        }
        line++;
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        if (failed == 1) {
            PyErr_NoMemory();
        } else {
            PyErr_SetString(PyExc_ValueError, "scan: too many lines");
        }
        goto done;
    }
    size_t nd = declined.len / sizeof(Declined);
    declined_list = PyList_New((Py_ssize_t)nd);
    if (declined_list == NULL) {
        goto done;
    }
    for (size_t i = 0; i < nd; i++) {
        Declined *d = (Declined *)declined.data + i;
        PyObject *item = Py_BuildValue("(Inn)", d->line, d->start, d->end);
        if (item == NULL) {
            goto done;
        }
        PyList_SET_ITEM(declined_list, (Py_ssize_t)i, item);
    }
    caps = export(&index, cols, ncols, rows);
    if (caps == NULL) {
        goto done;
    }
    result = Py_BuildValue("(OOOI)", PyTuple_GET_ITEM(caps, 0), PyTuple_GET_ITEM(caps, 1),
                           declined_list, line);
done:
    Py_XDECREF(caps);
    Py_XDECREF(declined_list);
    for (int i = 0; i < MAX_KEYS; i++) {
        free(cols[i].data.data);
        free(cols[i].offsets.data);
        free(cols[i].valid.data);
    }
    free(index.data);
    free(scratch.data);
    free(declined.data);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(data, start, end, keys, modes) -> (schema capsule, array capsule, declined, lines)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "smbguard.logs._zeekjson",
    .m_doc = "The JSON-line reader of ZeekSource.frames() (see _zeekjson.c).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__zeekjson(void)
{
    init_tables();
    return PyModule_Create(&module);
}
