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
#include <string.h>

/* The first occurrence of needle (m > 0 bytes) in s[from:n], or -1 (Python's str.find). */
static Py_ssize_t
find(const char *s, Py_ssize_t n, Py_ssize_t from, const char *needle, Py_ssize_t m)
{
    if (from < 0 || from > n || m > n - from) {
        return -1;
    }
    const char *p = s + from;
    const char *last = s + n - m; /* the last position where needle fits */
    if (m == 1) {
        const char *hit = memchr(p, needle[0], (size_t)(last - p) + 1);
        return hit == NULL ? -1 : hit - s;
    }
    /* memchr for the first byte, then the second byte inline, then memcmp: in XML '<'
     * is frequent, and most needles here start with '<' */
    const char first = needle[0], second = needle[1];
    while (p <= last) {
        const char *hit = memchr(p, first, (size_t)(last - p) + 1);
        if (hit == NULL) {
            return -1;
        }
        if (hit[1] == second && memcmp(hit + 2, needle + 2, (size_t)(m - 2)) == 0) {
            return hit - s;
        }
        p = hit + 1;
    }
    return -1;
}

#define FIND(from, lit) find(s, n, (from), (lit), (Py_ssize_t)(sizeof(lit) - 1))

/* Python str.isspace() on an ASCII character (what re's \s matches below 128). */
static int
ascii_space(unsigned char c)
{
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20);
}

static PyObject *
slice(const char *s, Py_ssize_t a, Py_ssize_t b)
{
    return PyUnicode_DecodeUTF8(s + a, b - a, NULL);
}

/* The text between open (found at or after from) and the next close after it, or None. */
static PyObject *
element(const char *s, Py_ssize_t n, Py_ssize_t from, const char *open, Py_ssize_t open_len,
        const char *close, Py_ssize_t close_len)
{
    Py_ssize_t i = find(s, n, from, open, open_len);
    if (i >= 0) {
        Py_ssize_t j = find(s, n, i + open_len, close, close_len);
        if (j >= 0) {
            return slice(s, i + open_len, j);
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
data_pairs(const char *s, Py_ssize_t n, Py_ssize_t start, PyObject *data)
{
    static const char head[] = "<Data Name=\"";
    const Py_ssize_t head_len = (Py_ssize_t)(sizeof(head) - 1);
    Py_ssize_t p = start;
    for (;;) {
        Py_ssize_t q = find(s, n, p, head, head_len);
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
        PyObject *key = slice(s, name, name_end);
        if (key == NULL) {
            return -1;
        }
        PyObject *val = slice(s, value, value_end);
        if (val == NULL) {
            Py_DECREF(key);
            return -1;
        }
        int failed = PyDict_SetItem(data, key, val);
        Py_DECREF(key);
        Py_DECREF(val);
        if (failed) {
            return -1;
        }
        p = after;
    }
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
    if (memchr(s, '&', (size_t)n) != NULL || FIND(0, "<UserData>") >= 0) {
        Py_DECREF(event_id);
        Py_RETURN_NONE; /* html.unescape / UserData elements: the Python code */
    }

    PyObject *data = PyDict_New();
    if (data == NULL) {
        Py_DECREF(event_id);
        return NULL;
    }
    Py_ssize_t start = FIND(end, "<EventData");
    int status = data_pairs(s, n, start < 0 ? end : start, data);
    if (status != 0) {
        Py_DECREF(event_id);
        Py_DECREF(data);
        if (status < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }

    PyObject *when = NULL, *channel = NULL, *computer = NULL;
    i = FIND(end, "SystemTime=\"");
    j = i >= 0 ? FIND(i + 12, "\"") : -1;
    when = j >= 0 ? slice(s, i + 12, j) : PyUnicode_FromStringAndSize("", 0);
    if (when == NULL) {
        goto error;
    }
    channel = element(s, n, end, "<Channel>", 9, "</Channel>", 10);
    if (channel == NULL) {
        goto error;
    }
    computer = element(s, n, end, "<Computer>", 10, "</Computer>", 11);
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

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "scan(xml, interesting, /)\n--\n\n"
     "The scanning part of winevent.row_from_xml: (event_id, data or None, when_text or None,\n"
     "channel, computer), or None when the Python reference must read this document."},
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
