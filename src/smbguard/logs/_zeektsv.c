/* smbguard.logs._zeektsv: the TSV data-line reader of ZeekSource.frames() in C.
 *
 * scan(data, start, end, sep, unset, fields, names, last, ts_at) reads the lines of data[start:end]
 * (split at "\n" only, as iterating a binary file does; the last line may lack its "\n"),
 * all of them data lines of a Zeek TSV log whose parser state (ZeekSource.sep, .unset,
 * .columns; "#fields" seen, log type known) is fixed, and either TAKES or DECLINES each
 * one (the caller then runs the Python reference, ZeekSource.line, on it). For a taken
 * line the result is exactly what ZeekSource.parse_line reads from it:
 *   - a blank line (only bytes that bytes.strip() removes: " \t\n\r\x0b\x0c") is
 *     counted as a record and gives no row;
 *   - any other line is taken when it does not start with "{" (a JSON line) or "#" (a
 *     header: the caller never passes one), has at least last + 1 fields (ZeekSource.
 *     _max_column, the last column of any wanted name; fewer:
 *     the reference skips it with a warning) and every wanted field is strictly valid
 *     UTF-8 (what Python's decoder accepts without replacement; a sequence Python would
 *     replace declines the line). The line is cut as text.rstrip("\r\n").split(sep):
 *     trailing "\r" bytes are dropped, then the fields are the bytes between "sep" bytes
 *     (sep is one ASCII byte: no UTF-8 sequence contains one, and Python's decoder never
 *     swallows an ASCII byte into a replaced sequence, so splitting bytes and then
 *     decoding is splitting the decoded text). Field fields[i] is key names[i]'s value,
 *     null when it equals unset (bytes of valid UTF-8 are equal exactly when their text
 *     is) or when fields[i] < 0 (the key is not a column).
 * ts_at >= 0: names[ts_at] is ZeekSource's ts; a value written [0-9]{1,10}(\.[0-9]{1,9})?
 * with at most 2^53 - 1 as its digits is converted here (epoch_us) to "_us" (int64
 * micro-seconds since the epoch; that row's ts is then null); any other value is left
 * as text for zeek._emit.
 * Returns (schema capsule, array capsule, declined, lines, blank): the taken non-blank
 * lines as one Arrow struct array (Arrow C data interface: "_i" uint32 = line number,
 * then one large-utf8 column per key, then "_us" when ts_at >= 0) for polars to import, the declined lines as a list
 * of (line number, start, end) with data[start:end] the raw line (with its "\n"), the
 * number of lines and of blank lines. The scan runs without the GIL.
 *
 * Every read is bounded by the line end; output buffers grow with overflow-checked realloc.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <fenv.h>

#define MAX_KEYS 32

#include "_arrow_abi.h" /* the Arrow C data interface structs */

#include "_arrow_export.h" /* Buf, and the Arrow export helpers */

/* ------------------------------------------------------------------------- columns */
typedef struct {
    const char *name;
    Py_ssize_t field; /* the field index, or -1: always null */
    Buf data;         /* the values' UTF-8 bytes */
    Buf offsets;      /* int64 per row + 1 */
    Buf valid;        /* validity bitmap, one bit per row */
    int64_t nulls;
    /* the current line's value */
    const unsigned char *vp;
    size_t vn;
    int vset;
} Column;

/* Whether p[0:n] is strictly valid UTF-8 (what Python's decoder accepts without
 * replacement: no overlong forms, no encoded surrogates, at most U+10FFFF). */
static int
utf8_valid(const unsigned char *p, size_t n)
{
    const unsigned char *end = p + n;
    while (p < end) {
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t len;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) {
                lo = 0xA0;
            } else if (c == 0xED) {
                hi = 0x9F;
            }
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) {
                lo = 0x90;
            } else if (c == 0xF4) {
                hi = 0x8F;
            }
        } else {
            return 0;
        }
        if ((size_t)(end - p) < len || p[1] < lo || p[1] > hi) {
            return 0;
        }
        for (size_t i = 2; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                return 0;
            }
        }
        p += len;
    }
    return 1;
}

static int
ascii(const unsigned char *p, size_t n)
{
    uint64_t any = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        any |= v;
    }
    for (; i < n; i++) {
        any |= p[i];
    }
    return (any & 0x8080808080808080ULL) == 0;
}

/* ZeekSource's ts -> microseconds since the epoch, for a value written
 * [0-9]{1,10}(\.[0-9]{1,9})? (zeek._TS_RX) whose digits, as one integer M, are below
 * 2^53: then M and 10^k are exact doubles and M / 10^k is the correctly rounded value
 * of the decimal, i.e. float(ts) (and polars' cast); the rest is zeek._emit's
 * arithmetic, which is datetime.fromtimestamp's (floor, micro-seconds rounded half to
 * even: nearbyint in the default rounding mode). 0 (not converted) for anything else. */
static const double POW10[10] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

static int
epoch_us(const unsigned char *p, size_t n, int64_t *out)
{
    size_t i = 0, whole = 0, frac = 0;
    uint64_t m = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        m = m * 10 + (uint64_t)(p[i] - '0');
        i++;
        whole++;
        if (whole > 10) {
            return 0;
        }
    }
    if (whole == 0) {
        return 0;
    }
    if (i < n) {
        if (p[i] != '.') {
            return 0;
        }
        i++;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            m = m * 10 + (uint64_t)(p[i] - '0');
            i++;
            frac++;
            if (frac > 9) {
                return 0;
            }
        }
        if (frac == 0 || i < n) {
            return 0;
        }
    }
    if (m >= (1ULL << 53)) {
        return 0;
    }
    double x = frac ? (double)m / POW10[frac] : (double)m;
    double w = floor(x);
    double micro = nearbyint((x - w) * 1e6);
    *out = (int64_t)w * 1000000 + (int64_t)micro;
    return 1;
}


/* The capsules (schema, array) of the struct {_i, cols...}; the buffers are moved. */
static PyObject *
export(Buf *index, Column *cols, int ncols, int64_t rows, Buf *us_valid, Buf *us, int64_t us_nulls)
{
    struct ArrowSchema *schema = calloc(1, sizeof(*schema));
    struct ArrowArray *array = calloc(1, sizeof(*array));
    int n = ncols + 1 + (us != NULL);
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
        int is_us = i == ncols + 1;
        if (i == 0       ? fill_schema(cs, "I", "_i", 0)
            : is_us      ? fill_schema(cs, "l", "_us", ARROW_FLAG_NULLABLE)
                         : fill_schema(cs, "U", cols[i - 1].name, ARROW_FLAG_NULLABLE)) {
            free(cs);
            goto fail;
        }
        schema->children[schema->n_children++] = cs;
        Buf none = {0};
        struct ArrowArray *ca = i == 0 ? new_child(rows, 0, 2, &none, index, &none)
            : is_us ? new_child(rows, us_nulls, 2, us_valid, us, &none)
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

/* limit: the end of the input buffer (a short value is copied as 16 bytes when that
 * many can be read; the data buffer keeps 16 bytes of slack for it) */
static int
append_row(Column *cols, int ncols, int64_t row, const unsigned char *limit)
{
    for (int i = 0; i < ncols; i++) {
        Column *c = &cols[i];
        size_t vn = c->vset ? c->vn : 0;
        if (buf_reserve(&c->data, vn + 16) < 0 || buf_reserve(&c->offsets, sizeof(int64_t)) < 0 ||
            buf_reserve(&c->valid, 1) < 0) {
            return -1;
        }
        if ((row & 7) == 0) {
            c->valid.data[c->valid.len++] = 0;
        }
        if (c->vset) {
            c->valid.data[row >> 3] |= (unsigned char)(1u << (row & 7));
            unsigned char *to = c->data.data + c->data.len;
            if (vn <= 16 && limit - c->vp >= 16) { /* most values: two moves, no call */
                memcpy(to, c->vp, 16);
            } else {
                memcpy(to, c->vp, vn);
            }
            c->data.len += vn;
        } else {
            c->nulls++;
        }
        int64_t off = (int64_t)c->data.len;
        memcpy(c->offsets.data + c->offsets.len, &off, sizeof(off));
        c->offsets.len += sizeof(off);
    }
    return 0;
}

/* Reads one data line p[0:n] (without its "\n"); 1 when taken (the columns' current
 * values set), 0 when declined. */
static int
parse_line(const unsigned char *p, size_t n, unsigned char sep, const unsigned char *unset,
           size_t unset_len, Column *cols, int ncols, Py_ssize_t last,
           const Py_ssize_t *wanted_at, int *which)
{
    while (n && p[n - 1] == '\r') { /* rstrip("\r\n"): the "\n" is already off */
        n--;
    }
    const unsigned char *end = p + n, *q = p;
    for (int i = 0; i < ncols; i++) {
        cols[i].vset = 0;
    }
    /* fields 0..last; field f's value goes to the columns whose field is f */
    for (Py_ssize_t f = 0; f <= last; f++) {
        const unsigned char *e = memchr(q, sep, (size_t)(end - q));
        if (e == NULL) {
            if (f < last) {
                return 0; /* too few fields: the reference skips it and says so */
            }
            e = end;
        }
        if (wanted_at[f] >= 0) {
            size_t len = (size_t)(e - q);
            if (!ascii(q, len) && !utf8_valid(q, len)) {
                return 0; /* Python would replace a byte */
            }
            int set = !(len == unset_len && memcmp(q, unset, len) == 0);
            for (int k = (int)wanted_at[f]; k >= 0; k = which[k]) {
                cols[k].vset = set;
                cols[k].vp = q;
                cols[k].vn = len;
            }
        }
        q = e + 1; /* past the separator (past end only when f == last) */
    }
    return 1;
}

static PyObject *
scan(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer view;
    Py_ssize_t start, stop_at;
    const char *sepb, *unset;
    Py_ssize_t nsep, nunset;
    PyObject *fields, *names;
    Py_ssize_t last;
    int ts_at;
    if (!PyArg_ParseTuple(args, "y*nny#y#O!O!ni:scan", &view, &start, &stop_at, &sepb, &nsep, &unset,
                          &nunset, &PyTuple_Type, &fields, &PyTuple_Type, &names, &last, &ts_at)) {
        return NULL;
    }
    PyObject *result = NULL, *declined_list = NULL, *caps = NULL;
    Column cols[MAX_KEYS];
    int ncols = (int)PyTuple_GET_SIZE(names);
    Buf index = {0}, declined = {0}, us = {0}, us_valid = {0};
    int64_t us_nulls = 0;
    Py_ssize_t *wanted_at = NULL; /* per field: the first column reading it, or -1 */
    int which[MAX_KEYS];          /* per column: the next column reading the same field, or -1 */
    Py_ssize_t most = -1;
    memset(cols, 0, sizeof(cols));
    if (ncols < 1 || ncols > MAX_KEYS || PyTuple_GET_SIZE(fields) != ncols) {
        PyErr_SetString(PyExc_ValueError, "scan: 1 to 32 names, one field index each");
        goto done;
    }
    if (nsep != 1 || (unsigned char)sepb[0] >= 0x80 || sepb[0] == '\n' || sepb[0] == '\r') {
        PyErr_SetString(PyExc_ValueError, "scan: sep must be one ASCII byte other than CR/LF");
        goto done;
    }
    if (start < 0 || start > stop_at || stop_at > view.len) {
        PyErr_SetString(PyExc_ValueError, "scan: need 0 <= start <= end <= len(data)");
        goto done;
    }
    for (int i = 0; i < ncols; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        PyObject *field = PyTuple_GET_ITEM(fields, i);
        if (!PyUnicode_Check(name) || !PyLong_Check(field)) {
            PyErr_SetString(PyExc_TypeError, "scan: names must be str, fields int");
            goto done;
        }
        cols[i].name = PyUnicode_AsUTF8(name);
        if (cols[i].name == NULL) {
            goto done;
        }
        cols[i].field = PyLong_AsSsize_t(field);
        if (cols[i].field == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (cols[i].field < -1 || cols[i].field > 1000000) {
            PyErr_SetString(PyExc_ValueError, "scan: field indexes are -1 to 1000000");
            goto done;
        }
        if (cols[i].field > most) {
            most = cols[i].field;
        }
        int64_t zero = 0;
        if (buf_put(&cols[i].offsets, &zero, sizeof(zero)) < 0) {
            PyErr_NoMemory();
            goto done;
        }
    }
    if (ts_at < -1 || ts_at >= ncols) {
        PyErr_SetString(PyExc_ValueError, "scan: ts_at is -1 or a column");
        goto done;
    }
    int convert = ts_at >= 0 && fegetround() == FE_TONEAREST;
    if (last < most || last > 1000000) {
        PyErr_SetString(PyExc_ValueError, "scan: need max(fields) <= last <= 1000000");
        goto done;
    }
    wanted_at = malloc(sizeof(Py_ssize_t) * (size_t)(last + 1));
    if (wanted_at == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t f = 0; f <= last; f++) {
        wanted_at[f] = -1;
    }
    for (int i = ncols - 1; i >= 0; i--) {
        which[i] = -1;
        if (cols[i].field >= 0) {
            which[i] = (int)wanted_at[cols[i].field];
            wanted_at[cols[i].field] = i;
        }
    }
    const unsigned char *base = view.buf;
    const unsigned char *p = base + start, *stop = base + stop_at;
    const unsigned char sep = (unsigned char)sepb[0];
    int64_t rows = 0, blank = 0;
    uint32_t line = 0;
    int failed = 0; /* 1 out of memory, 2 too many lines */
    Py_BEGIN_ALLOW_THREADS
    while (p < stop) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(stop - p));
        const unsigned char *end = nl ? nl : stop;
        const unsigned char *next = nl ? nl + 1 : stop;
        int taken = 0;
        const unsigned char *q = p; /* blank (what bytes.strip() removes): a record, no row */
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == 0x0B || *q == 0x0C)) {
            q++;
        }
        if (q == end) {
            blank++;
            taken = 1;
        } else if (*p != '{' && *p != '#') {
            if (parse_line(p, (size_t)(end - p), sep, (const unsigned char *)unset, (size_t)nunset,
                           cols, ncols, last, wanted_at, which)) {
                uint32_t at = line;
                int64_t when = 0;
                int has_us = convert && cols[ts_at].vset && epoch_us(cols[ts_at].vp, cols[ts_at].vn, &when);
                if (has_us) {
                    cols[ts_at].vset = 0; /* converted: "_us" holds it, the ts column null */
                }
                if (ts_at >= 0) {
                    if ((rows & 7) == 0) {
                        unsigned char zero = 0;
                        if (buf_put(&us_valid, &zero, 1) < 0) {
                            failed = 1;
                            break;
                        }
                    }
                    if (has_us) {
                        us_valid.data[rows >> 3] |= (unsigned char)(1u << (rows & 7));
                    } else {
                        us_nulls++;
                    }
                    if (buf_put(&us, &when, sizeof(when)) < 0) {
                        failed = 1;
                        break;
                    }
                }
                if (append_row(cols, ncols, rows, base + view.len) < 0 ||
                    buf_put(&index, &at, sizeof(at)) < 0) {
                    failed = 1;
                    break;
                }
                rows++;
                taken = 1;
            }
        }
        if (!taken) {
            Declined d = {line, p - base, next - base};
            if (buf_put(&declined, &d, sizeof(d)) < 0) {
                failed = 1;
                break;
            }
        }
        p = next;
        if (rows == 256 && taken && p < stop) { /* room for the rest, as the first rows go */
            double scale = 1.125 * (double)(stop - base - start) / (double)(p - base - start);
            for (int i = 0; i < ncols && !failed; i++) {
                Buf *bufs[3] = {&cols[i].data, &cols[i].offsets, &cols[i].valid};
                for (int b = 0; b < 3; b++) {
                    if (buf_reserve(bufs[b], (size_t)(scale * (double)bufs[b]->len)) < 0) {
                        failed = 1;
                    }
                }
            }
            Buf *more[3] = {&index, &us, &us_valid};
            for (int b = 0; b < 3 && !failed; b++) {
                if (buf_reserve(more[b], (size_t)(scale * (double)more[b]->len)) < 0) {
                    failed = 1;
                }
            }
            if (failed) {
                break;
            }
        }
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
    caps = export(&index, cols, ncols, rows, ts_at >= 0 ? &us_valid : NULL, ts_at >= 0 ? &us : NULL,
                  us_nulls);
    if (caps == NULL) {
        goto done;
    }
    result = Py_BuildValue("(OOOIL)", PyTuple_GET_ITEM(caps, 0), PyTuple_GET_ITEM(caps, 1),
                           declined_list, line, (long long)blank);
done:
    Py_XDECREF(caps);
    Py_XDECREF(declined_list);
    for (int i = 0; i < MAX_KEYS; i++) {
        free(cols[i].data.data);
        free(cols[i].offsets.data);
        free(cols[i].valid.data);
    }
    free(wanted_at);
    free(index.data);
    free(declined.data);
    free(us.data);
    free(us_valid.data);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(data, start, end, sep, unset, fields, names, last, ts_at) -> (schema capsule, array capsule, declined, "
     "lines, blank)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "smbguard.logs._zeektsv",
    .m_doc = "The TSV data-line reader of ZeekSource.frames() (see _zeektsv.c).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__zeektsv(void)
{
    return PyModule_Create(&module);
}
