/* smbguard.logs._evtxscan: the scanning part of winevent.row_from_xml in C.
 *
 * scan(xml, interesting) reads one rendered <Event> XML document exactly as the
 * Python reference winevent._scan_py does (the str.find fast path of _event_id,
 * the INTERESTING test, dict(_DATA.findall(xml, start)), SystemTime/Channel/Computer
 * by str.find) and returns the same tuple
 *     (event_id, data or None, when_text or None, channel, computer),
 * or None ("decline": the caller runs the Python reference) whenever the input is
 * outside what this code reproduces exactly: the EventID not in the fast form
 * (the regular expression fallback), '&' anywhere (html.unescape), "<UserData>"
 * anywhere, a non-ASCII character where the regular expression's Unicode \s could
 * match, or a str that has no UTF-8 form (lone surrogates).
 *
 * The scan works on the str's UTF-8 bytes: every marker searched for is ASCII and
 * an ASCII byte never occurs inside a multi-byte UTF-8 sequence, so byte offsets of
 * markers correspond one to one to the character offsets of the Python code, and
 * every slice taken between markers is valid UTF-8. Every read is bounded by the
 * length; no fixed-size buffers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* The first occurrence of needle (m > 0 bytes) in s[from:n], or -1 (Python's str.find).
 * Candidates are found with memchr on needle[anchor] (a byte that is rare in event XML,
 * unlike '<'), then compared in full. */
static Py_ssize_t
find_at(const char *s, Py_ssize_t n, Py_ssize_t from, const char *needle, Py_ssize_t m,
        Py_ssize_t anchor)
{
    if (from < 0 || from > n || m > n - from) {
        return -1;
    }
    const char *p = s + from + anchor;     /* where needle[anchor] may first be */
    const char *last = s + n - m + anchor; /* and last be (needle fits) */
    while (p <= last) {
        const char *hit = memchr(p, needle[anchor], (size_t)(last - p) + 1);
        if (hit == NULL) {
            return -1;
        }
        const char *start = hit - anchor; /* >= s + from */
        if (memcmp(start, needle, (size_t)m) == 0) {
            return start - s;
        }
        p = hit + 1;
    }
    return -1;
}

static Py_ssize_t
find(const char *s, Py_ssize_t n, Py_ssize_t from, const char *needle, Py_ssize_t m)
{
    return find_at(s, n, from, needle, m, 0);
}

#define FIND(from, lit) find(s, n, (from), (lit), (Py_ssize_t)(sizeof(lit) - 1))
#define FIND_AT(from, lit, anchor) find_at(s, n, (from), (lit), (Py_ssize_t)(sizeof(lit) - 1), (anchor))

/* Python str.isspace() on an ASCII character (what re's \s matches below 128). */
static int
ascii_space(unsigned char c)
{
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20);
}

/* xml[a:b] as a str. ascii: the document itself when it is all ASCII (then byte offsets are
 * character offsets and the substring is a copy), else NULL and the bytes are decoded. */
static PyObject *
slice(PyObject *ascii, const char *s, Py_ssize_t a, Py_ssize_t b)
{
    if (ascii != NULL) {
        return PyUnicode_Substring(ascii, a, b);
    }
    return PyUnicode_DecodeUTF8(s + a, b - a, NULL);
}

/* Data names repeat from record to record: a small cache of the str objects (ASCII,
 * interned, hash computed once) by their bytes; a slot is replaced on a miss. */
#define KEY_SLOTS 1024
#define KEY_MAX 64
static PyObject *key_cache[KEY_SLOTS];

static PyObject *
key(PyObject *ascii, const char *s, Py_ssize_t a, Py_ssize_t b)
{
    Py_ssize_t len = b - a;
    if (len > KEY_MAX) {
        return slice(ascii, s, a, b);
    }
    const unsigned char *p = (const unsigned char *)s + a;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (Py_ssize_t t = 0; t < len; t++) {
        h = (h ^ p[t]) * 16777619u;
    }
    PyObject **slot = &key_cache[h & (KEY_SLOTS - 1)];
    PyObject *cached = *slot; /* only ASCII str are stored: their data are their UTF-8 bytes */
    if (cached != NULL && PyUnicode_GET_LENGTH(cached) == len &&
        memcmp(PyUnicode_1BYTE_DATA(cached), p, (size_t)len) == 0) {
        Py_INCREF(cached);
        return cached;
    }
    PyObject *made = slice(ascii, s, a, b);
    if (made == NULL || !PyUnicode_IS_ASCII(made)) {
        return made;
    }
    PyUnicode_InternInPlace(&made);
    Py_INCREF(made);
    Py_XSETREF(*slot, made);
    return made;
}

/* The text between open (found at or after from) and the next close after it, or None. */
static PyObject *
element(PyObject *ascii, const char *s, Py_ssize_t n, Py_ssize_t from, const char *open, Py_ssize_t open_len,
        Py_ssize_t anchor, const char *close, Py_ssize_t close_len)
{
    Py_ssize_t i = find_at(s, n, from, open, open_len, anchor);
    if (i >= 0) {
        Py_ssize_t j = find(s, n, i + open_len, close, close_len);
        if (j >= 0) {
            return slice(ascii, s, i + open_len, j);
        }
    }
    Py_RETURN_NONE;
}

/* dict(_DATA.findall(xml, start)) with _DATA the regular expression
 *     <Data Name="([^"]+)"(?:>([^<]*)</Data>|\s* />)      (no blank between * and /)
 * findall tries a match at each occurrence of '<Data Name="'; after a match it goes on
 * at the match's end, after a failed attempt at the next character. A later duplicate
 * name replaces the value and keeps the first position (dict of the pairs).
 * Returns 0 on success, 1 to decline, -1 on a Python error. */
static int
data_pairs(PyObject *ascii, const char *s, Py_ssize_t n, Py_ssize_t start, PyObject *data)
{
    static const char head[] = "<Data Name=\"";
    const Py_ssize_t head_len = (Py_ssize_t)(sizeof(head) - 1);
    Py_ssize_t p = start;
    for (;;) {
        /* usually the next element starts after the blanks that follow the last one */
        Py_ssize_t q = p;
        while (q < n && (s[q] == ' ' || s[q] == '\n' || s[q] == '\r' || s[q] == '\t')) {
            q++;
        }
        if (!(n - q >= head_len && memcmp(s + q, head, (size_t)head_len) == 0)) {
            q = find(s, n, q, head, head_len);
        }
        if (q < 0) {
            return 0;
        }
        Py_ssize_t name = q + head_len;
        const char *quote = memchr(s + name, '"', (size_t)(n - name));
        if (quote == NULL) {
            return 0; /* no '"' after here: no later occurrence can match either */
        }
        Py_ssize_t name_end = quote - s;
        Py_ssize_t value = -1, value_end = -1, after = -1;
        if (name_end > name) { /* [^"]+ : at least one character */
            Py_ssize_t t = name_end + 1;
            if (t < n && s[t] == '>') { /* >([^<]*)</Data> */
                const char *lt = memchr(s + t + 1, '<', (size_t)(n - t - 1));
                if (lt != NULL) {
                    Py_ssize_t l = lt - s;
                    if (n - l >= 7 && memcmp(lt, "</Data>", 7) == 0) {
                        value = t + 1;
                        value_end = l;
                        after = l + 7;
                    }
                }
            }
            else { /* whitespace (\s, zero or more) then "/>" */
                while (t < n && ascii_space((unsigned char)s[t])) {
                    t++;
                }
                if (t < n && (unsigned char)s[t] >= 0x80) {
                    return 1; /* maybe Unicode whitespace (\x85, \xa0, \u2003...): decline */
                }
                if (n - t >= 2 && s[t] == '/' && s[t + 1] == '>') {
                    value = value_end = t; /* the unmatched group: "" */
                    after = t + 2;
                }
            }
        }
        if (after < 0) {
            p = q + 1;
            continue;
        }
        PyObject *name_str = key(ascii, s, name, name_end);
        if (name_str == NULL) {
            return -1;
        }
        PyObject *val = slice(ascii, s, value, value_end);
        if (val == NULL) {
            Py_DECREF(name_str);
            return -1;
        }
        int failed = PyDict_SetItem(data, name_str, val);
        Py_DECREF(name_str);
        Py_DECREF(val);
        if (failed) {
            return -1;
        }
        p = after;
    }
}

/* The data dict, sized for a typical record (4624 has 21 pairs) so that it is not resized
 * three times while filled (_PyDict_NewPresized: CPython's own, used by its BUILD_MAP). */
static PyObject *
new_data_dict(void)
{
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000 && !defined(Py_LIMITED_API)
    return _PyDict_NewPresized(21);
#else
    return PyDict_New();
#endif
}

static PyObject *
scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "scan(xml, interesting) takes exactly 2 arguments");
        return NULL;
    }
    PyObject *xml = args[0], *interesting = args[1];
    if (!PyUnicode_Check(xml)) {
        PyErr_SetString(PyExc_TypeError, "scan: xml must be a str");
        return NULL;
    }
    if (!PyAnySet_Check(interesting)) {
        PyErr_SetString(PyExc_TypeError, "scan: interesting must be a set or frozenset");
        return NULL;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(xml, &n);
    if (s == NULL) { /* lone surrogates: no UTF-8 form; the Python code handles it */
        PyErr_Clear();
        Py_RETURN_NONE;
    }

    /* _event_id's fast path: the first "<EventID", the next ">", the next "</EventID>",
     * ASCII digits between optional " \t\r\n"; anything else is the regex's: decline. */
    Py_ssize_t i = FIND(0, "<EventID");
    if (i < 0) {
        Py_RETURN_NONE;
    }
    Py_ssize_t j = FIND(i + 8, ">");
    if (j < 0) {
        Py_RETURN_NONE;
    }
    Py_ssize_t k = FIND(j, "</EventID>");
    if (k < 0) {
        Py_RETURN_NONE;
    }
    Py_ssize_t a = j + 1, b = k;
    while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r' || s[a] == '\n')) {
        a++;
    }
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r' || s[b - 1] == '\n')) {
        b--;
    }
    if (a == b) {
        Py_RETURN_NONE;
    }
    for (Py_ssize_t t = a; t < b; t++) {
        if (s[t] < '0' || s[t] > '9') {
            Py_RETURN_NONE;
        }
    }
    Py_ssize_t end = k + 10;
    PyObject *event_id = PyUnicode_FromStringAndSize(s + a, b - a);
    if (event_id == NULL) {
        return NULL;
    }
    int wanted = PySet_Contains(interesting, event_id);
    if (wanted < 0) {
        Py_DECREF(event_id);
        return NULL;
    }
    if (!wanted) {
        PyObject *skipped = PyTuple_New(5);
        if (skipped == NULL) {
            Py_DECREF(event_id);
            return NULL;
        }
        PyTuple_SET_ITEM(skipped, 0, event_id);
        for (Py_ssize_t t = 1; t < 5; t++) {
            Py_INCREF(Py_None);
            PyTuple_SET_ITEM(skipped, t, Py_None);
        }
        return skipped;
    }
    if (memchr(s, '&', (size_t)n) != NULL || FIND_AT(0, "<UserData>", 1) >= 0) {
        Py_DECREF(event_id);
        Py_RETURN_NONE; /* html.unescape / UserData elements: the Python code */
    }

    PyObject *ascii = PyUnicode_IS_ASCII(xml) ? xml : NULL;
    PyObject *data = new_data_dict();
    if (data == NULL) {
        Py_DECREF(event_id);
        return NULL;
    }
    Py_ssize_t start = FIND_AT(end, "<EventData", 2);
    int status = data_pairs(ascii, s, n, start < 0 ? end : start, data);
    if (status != 0) {
        Py_DECREF(event_id);
        Py_DECREF(data);
        if (status < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }

    PyObject *when = NULL, *channel = NULL, *computer = NULL;
    i = FIND_AT(end, "SystemTime=\"", 1);
    j = i >= 0 ? FIND(i + 12, "\"") : -1;
    when = j >= 0 ? slice(ascii, s, i + 12, j) : PyUnicode_FromStringAndSize("", 0);
    if (when == NULL) {
        goto error;
    }
    channel = element(ascii, s, n, end, "<Channel>", 9, 2, "</Channel>", 10);
    if (channel == NULL) {
        goto error;
    }
    computer = element(ascii, s, n, end, "<Computer>", 10, 4, "</Computer>", 11);
    if (computer == NULL) {
        goto error;
    }
    PyObject *result = PyTuple_New(5);
    if (result == NULL) {
        goto error;
    }
    PyTuple_SET_ITEM(result, 0, event_id);
    PyTuple_SET_ITEM(result, 1, data);
    PyTuple_SET_ITEM(result, 2, when);
    PyTuple_SET_ITEM(result, 3, channel);
    PyTuple_SET_ITEM(result, 4, computer);
    return result;

error:
    Py_DECREF(event_id);
    Py_DECREF(data);
    Py_XDECREF(when);
    Py_XDECREF(channel);
    Py_XDECREF(computer);
    return NULL;
}

/* str.strip() of value: exact str stripped here (Py_UNICODE_ISSPACE, what str.strip uses),
 * anything else by its own strip method (what the Python code would call). New reference. */
static PyObject *
strip(PyObject *value)
{
    if (!PyUnicode_CheckExact(value)) {
        return PyObject_CallMethod(value, "strip", NULL);
    }
    Py_ssize_t len = PyUnicode_GET_LENGTH(value);
    int kind = PyUnicode_KIND(value);
    const void *chars = PyUnicode_DATA(value);
    Py_ssize_t a = 0, b = len;
    while (a < b && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, chars, a))) {
        a++;
    }
    while (b > a && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, chars, b - 1))) {
        b--;
    }
    if (a == 0 && b == len) {
        Py_INCREF(value);
        return value;
    }
    return PyUnicode_Substring(value, a, b);
}

/* values(data, keys, empty): tuple(winevent._val(data, key) for key in keys), i.e. for each
 * key data.get(key), stripped, None when missing or in empty. */
static PyObject *
values(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "values(data, keys, empty) takes exactly 3 arguments");
        return NULL;
    }
    PyObject *data = args[0], *keys = args[1], *empty = args[2];
    if (!PyTuple_Check(keys)) {
        PyErr_SetString(PyExc_TypeError, "values: keys must be a tuple");
        return NULL;
    }
    if (!PyAnySet_Check(empty)) {
        PyErr_SetString(PyExc_TypeError, "values: empty must be a set or frozenset");
        return NULL;
    }
    int is_dict = PyDict_CheckExact(data); /* a subclass may have its own get() */
    Py_ssize_t count = PyTuple_GET_SIZE(keys);
    PyObject *result = PyTuple_New(count);
    if (result == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *key = PyTuple_GET_ITEM(keys, i);
        PyObject *value; /* new reference, or NULL with an error set, or Py_None */
        if (is_dict) {
            value = PyDict_GetItemWithError(data, key); /* borrowed */
            if (value == NULL && PyErr_Occurred()) {
                goto error;
            }
            Py_XINCREF(value);
        }
        else {
            value = PyObject_CallMethod(data, "get", "O", key);
            if (value == NULL) {
                goto error;
            }
            if (value == Py_None) {
                Py_DECREF(value);
                value = NULL;
            }
        }
        if (value != NULL) {
            PyObject *stripped = strip(value);
            Py_DECREF(value);
            if (stripped == NULL) {
                goto error;
            }
            int is_empty = PySet_Contains(empty, stripped);
            if (is_empty < 0) {
                Py_DECREF(stripped);
                goto error;
            }
            if (is_empty) {
                Py_DECREF(stripped);
                stripped = NULL;
            }
            value = stripped;
        }
        if (value == NULL) {
            Py_INCREF(Py_None);
            value = Py_None;
        }
        PyTuple_SET_ITEM(result, i, value);
    }
    return result;

error:
    Py_DECREF(result); /* unset items are NULL: tuple dealloc skips them */
    return NULL;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "scan(xml, interesting, /)\n--\n\n"
     "The scanning part of winevent.row_from_xml: (event_id, data or None, when_text or None,\n"
     "channel, computer), or None when the Python reference must read this document."},
    {"values", (PyCFunction)(void (*)(void))values, METH_FASTCALL,
     "values(data, keys, empty, /)\n--\n\n"
     "tuple(winevent._val(data, key) for key in keys): each value stripped, None when missing\n"
     "or in empty."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "_evtxscan",
    "C scanner for rendered EVTX event XML (see smbguard.logs.winevent._scan_py, the reference).",
    0,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__evtxscan(void)
{
    return PyModule_Create(&module_def);
}
