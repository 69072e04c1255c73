/* smbguard.logs._pcapscan: the per-packet loops of the fast capture path in C.
 *
 * The Python code stays the readable reference: each function here does exactly what a
 * named Python loop does on the packets it takes, and hands back (declines) every packet
 * it cannot prove it handles identically; the Python loop then runs on that packet.
 *
 * records(block, pos, big, starts, ends) -> (pos, bad)
 *     The record loop of pcapfile.pcap_records: from ``pos``, while 16 bytes of a record
 *     header remain, read its captured length; a length above MAX_RECORD stops the loop
 *     (bad = that length, else -1); a record cut by the end of the block stops it too.
 *     Appends each whole record's frame start and end to ``starts``/``ends``.
 *
 * epb(buf, pos, iface, big, starts, ends) -> pos
 *     The hot loop of pcapfile.pcapng_runs: consecutive whole Enhanced Packet Blocks of
 *     interface ``iface`` (-1: none) with lengths the general code would accept.
 *
 * advance(block, starts, ends, i, index, ports, stamp, quiet, analyzer) -> i
 *     The packet loop of CaptureAnalyzer._fast_events on an Ethernet run, from packet i,
 *     for the packets that loop handles without producing anything: ARP and IPv4 that is
 *     not TCP, pure ACKs, packets of no SMB port, in-order segments inside a skipped body
 *     (``skip``) or before a held message (``until``), and segments that are exactly one
 *     quiet SMB2 message (counted; the server's first/last time kept). Returns the index
 *     of the first packet it does not take (the caller runs its Python body on it, then
 *     calls again with the next index), or len(ends). Nothing is changed for a packet
 *     that is declined. ``stamp``: (kind, big, scale) of the run's timestamps (kind 1:
 *     pcap seconds + fraction * scale, 2: pcapng 64-bit count * scale, 0: unknown, then
 *     whole messages are declined); ``quiet``: 256 bytes, bit 1 for SMB2 commands that
 *     are not decoded, bit 2 for those whose responses only need a good header.
 *
 * Every read is bounded by the block; Python values are read with type checks and
 * declined when they are not what the Python code puts there.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

#define MAX_RECORD (1 << 24)
#define MAX_BLOCK (1 << 26)
#define HEAD_BYTES 24
#define SYN 0x02
#define RST 0x04
#define SMB2_PROTOCOL 0x424d53feu /* b"\xfeSMB" read little-endian */

static PyObject *s_next_seq, *s_skip, *s_until, *s_synced, *s_ooo, *s_msg_len, *s_header, *s_cap;
static PyObject *s_state, *s_first, *s_last, *s_smb_messages, *s_smb_bytes, *s_chain_file;
static PyObject *s_pending, *s_trees, *s_files, *s_written, *s_name, *s_create_options, *s_create, *two;

/* Attribute access by slot: the objects are instances of slotted dataclasses (Direction,
 * _Flow, _Server); for such a type the attribute is a member descriptor (T_OBJECT_EX) and
 * PyObject_GetAttr/SetAttr read/write the object's slot through it. The slot's offset is
 * looked up once per type; any other type (no slot of that name, a custom __getattr__ or
 * __setattr__) takes PyObject_GetAttr/SetAttr. Same values, same reference handling. */
typedef struct {
    PyObject **name;
    PyTypeObject *type; /* the type the offset belongs to (strong reference) */
    Py_ssize_t offset;  /* -1: PyObject_GetAttr/SetAttr */
} field_t;

#define FIELD(n) static field_t f_##n = {&s_##n, NULL, -1};
FIELD(next_seq)
FIELD(skip)
FIELD(until)
FIELD(synced)
FIELD(ooo)
FIELD(msg_len)
FIELD(header)
FIELD(cap)
FIELD(state)
FIELD(first)
FIELD(last)
FIELD(smb_messages)
FIELD(smb_bytes)
FIELD(chain_file)
FIELD(pending)
FIELD(trees)
FIELD(files)
FIELD(written)
FIELD(name)
FIELD(create_options)

static PyObject **
field_addr(PyObject *obj, field_t *f)
{
    PyTypeObject *t = Py_TYPE(obj);
    if (t != f->type) {
        Py_ssize_t offset = -1;
        PyObject *descr = _PyType_Lookup(t, *f->name); /* borrowed */
        if (descr != NULL && Py_IS_TYPE(descr, &PyMemberDescr_Type) && t->tp_getattro == PyObject_GenericGetAttr &&
            t->tp_setattro == PyObject_GenericSetAttr) {
            PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
            if (member->type == T_OBJECT_EX && !(member->flags & READONLY))
                offset = member->offset;
        }
        Py_INCREF(t);
        Py_XSETREF(f->type, t);
        f->offset = offset;
    }
    return f->offset >= 0 ? (PyObject **)((char *)obj + f->offset) : NULL;
}

/* PyObject_GetAttr(obj, name): a new reference, or NULL with an exception. */
static PyObject *
fget(PyObject *obj, field_t *f)
{
    PyObject **addr = field_addr(obj, f);
    if (addr != NULL && *addr != NULL)
        return Py_NewRef(*addr);
    return PyObject_GetAttr(obj, *f->name); /* an unset slot raises AttributeError there */
}

/* PyObject_SetAttr(obj, name, value). */
static int
fset(PyObject *obj, field_t *f, PyObject *value)
{
    PyObject **addr = field_addr(obj, f);
    if (addr == NULL)
        return PyObject_SetAttr(obj, *f->name, value);
    Py_XSETREF(*addr, Py_NewRef(value));
    return 0;
}

static inline uint32_t
be16(const unsigned char *p)
{
    return ((uint32_t)p[0] << 8) | p[1];
}

static inline uint32_t
be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint32_t
le32(const unsigned char *p)
{
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

static inline uint32_t
u32(const unsigned char *p, int big)
{
    return big ? be32(p) : le32(p);
}

static int
append2(PyObject *starts, PyObject *ends, long long start, long long end)
{
    PyObject *a = PyLong_FromLongLong(start);
    if (a == NULL)
        return -1;
    int rc = PyList_Append(starts, a);
    Py_DECREF(a);
    if (rc < 0)
        return -1;
    PyObject *b = PyLong_FromLongLong(end);
    if (b == NULL)
        return -1;
    rc = PyList_Append(ends, b);
    Py_DECREF(b);
    return rc;
}

static PyObject *
records(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos;
    int big;
    PyObject *starts, *ends;
    if (!PyArg_ParseTuple(args, "y*npO!O!", &view, &pos, &big, &PyList_Type, &starts, &PyList_Type, &ends))
        return NULL;
    const unsigned char *buf = view.buf;
    Py_ssize_t stop = view.len;
    long long bad = -1;
    if (pos < 0)
        pos = stop; /* nothing to read */
    while (stop - pos >= 16) {
        uint32_t incl = u32(buf + pos + 8, big);
        if (incl > MAX_RECORD) {
            bad = incl;
            break;
        }
        Py_ssize_t end = pos + 16 + (Py_ssize_t)incl;
        if (end > stop)
            break;
        if (append2(starts, ends, pos + 16, end) < 0) {
            PyBuffer_Release(&view);
            return NULL;
        }
        pos = end;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("nL", pos, bad);
}

static PyObject *
epb(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos;
    long long iface;
    int big;
    PyObject *starts, *ends;
    if (!PyArg_ParseTuple(args, "y*nLpO!O!", &view, &pos, &iface, &big, &PyList_Type, &starts, &PyList_Type,
                          &ends))
        return NULL;
    const unsigned char *buf = view.buf;
    Py_ssize_t stop = view.len;
    if (pos < 0)
        pos = stop;
    while (stop - pos >= 32) {
        const unsigned char *p = buf + pos;
        long long btype = u32(p, big), length = u32(p + 4, big), iface_id = u32(p + 8, big);
        long long cap_len = u32(p + 20, big);
        if (btype != 6 || iface_id != iface || length > stop - pos || length % 4 || cap_len > length - 32 ||
            length > MAX_BLOCK)
            break;
        if (append2(starts, ends, pos + 28, pos + 28 + cap_len) < 0) {
            PyBuffer_Release(&view);
            return NULL;
        }
        pos += length;
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(pos);
}

/* An int attribute of a Python object as a long long: 0 on success, 1 when it is not an int
 * that fits (declined), -1 on error. */
static int
get_ll(PyObject *obj, field_t *name, long long *out)
{
    PyObject *v = fget(obj, name);
    if (v == NULL)
        return -1;
    if (!PyLong_CheckExact(v) && !PyBool_Check(v)) {
        Py_DECREF(v);
        return 1;
    }
    int overflow = 0;
    *out = PyLong_AsLongLongAndOverflow(v, &overflow);
    Py_DECREF(v);
    if (*out == -1 && PyErr_Occurred())
        return -1;
    return overflow ? 1 : 0;
}

static int
set_ll(PyObject *obj, field_t *name, long long value)
{
    PyObject *v = PyLong_FromLongLong(value);
    if (v == NULL)
        return -1;
    int rc = fset(obj, name, v);
    Py_DECREF(v);
    return rc;
}

/* The state of a Direction the in-order test reads. */
typedef struct {
    long long next_seq, skip, until, msg_len, cap;
    int header_empty;
} dstate;

/* The first part of the in-order test: 0 when next_seq is an int, the direction is synced
 * and no out-of-order segment waits (then next_seq and skip are read); 1: declined (next_seq
 * None, not synced, segments waiting, values of unexpected types); -1: error. */
static int
read_direction(PyObject *d, dstate *s)
{
    int rc;
    PyObject *v = fget(d, &f_next_seq);
    if (v == NULL)
        return -1;
    if (!PyLong_CheckExact(v)) { /* None: capture started mid-connection, not yet seen */
        Py_DECREF(v);
        return 1;
    }
    int overflow = 0;
    s->next_seq = PyLong_AsLongLongAndOverflow(v, &overflow);
    Py_DECREF(v);
    if (s->next_seq == -1 && PyErr_Occurred())
        return -1;
    if (overflow)
        return 1;
    v = fget(d, &f_synced);
    if (v == NULL)
        return -1;
    rc = v == Py_True;
    Py_DECREF(v);
    if (!rc)
        return 1;
    v = fget(d, &f_ooo);
    if (v == NULL)
        return -1;
    rc = PyDict_CheckExact(v) && PyDict_GET_SIZE(v) == 0;
    Py_DECREF(v);
    if (!rc)
        return 1;
    return get_ll(d, &f_skip, &s->skip);
}

/* The rest of the state the in-order test reads (until, msg_len, header, cap): same codes. */
static int
read_direction_rest(PyObject *d, dstate *s)
{
    int rc;
    if ((rc = get_ll(d, &f_until, &s->until)) != 0)
        return rc;
    if ((rc = get_ll(d, &f_msg_len, &s->msg_len)) != 0)
        return rc;
    if ((rc = get_ll(d, &f_cap, &s->cap)) != 0)
        return rc;
    PyObject *v = fget(d, &f_header);
    if (v == NULL)
        return -1;
    rc = PyBytes_CheckExact(v);
    s->header_empty = rc && PyBytes_GET_SIZE(v) == 0;
    Py_DECREF(v);
    return rc ? 0 : 1;
}

/* server.first/.last as Python's "if x is None or ts < x: x = ts" (and > for last);
 * 1 when a value is not a float or None (declined, nothing changed), -1 on error. */
static int
server_times_ok(PyObject *server)
{
    field_t *names[2] = {&f_first, &f_last};
    for (int k = 0; k < 2; k++) {
        PyObject *v = fget(server, names[k]);
        if (v == NULL)
            return -1;
        int ok = v == Py_None || PyFloat_CheckExact(v);
        Py_DECREF(v);
        if (!ok)
            return 1;
    }
    return 0;
}

static int
see(PyObject *server, double ts)
{
    field_t *names[2] = {&f_first, &f_last};
    PyObject *value = NULL;
    for (int k = 0; k < 2; k++) {
        PyObject *v = fget(server, names[k]);
        if (v == NULL)
            goto error;
        int replace = v == Py_None || (k == 0 ? ts < PyFloat_AS_DOUBLE(v) : ts > PyFloat_AS_DOUBLE(v));
        Py_DECREF(v);
        if (replace) {
            if (value == NULL && (value = PyFloat_FromDouble(ts)) == NULL)
                goto error;
            if (fset(server, names[k], value) < 0)
                goto error;
        }
    }
    Py_XDECREF(value);
    return 0;
error:
    Py_XDECREF(value);
    return -1;
}

/* pcap: sec + frac * scale; pcapng: ((hi << 32) | lo) * scale, as Python computes them
 * (int to double conversions are exact or correctly rounded in both; no fused multiply-add:
 * the product is stored first). */
static double
stamp_of(const unsigned char *p, int kind, int big, double scale)
{
    uint32_t a = u32(p, big), b = u32(p + 4, big);
    if (kind == 1) {
        volatile double product = (double)b * scale;
        return (double)a + product;
    }
    uint64_t count = ((uint64_t)a << 32) | b;
    volatile double product = (double)count * scale;
    return product;
}

/* Parameters of the message rules (from capture.py, so that nothing is written twice). */
typedef struct {
    PyObject *create_request; /* smb2.CreateRequest */
    long long max_files;      /* MAX_FILES_PER_FLOW */
    long long delete_on_close; /* FILE_DELETE_ON_CLOSE */
    PyObject *created;        /* _CREATED: CreateActions that make a file event */
} rules_t;

static PyObject *
get_dict(PyObject *obj, field_t *name)
{
    PyObject *v = fget(obj, name);
    if (v != NULL && !PyDict_CheckExact(v)) {
        Py_DECREF(v);
        PyErr_SetString(PyExc_TypeError, "advance: not a dict");
        return NULL;
    }
    return v;
}

/* What _smb2_fields reads without the proto decoder: a SYNC/ASYNC SMB2 header. */
static int
smb2_header_ok(const unsigned char *m, Py_ssize_t len)
{
    return len >= 64 && le32(m) == SMB2_PROTOCOL && m[4] == 0x40 && m[5] == 0x00;
}

/* A SESSION_SETUP request _smb2_request reads nothing from: fast_session_setup_request's
 * case (a body of StructureSize 25 whose security buffer is inside the message) and no
 * NTLMSSP signature in the buffer (fast_ntlm_message gives None). */
static int
session_request_noop(const unsigned char *m, Py_ssize_t len)
{
    static const unsigned char signature[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};
    if (!smb2_header_ok(m, len) || len < 88 || m[64] != 0x19 || m[65] != 0x00)
        return 0;
    Py_ssize_t offset = m[76] | (m[77] << 8), length = m[78] | (m[79] << 8);
    if (!length)
        return 1;
    if (offset < 64 || offset + length > len)
        return 0;
    for (Py_ssize_t k = 0; k + 8 <= length; k++) {
        if (m[offset + k] == 'N' && memcmp(m + offset + k, signature, 8) == 0)
            return 0;
    }
    return 1;
}

/* The chain walk of _message over a whole SMB2 message ``h`` of ``length`` bytes: 1 when
 * every part _message hands to _smb2_request/_smb2_response is a CREATE (at most one: its
 * place in *create, *create_len) or a SESSION_SETUP request that gives nothing; else 0. */
static int
plan_parts(const unsigned char *h, Py_ssize_t length, int up, const unsigned char *quiet,
           const unsigned char **create, Py_ssize_t *create_len)
{
    Py_ssize_t pos = 0;
    for (int k = 0; k < 32; k++) {
        const unsigned char *p = h + pos;
        Py_ssize_t rest = length - pos, part = rest;
        uint32_t next = rest >= 24 ? le32(p + 20) : 0;
        if (next >= 64 && (Py_ssize_t)next < rest)
            part = next;
        else
            next = 0;
        if (part >= 14 && !(quiet[p[12]] & 1) && p[13] == 0) { /* Command in _SMB2_INTERESTING */
            if (p[12] == 5 && *create == NULL) {
                *create = p;
                *create_len = part;
            } else if (!(p[12] == 1 && up && session_request_noop(p, part))) {
                return 0;
            }
        }
        if (!next)
            break;
        pos += next;
    }
    return 1;
}

/* The pending key (2, MessageId) of an SMB2 message. */
static PyObject *
pending_key(const unsigned char *m)
{
    uint64_t mid = (uint64_t)le32(m + 24) | ((uint64_t)le32(m + 28) << 32);
    PyObject *id = PyLong_FromUnsignedLongLong(mid);
    if (id == NULL)
        return NULL;
    PyObject *key = PyTuple_Pack(2, two, id);
    Py_DECREF(id);
    return key;
}

/* A whole CREATE request ``m`` of ``len`` bytes (SMB2 header already checked: SYNC/ASYNC
 * form, not compounded): what _smb2_request does with it (fast_create_request, the pending
 * entry), and the new _chain_file in *chain. 1 taken, 0 declined (nothing changed), -1 error. */
static int
create_request(PyObject *flow, const unsigned char *m, Py_ssize_t len, const rules_t *rules, PyObject **chain)
{
    if (!smb2_header_ok(m, len) || len < 112 || m[64] != 0x39 || m[65] != 0x00)
        return 0; /* the proto decoders' case */
    Py_ssize_t offset = m[108] | (m[109] << 8), length = m[110] | (m[111] << 8);
    PyObject *name;
    if (!length) {
        name = PyUnicode_New(0, 0);
    } else {
        if (offset < 64 || offset + length > len || length & 1)
            return 0;
        int order = -1; /* little-endian, as bytes.decode("utf-16-le") */
        name = PyUnicode_DecodeUTF16((const char *)m + offset, length, "strict", &order);
        if (name == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
                return -1;
            PyErr_Clear();
            return 0;
        }
    }
    if (name == NULL)
        return -1;
    uint32_t tree = (le32(m + 16) & 0x2) ? 0 : le32(m + 36); /* TreeId, 0 in an ASYNC header */
    PyObject *request = NULL, *tree_id = NULL, *entry = NULL, *key = NULL, *pending = NULL, *trees = NULL;
    PyObject *share, *new_chain = NULL;
    int rc = -1;
    request = PyObject_CallFunction(rules->create_request, "OIIIII", name, le32(m + 88), le32(m + 92),
                                    le32(m + 96), le32(m + 100), le32(m + 104));
    if (request == NULL || (tree_id = PyLong_FromUnsignedLong(tree)) == NULL)
        goto out;
    if ((entry = PyTuple_Pack(3, s_create, tree_id, request)) == NULL || (key = pending_key(m)) == NULL)
        goto out;
    if ((pending = get_dict(flow, &f_pending)) == NULL || (trees = get_dict(flow, &f_trees)) == NULL)
        goto out;
    share = PyDict_GetItemWithError(trees, tree_id); /* borrowed */
    if (share == NULL && PyErr_Occurred())
        goto out;
    if ((new_chain = PyTuple_Pack(2, share ? share : Py_None, name)) == NULL)
        goto out;
    if (PyDict_SetItem(pending, key, entry) < 0)
        goto out;
    Py_XSETREF(*chain, new_chain);
    new_chain = NULL;
    rc = 1;
out:
    Py_XDECREF(new_chain);
    Py_XDECREF(trees);
    Py_XDECREF(pending);
    Py_XDECREF(key);
    Py_XDECREF(entry);
    Py_XDECREF(tree_id);
    Py_XDECREF(request);
    Py_DECREF(name);
    return rc;
}

/* A whole CREATE response: what _smb2_response does with it when that makes no event.
 * 1 taken, 0 declined (nothing changed), -1 error. */
static int
create_response(PyObject *flow, const unsigned char *m, Py_ssize_t len, const rules_t *rules)
{
    PyObject *key = NULL, *pending = NULL, *files = NULL, *trees = NULL, *name = NULL, *options = NULL;
    PyObject *file_id = NULL, *value = NULL;
    int rc = -1;
    if (!smb2_header_ok(m, len))
        return 0; /* _smb2_fields hands it to the proto decoder */
    if ((key = pending_key(m)) == NULL || (pending = get_dict(flow, &f_pending)) == NULL)
        goto out;
    PyObject *entry = PyDict_GetItemWithError(pending, key); /* borrowed */
    if (entry == NULL) {
        rc = PyErr_Occurred() ? -1 : 1; /* no request seen: nothing to do */
        goto out;
    }
    if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) < 1 ||
        !PyUnicode_CheckExact(PyTuple_GET_ITEM(entry, 0))) {
        rc = 0;
        goto out;
    }
    if (PyUnicode_Compare(PyTuple_GET_ITEM(entry, 0), s_create) != 0) {
        if (PyErr_Occurred())
            goto out;
        rc = PyDict_DelItem(pending, key) < 0 ? -1 : 1; /* another request's answer: popped */
        goto out;
    }
    if (PyTuple_GET_SIZE(entry) != 3 || len < 144 || m[64] != 0x59 || m[65] != 0x00) {
        rc = 0; /* the proto decoder's case */
        goto out;
    }
    if (le32(m + 8) != 0) { /* Status: popped, nothing else */
        rc = PyDict_DelItem(pending, key) < 0 ? -1 : 1;
        goto out;
    }
    PyObject *request = PyTuple_GET_ITEM(entry, 2);
    if ((options = fget(request, &f_create_options)) == NULL ||
        (name = fget(request, &f_name)) == NULL)
        goto out;
    if (!PyLong_CheckExact(options)) {
        rc = 0;
        goto out;
    }
    long long create_options = PyLong_AsLongLong(options);
    if (create_options == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        rc = 0;
        goto out;
    }
    if (create_options & rules->delete_on_close) {
        rc = 0; /* a file event */
        goto out;
    }
    PyObject *action = PyLong_FromUnsignedLong(le32(m + 68));
    if (action == NULL)
        goto out;
    int created = PySet_Contains(rules->created, action);
    Py_DECREF(action);
    if (created < 0)
        goto out;
    if (created && !(create_options & 1)) {
        rc = 0; /* a file event (not a directory) */
        goto out;
    }
    if ((files = get_dict(flow, &f_files)) == NULL || (trees = get_dict(flow, &f_trees)) == NULL)
        goto out;
    Py_INCREF(entry); /* kept while it is removed from pending */
    PyObject *share = PyDict_GetItemWithError(trees, PyTuple_GET_ITEM(entry, 1));
    if ((share == NULL && PyErr_Occurred()) || PyDict_DelItem(pending, key) < 0) {
        Py_DECREF(entry);
        goto out;
    }
    if (PyDict_GET_SIZE(files) < rules->max_files) {
        if ((file_id = PyBytes_FromStringAndSize((const char *)m + 128, 16)) == NULL ||
            (value = PyTuple_Pack(2, share ? share : Py_None, name)) == NULL ||
            PyDict_SetItem(files, file_id, value) < 0) {
            Py_DECREF(entry);
            goto out;
        }
    }
    Py_DECREF(entry);
    rc = 1;
out:
    Py_XDECREF(value);
    Py_XDECREF(file_id);
    Py_XDECREF(trees);
    Py_XDECREF(files);
    Py_XDECREF(name);
    Py_XDECREF(options);
    Py_XDECREF(pending);
    Py_XDECREF(key);
    return rc;
}

/* A WRITE request to a file already reported as written: _smb2_request returns at once. */
static int
written_write(PyObject *flow, const unsigned char *m)
{
    PyObject *written = fget(flow, &f_written);
    if (written == NULL)
        return -1;
    int rc = 0;
    if (PySet_CheckExact(written)) {
        PyObject *file_id = PyBytes_FromStringAndSize((const char *)m + 80, 16);
        rc = file_id == NULL ? -1 : PySet_Contains(written, file_id);
        Py_XDECREF(file_id);
    }
    Py_DECREF(written);
    return rc;
}

static PyObject *
advance(PyObject *self, PyObject *args)
{
    Py_buffer view, quiet_view;
    PyObject *starts, *ends, *index, *ports, *analyzer;
    Py_ssize_t i;
    int kind, big;
    double scale;
    rules_t rules;
    if (!PyArg_ParseTuple(args, "y*O!O!nO!O!(ipd)y*O(OLLO!)", &view, &PyList_Type, &starts, &PyList_Type, &ends,
                          &i, &PyDict_Type, &index, &PyFrozenSet_Type, &ports, &kind, &big, &scale, &quiet_view,
                          &analyzer, &rules.create_request, &rules.max_files, &rules.delete_on_close,
                          &PyFrozenSet_Type, &rules.created))
        return NULL;
    PyObject *chain = NULL; /* the last _chain_file set (NULL: none) */
    const unsigned char *last_key = NULL; /* the index key of the last packet looked up */
    PyObject *last_entry = NULL;
    const unsigned char *block = view.buf;
    const unsigned char *quiet = quiet_view.buf;
    Py_ssize_t size = view.len;
    Py_ssize_t count = PyList_GET_SIZE(ends);
    long long messages = 0, message_bytes = 0;
    PyObject *result = NULL;
    if (quiet_view.len != 256 || PyList_GET_SIZE(starts) != count) {
        PyErr_SetString(PyExc_ValueError, "advance: bad arguments");
        goto done;
    }
    if (i < 0)
        i = count;
    for (; i < count; i++) {
        Py_ssize_t at = PyLong_AsSsize_t(PyList_GET_ITEM(starts, i));
        Py_ssize_t end = PyLong_AsSsize_t(PyList_GET_ITEM(ends, i));
        if ((at == -1 || end == -1) && PyErr_Occurred())
            goto done;
        if (at < 16 || end > size || at > end)
            break; /* not a frame of this block as packet_runs gives them: the Python body */
        if (end - at < 54)
            break; /* _packet */
        const unsigned char *f = block + at;
        uint32_t etype = be16(f + 12), vihl = f[14], total = be16(f + 16), frag = be16(f + 20), proto = f[23];
        if (!(etype == 0x0800 && proto == 6 && (vihl & 0x0F) == 5 && !(frag & 0x3FFF))) {
            if (etype == 0x0806 || (etype == 0x0800 && proto != 6 && vihl >> 4 == 4))
                continue; /* ARP, or IPv4 that is not TCP */
            break;        /* _packet */
        }
        if (total < 40)
            continue;
        uint32_t seq = be32(f + 38), doff = f[46], flags = f[47];
        Py_ssize_t pstart = at + 34 + (Py_ssize_t)(doff >> 4) * 4;
        Py_ssize_t pend = at + 14 + (Py_ssize_t)total;
        if (pend > end)
            pend = end;
        Py_ssize_t n = pend - pstart;
        if (n <= 0) {
            if (!(flags & (SYN | RST)))
                continue; /* a pure ACK or FIN */
            n = 0;
        }
        PyObject *entry; /* borrowed: nothing here changes the index */
        if (last_key != NULL && memcmp(last_key, f + 26, 12) == 0) {
            entry = last_entry; /* the same addresses and ports as the packet before */
        } else {
            PyObject *key = PyBytes_FromStringAndSize((const char *)f + 26, 12);
            if (key == NULL)
                goto done;
            entry = PyDict_GetItemWithError(index, key);
            Py_DECREF(key);
            if (entry == NULL && PyErr_Occurred())
                goto done;
            last_key = f + 26;
            last_entry = entry;
        }
        if (entry == NULL) {
            /* not an open flow: only packets of no SMB port are taken (dropped) */
            long ports_of[2] = {(long)be16(f + 36), (long)be16(f + 34)}; /* destination, source */
            int smb = 0;
            for (int k = 0; k < 2 && !smb; k++) {
                PyObject *port = PyLong_FromLong(ports_of[k]);
                if (port == NULL)
                    goto done;
                smb = PySet_Contains(ports, port);
                Py_DECREF(port);
                if (smb < 0)
                    goto done;
            }
            if (smb)
                break;
            continue;
        }
        if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 3)
            break;
        if (!n || (flags & (SYN | RST)))
            break; /* Direction.feed */
        PyObject *d = PyTuple_GET_ITEM(entry, 0), *flow = PyTuple_GET_ITEM(entry, 1);
        int up = PyTuple_GET_ITEM(entry, 2) == Py_True;
        dstate s;
        int rc = read_direction(d, &s);
        if (rc < 0)
            goto done;
        if (rc || seq != s.next_seq)
            break; /* Direction.feed */
        long long next = ((long long)seq + n) & 0xFFFFFFFFLL;
        if (n <= s.skip) {
            if (set_ll(d, &f_skip, s.skip - n) < 0 || set_ll(d, &f_next_seq, next) < 0)
                goto done;
            continue;
        }
        rc = read_direction_rest(d, &s);
        if (rc < 0)
            goto done;
        if (rc)
            break;
        if (n < s.until) {
            if (set_ll(d, &f_until, s.until - n) < 0 || set_ll(d, &f_next_seq, next) < 0)
                goto done;
            continue;
        }
        if (s.skip || s.until || s.msg_len || !s.header_empty || n < 8)
            break;
        uint32_t length = be32(block + pstart);
        if ((long long)length + 4 != n || (long long)length > s.cap || length <= HEAD_BYTES || kind == 0)
            break; /* not exactly one message, or one the Python body reads */
        /* the first HEAD_BYTES of the message (length > HEAD_BYTES: inside the segment) */
        const unsigned char *h = block + pstart + 4;
        uint32_t command = h[12], command_hi = h[13], chained = le32(h + 20);
        if (le32(h) != SMB2_PROTOCOL)
            break;
        int is_quiet = chained < 64 && (command_hi || (quiet[command] & 1) ||
                                        (!up && (quiet[command] & 2) && length >= 64 && h[4] == 0x40 &&
                                         h[5] == 0x00));
        /* a WRITE request to a file already reported (the fast path keeps a WRITE's FileId),
         * or a message (compounded or not: the fast path keeps all of it) whose parts are
         * CREATEs or parts _message reads nothing from */
        int write = !is_quiet && chained < 64 && command == 9 && up && length >= 96;
        const unsigned char *create = NULL;
        Py_ssize_t create_len = 0;
        if (!is_quiet && !write && !plan_parts(h, length, up, quiet, &create, &create_len))
            break;
        if (write) {
            rc = written_write(flow, h);
            if (rc < 0)
                goto done;
            if (!rc)
                break;
        }
        PyObject *server = fget(flow, &f_state);
        if (server == NULL)
            goto done;
        if (server == Py_None) {
            Py_DECREF(server);
            break;
        }
        rc = server_times_ok(server);
        if (rc) {
            Py_DECREF(server);
            if (rc < 0)
                goto done;
            break;
        }
        if (create) {
            rc = up ? create_request(flow, create, create_len, &rules, &chain)
                    : create_response(flow, create, create_len, &rules);
            if (rc <= 0) {
                Py_DECREF(server);
                if (rc < 0)
                    goto done;
                break;
            }
            if (!up)
                Py_XSETREF(chain, Py_NewRef(Py_None));
        } else {
            Py_XSETREF(chain, Py_NewRef(Py_None));
        }
        /* taken: what the Python body does with a quiet whole message, and _message for
         * the rest (its counters and the server's first/last time) */
        double ts = stamp_of(block + at - 16, kind, big, scale);
        if (set_ll(d, &f_next_seq, next) < 0 || see(server, ts) < 0) {
            Py_DECREF(server);
            goto done;
        }
        Py_DECREF(server);
        messages += 1;
        message_bytes += length;
    }
    if (messages) {
        long long total_messages, total_bytes;
        int rc = get_ll(analyzer, &f_smb_messages, &total_messages);
        if (rc == 0)
            rc = get_ll(analyzer, &f_smb_bytes, &total_bytes);
        if (rc) {
            if (rc > 0)
                PyErr_SetString(PyExc_TypeError, "advance: counters are not ints");
            goto done;
        }
        if (set_ll(analyzer, &f_smb_messages, total_messages + messages) < 0 ||
            set_ll(analyzer, &f_smb_bytes, total_bytes + message_bytes) < 0)
            goto done;
    }
    if (chain != NULL && fset(analyzer, &f_chain_file, chain) < 0)
        goto done;
    result = PyLong_FromSsize_t(i);
done:
    Py_XDECREF(chain);
    PyBuffer_Release(&view);
    PyBuffer_Release(&quiet_view);
    return result;
}

static PyMethodDef methods[] = {
    {"records", records, METH_VARARGS, "records(block, pos, big, starts, ends) -> (pos, bad)"},
    {"epb", epb, METH_VARARGS, "epb(buf, pos, iface, big, starts, ends) -> pos"},
    {"advance", advance, METH_VARARGS,
     "advance(block, starts, ends, i, index, ports, stamp, quiet, analyzer) -> i"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "smbguard.logs._pcapscan",
    .m_doc = "The per-packet loops of the fast capture path (see _pcapscan.c).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__pcapscan(void)
{
    struct {
        PyObject **slot;
        const char *name;
    } names[] = {
        {&s_next_seq, "next_seq"}, {&s_skip, "skip"},   {&s_until, "until"},
        {&s_synced, "synced"},     {&s_ooo, "ooo"},     {&s_msg_len, "msg_len"},
        {&s_header, "header"},     {&s_cap, "cap"},     {&s_state, "state"},
        {&s_first, "first"},       {&s_last, "last"},   {&s_smb_messages, "smb_messages"},
        {&s_smb_bytes, "smb_bytes"}, {&s_chain_file, "_chain_file"}, {&s_pending, "pending"},
        {&s_trees, "trees"},       {&s_files, "files"}, {&s_written, "written"},
        {&s_name, "name"},         {&s_create_options, "create_options"}, {&s_create, "create"},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if ((*names[k].slot = PyUnicode_InternFromString(names[k].name)) == NULL)
            return NULL;
    }
    if ((two = PyLong_FromLong(2)) == NULL)
        return NULL;
    return PyModule_Create(&module);
}
