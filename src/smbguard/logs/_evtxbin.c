/* smbguard.logs._evtxbin: evtxbin.read_chunk's record loop in C.
 *
 * read_chunk(chunk, wanted_ids, layout) reads one 64 KiB EVTX chunk the way the Python
 * reference smbguard.logs.evtxbin.read_chunk does (libyal "Windows XML Event Log (EVTX)
 * format" sections 3-5; docs/evtx-binary.md) and returns the same records,
 *     [(EventRecordID, EventID, None | (when, computer, channel, data)), ...]
 * or None ("decline": the caller reads the chunk with the Rust parser) whenever the
 * chunk is outside what this code reproduces with certainty. It declines everything the
 * reference declines except a checksum mismatch (the Rust parser does not check chunk
 * checksums by default: measured, see docs/evtx-binary.md), and declines more: names
 * that are not ASCII words, a record with more than one nested BinXML value when its
 * EventID is wanted, nested BinXML inside nested BinXML when wanted, more than
 * MAX_TEMPLATES templates in a chunk, element nesting deeper than MAX_DEPTH.
 *
 * Templates (their BinXML token grammar, as evtxbin._TemplateParser) are checked here.
 * Where a template puts the fields (evtxbin.Layout) is computed once per distinct
 * template (offset, bytes and the names it reads from outside itself, as evtxbin's
 * _TEMPLATES cache) and nested template by the Python callback ``layout`` (evtxbin.c_layout)
 * and cached here. Every read is bounds-checked against the chunk and the enclosing
 * structure; recursion is depth-limited; no fixed-size buffer is written past its size.
 *
 * row(event_id, fields, source) is winevent.event_row for the hot event IDs, and Sink (at
 * the end) is EvtxSource._fast_rows + rows_to_frame: the rows of read_chunk's records
 * appended straight into Arrow columns handed to polars (docs/evtx-binary.md, session 6).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 65536
#define CHUNK_HEADER 512
#define MAX_TEMPLATES 512    /* distinct template offsets in one chunk */
#define MAX_DEPTH 64         /* element nesting in a template */
#define MAX_NEST 4           /* nested BinXML depth (as the reference) */
#define EXT_MAX CHUNK  /* external name bytes of one template */
#define FRAGMENT 0x0001010Fu
#define FT_MIN 116444736000000000ULL
#define FT_MAX 2650467744000000000ULL

enum { T_NULL = 0x00, T_STRING = 0x01, T_INT8 = 0x03, T_UINT8 = 0x04, T_INT16 = 0x05,
       T_UINT16 = 0x06, T_INT32 = 0x07, T_UINT32 = 0x08, T_INT64 = 0x09, T_UINT64 = 0x0A,
       T_BINARY = 0x0E, T_GUID = 0x0F, T_FILETIME = 0x11, T_SID = 0x13, T_HEX32 = 0x14,
       T_HEX64 = 0x15, T_BINXML = 0x21 };

static inline uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t u32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static inline uint64_t u64(const uint8_t *p) { return (uint64_t)u32(p) | ((uint64_t)u32(p + 4) << 32); }

/* fixed size of a value type on the fast path, -1: variable (string, SID, binary, BinXML),
 * -2: not read on the fast path (the reference's _signature raises) */
static int fixed_size(int t)
{
    switch (t) {
    case T_INT8: case T_UINT8: return 1;
    case T_INT16: case T_UINT16: return 2;
    case T_INT32: case T_UINT32: case T_HEX32: return 4;
    case T_INT64: case T_UINT64: case T_FILETIME: case T_HEX64: return 8;
    case T_GUID: return 16;
    case T_NULL: return 0;
    case T_STRING: case T_SID: case T_BINARY: case T_BINXML: return -1;
    default: return -2;
    }
}

/* evtxbin._KNOWN_TYPES */
static int known_type(int t)
{
    return (t >= 0x00 && t <= 0x15) || t == 0x20 || t == 0x21 || t == 0x23 || (t >= 0x81 && t <= 0x95);
}

/* A UTF-16LE unit sequence that evtxbin accepts as text: strict UTF-16 (surrogates
 * paired) and no character of evtxbin._ODD_TEXT; xml_special: none of & < > " ' either.
 * Returns 1 if ok; *ascii set when every unit is below 0x80. */
static int good_text(const uint8_t *p, size_t units, int xml_special, int *ascii)
{
    int all_ascii = 1;
    for (size_t i = 0; i < units; i++) {
        unsigned u = u16(p + 2 * i);
        if (u < 0x80) {
            if (u < 0x20 && u != 0x09 && u != 0x0A && u != 0x0D) return 0;
            if (u == 0x7F) return 0;
            if (xml_special && (u == '&' || u == '<' || u == '>' || u == '"' || u == '\'')) return 0;
            continue;
        }
        all_ascii = 0;
        if (u <= 0x9F) return 0;
        if (u >= 0xFDD0 && u <= 0xFDEF) return 0;
        if (u == 0xFFFE || u == 0xFFFF) return 0;
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (i + 1 >= units) return 0;
            unsigned v = u16(p + 2 * (i + 1));
            if (v < 0xDC00 || v > 0xDFFF) return 0;
            i++;
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            return 0;
        }
    }
    if (ascii) *ascii = all_ascii;
    return 1;
}

/* strict UTF-16LE only (surrogates paired): what decode("utf-16-le") accepts */
static int good_text_strict(const uint8_t *p, size_t units)
{
    for (size_t i = 0; i < units; i++) {
        unsigned u = u16(p + 2 * i);
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (i + 1 >= units) return 0;
            unsigned v = u16(p + 2 * (i + 1));
            if (v < 0xDC00 || v > 0xDFFF) return 0;
            i++;
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            return 0;
        }
    }
    return 1;
}

/* a str from good_text-checked UTF-16LE (NULL with an exception on memory errors) */
static PyObject *make_text(const uint8_t *p, size_t units, int ascii)
{
    if (ascii) {
        PyObject *s = PyUnicode_New((Py_ssize_t)units, 127);
        if (s == NULL) return NULL;
        Py_UCS1 *d = PyUnicode_1BYTE_DATA(s);
        for (size_t i = 0; i < units; i++) d[i] = p[2 * i];
        return s;
    }
    int order = -1;
    return PyUnicode_DecodeUTF16((const char *)p, (Py_ssize_t)(2 * units), "strict", &order);
}

/* ------------------------------------------------------------------ caches
 * Templates across chunks (evtxbin._TEMPLATES): one entry per (definition offset, bytes),
 * with the external names it was parsed with; reused only where those names have the
 * same bytes in the chunk at hand (else parsed again: a new entry, a new identity).
 * Layouts (evtxbin._LAYOUTS) by (outer template entry, nested value index, nested
 * template entry, expanded), filled by the Python callback. Both are cleared together
 * at the start of a call when nearly full, and when another callback is given. */
#define REG_MAX 4096
#define REG_SLOTS 8192
#define LAY_SLOTS 16384

typedef struct { PyObject *text; long slot; int kind; } LSlot; /* kind 0 none, 1 slot, 2 literal */

typedef struct {
    int declined;            /* the callback said no: the chunk goes elsewhere */
    int eid_literal;         /* EventID: literal number (eid) or slot (eid) */
    long eid;
    long time;               /* -1 none */
    LSlot channel, computer;
    Py_ssize_t nplan;
    PyObject **pname;
    int *powner, *pindex;
    PyObject *literals;      /* tuple of (name, text) */
    Py_ssize_t nbefore;
    long *before;
    PyObject *source;        /* the callback's tuple (owns the names and texts) */
} Layout;

typedef struct {
    uint8_t *key; size_t key_len;  /* offset u32, size u32, template bytes */
    uint8_t *ext; size_t ext_len;  /* (offset u32, length u32, bytes)... */
    int max_index;
} RegEntry;

typedef struct { int outer, nidx, inner, expand; Layout *value; } LayEntry;

static RegEntry reg[REG_MAX];
static int reg_count;
static int reg_index[REG_SLOTS]; /* entry + 1; 0: empty */
static LayEntry lay[LAY_SLOTS];  /* value NULL: empty */
static int lay_count;
static PyObject *lay_owner;      /* the callback the layouts came from (a strong reference) */
static uint64_t epoch;           /* bumped when the caches are cleared */
static int want_clear;
static int active;               /* calls in progress (threads meeting in a Python callback) */

static void free_layout(Layout *l)
{
    if (l == NULL) return;
    Py_XDECREF(l->source);
    free(l->pname); free(l->powner); free(l->pindex); free(l->before);
    free(l);
}

static void clear_caches(void)
{
    for (int i = 0; i < reg_count; i++) { free(reg[i].key); free(reg[i].ext); reg[i].key = reg[i].ext = NULL; }
    reg_count = 0;
    memset(reg_index, 0, sizeof reg_index);
    for (int i = 0; i < LAY_SLOTS; i++) {
        Layout *l = lay[i].value;
        lay[i].value = NULL;
        free_layout(l);
    }
    lay_count = 0;
    epoch++;
    want_clear = 0;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    return h * 0xFF51AFD7ED558CCDULL;
}

/* a sample of the key (offset, size, up to 64 bytes from each end); equality is checked in full */
static uint64_t key_hash(int offset, const uint8_t *p, size_t n)
{
    uint64_t h = mix((uint64_t)offset, n);
    size_t head = n < 64 ? n : 64;
    for (size_t i = 0; i + 8 <= head; i += 8) { uint64_t w; memcpy(&w, p + i, 8); h = mix(h, w); }
    if (n >= 8) { uint64_t w; memcpy(&w, p + n - 8, 8); h = mix(h, w); }
    if (n > 64) { for (size_t i = n - 64; i + 8 <= n; i += 8) { uint64_t w; memcpy(&w, p + i, 8); h = mix(h, w); } }
    return h;
}

/* ------------------------------------------------------------------ per-chunk state */
typedef struct { int offset; int end; int max_index; int reg; int defined; } Tmpl;

typedef struct {
    const uint8_t *c;
    Tmpl t[MAX_TEMPLATES];
    int nt;
    int last;              /* index of the last template looked up */
    uint8_t ext[EXT_MAX];  /* external names of the template being parsed */
    uint8_t seen[CHUNK / 8];
    uint32_t arena[CHUNK / 4 + 64]; /* value offsets of the instances of one record */
    size_t arena_used;
    PyObject *layout_cb;
    PyObject *chunk_obj;
    uint64_t epoch;
} State;

static Tmpl *find_tmpl(State *s, int offset)
{
    if (s->nt && s->t[s->last].offset == offset) return &s->t[s->last];
    for (int i = 0; i < s->nt; i++) if (s->t[i].offset == offset) { s->last = i; return &s->t[i]; }
    return NULL;
}

/* ------------------------------------------------------------------ template grammar
 * evtxbin._TemplateParser: returns 0 ok, 1 decline. */
typedef struct {
    const uint8_t *c;
    int pos, end;
    int max_index;
    uint8_t *ext;       /* external names: (u32 offset, bytes) appended */
    size_t ext_len;
} TP;

/* evtxbin._read_name: 1 decline; *stop = offset after the NUL */
static int read_name(const uint8_t *c, int offset, int *stop, int *count_out)
{
    if (offset < CHUNK_HEADER || offset > CHUNK - 10) return 1;
    int count = u16(c + offset + 6);
    int start = offset + 8;
    int end = start + 2 * count;
    if (count == 0 || end + 2 > CHUNK || c[end] != 0 || c[end + 1] != 0) return 1;
    if (!good_text_strict(c + start, (size_t)count)) return 1;
    *stop = end + 2;
    if (count_out) *count_out = count;
    return 0;
}

static int tp_name(TP *tp, int offset)
{
    int stop, count;
    if (read_name(tp->c, offset, &stop, &count)) return 1;
    if (offset == tp->pos) {
        tp->pos = stop;
        if (tp->pos > tp->end) return 1;
    } else if (offset > tp->pos) {
        return 1;
    } else {
        /* a name defined earlier in the chunk: (offset, length, bytes from the count to the
         * NUL) kept so that a cached template is reused only where these bytes are the same */
        uint32_t n = (uint32_t)(stop - (offset + 6));
        if (tp->ext_len + 8 + n > EXT_MAX) return 1;
        uint8_t *d = tp->ext + tp->ext_len;
        uint32_t o = (uint32_t)(offset + 6);
        memcpy(d, &o, 4);
        memcpy(d + 4, &n, 4);
        memcpy(d + 8, tp->c + offset + 6, n);
        tp->ext_len += 8 + n;
    }
    /* \w+ : ASCII word characters only here (the reference's \w also takes other letters:
     * declining those is stricter) */
    const uint8_t *p = tp->c + offset + 8;
    for (int i = 0; i < count; i++) {
        unsigned u = u16(p + 2 * i);
        if (!((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_')) return 1;
    }
    return 0;
}

static int tp_pieces(TP *tp, const char *stops)
{
    const uint8_t *c = tp->c;
    for (;;) {
        if (tp->pos >= tp->end) return 1;
        int token = c[tp->pos];
        if (strchr(stops, token) != NULL && token != 0) return 0;
        if (token == 0x05 || token == 0x45) {
            tp->pos += 1;
            if (tp->pos + 1 > tp->end) return 1;
            if (c[tp->pos] != T_STRING) return 1;
            tp->pos += 1;
            if (tp->pos + 2 > tp->end) return 1;
            int count = u16(c + tp->pos);
            tp->pos += 2;
            int stop = tp->pos + 2 * count;
            if (stop > tp->end) return 1;
            if (!good_text(c + tp->pos, (size_t)count, 1, NULL)) return 1;
            tp->pos = stop;
        } else if (token == 0x0D || token == 0x0E) {
            if (tp->pos + 4 > tp->end) return 1;
            int index = u16(c + tp->pos + 1);
            int declared = c[tp->pos + 3];
            tp->pos += 4;
            if (!known_type(declared)) return 1;
            if (index > tp->max_index) tp->max_index = index;
        } else {
            return 1;
        }
    }
}

static int tp_element(TP *tp, int depth)
{
    const uint8_t *c = tp->c;
    if (depth > MAX_DEPTH) return 1;
    if (tp->pos + 11 > tp->end) return 1;
    int token = c[tp->pos];
    uint32_t size = u32(c + tp->pos + 3);
    uint32_t name_off = u32(c + tp->pos + 7);
    if (name_off > CHUNK) return 1;
    int name_offset = (int)name_off;
    tp->pos += 11;
    if (token != 0x01 && token != 0x41) return 1;
    if (size > CHUNK) return 1;
    int end = tp->pos - 4 + (int)size;
    if (end > tp->end) return 1;
    if (tp_name(tp, name_offset)) return 1;
    if (token == 0x41) {
        if (tp->pos + 4 > tp->end) return 1;
        uint32_t asize = u32(c + tp->pos);
        tp->pos += 4;
        if (asize > CHUNK) return 1;
        int aend = tp->pos + (int)asize;
        for (;;) {
            if (tp->pos >= tp->end) return 1;
            int t = c[tp->pos];
            if (t != 0x06 && t != 0x46) break;
            tp->pos += 1;
            if (tp->pos + 4 > tp->end) return 1;
            uint32_t off = u32(c + tp->pos);
            tp->pos += 4;
            if (off > CHUNK) return 1;
            if (tp_name(tp, (int)off)) return 1;
            if (tp_pieces(tp, "\x06\x46\x02\x03")) return 1;
        }
        if (tp->pos != aend) return 1;
    }
    if (tp->pos >= tp->end) return 1;
    int close = c[tp->pos];
    tp->pos += 1;
    if (close == 0x02) {
        for (;;) {
            if (tp->pos >= tp->end) return 1;
            int t = c[tp->pos];
            if (t == 0x04) { tp->pos += 1; break; }
            if (t == 0x01 || t == 0x41) {
                if (tp_element(tp, depth + 1)) return 1;
            } else if (tp_pieces(tp, "\x04\x01\x41")) {
                return 1;
            }
        }
    } else if (close != 0x03) {
        return 1;
    }
    return tp->pos != end;
}

/* evtxbin.parse_template(chunk, offset, limit) into *out, through the template cache.
 * 0 ok, 1 decline, -1 error (memory). */
static int parse_template(State *s, int offset, int limit, Tmpl *out)
{
    const uint8_t *c = s->c;
    if (offset < CHUNK_HEADER || offset > limit - 24) return 1;
    uint32_t size = u32(c + offset + 20);
    if (size > CHUNK) return 1;
    int start = offset + 24;
    int end = start + (int)size;
    if (end > limit || size < 6) return 1;
    uint64_t h = key_hash(offset, c + start, size);
    size_t slot = (size_t)(h & (REG_SLOTS - 1));
    for (;;) {
        int e = reg_index[slot];
        if (e == 0) break;
        RegEntry *r = &reg[e - 1];
        uint32_t ko, ks;
        memcpy(&ko, r->key, 4); memcpy(&ks, r->key + 4, 4);
        if ((int)ko == offset && ks == size && memcmp(r->key + 8, c + start, size) == 0) {
            /* the same bytes at the same offset: the same template if its outside names match */
            size_t i = 0;
            int same = 1;
            while (i < r->ext_len) {
                uint32_t eo, en;
                memcpy(&eo, r->ext + i, 4); memcpy(&en, r->ext + i + 4, 4);
                if ((size_t)eo + en > CHUNK || memcmp(c + eo, r->ext + i + 8, en) != 0) { same = 0; break; }
                i += 8 + en;
            }
            if (same) {
                out->offset = offset; out->end = end; out->max_index = r->max_index;
                out->reg = e - 1; out->defined = 0;
                return 0;
            }
            break; /* parsed again below; the new entry takes this slot */
        }
        slot = (slot + 1) & (REG_SLOTS - 1);
    }
    if (u32(c + start) != FRAGMENT || c[end - 1] != 0) return 1;
    TP tp = { c, start + 4, end - 1, -1, s->ext, 0 };
    if (tp_element(&tp, 0)) return 1;
    if (tp.pos != end - 1) return 1;
    if (reg_count >= REG_MAX) { want_clear = 1; return 1; }
    RegEntry *r = &reg[reg_count];
    r->key = malloc(8 + size);
    r->ext = malloc(tp.ext_len ? tp.ext_len : 1);
    if (r->key == NULL || r->ext == NULL) { free(r->key); free(r->ext); r->key = r->ext = NULL; PyErr_NoMemory(); return -1; }
    uint32_t o = (uint32_t)offset;
    memcpy(r->key, &o, 4); memcpy(r->key + 4, &size, 4); memcpy(r->key + 8, c + start, size);
    r->key_len = 8 + size;
    memcpy(r->ext, s->ext, tp.ext_len);
    r->ext_len = tp.ext_len;
    r->max_index = tp.max_index;
    reg_count++;
    reg_index[slot] = reg_count;
    out->offset = offset; out->end = end; out->max_index = tp.max_index;
    out->reg = reg_count - 1; out->defined = 0;
    return 0;
}

/* the chunk's template at offset, parsed once per chunk; NULL + *rc (1 decline, -1 error) */
static Tmpl *get_tmpl(State *s, int offset, int limit, int *rc)
{
    Tmpl *t = find_tmpl(s, offset);
    *rc = 1;
    if (t != NULL) {
        if (offset > limit - 24 || t->end > limit) return NULL;
        return t;
    }
    if (s->nt >= MAX_TEMPLATES) return NULL;
    t = &s->t[s->nt];
    int r = parse_template(s, offset, limit, t);
    if (r) { *rc = r; return NULL; }
    s->last = s->nt++;
    return t;
}

/* evtxbin.check_tables: every string chain holds well-formed names, every template chain
 * templates this reader parses. 0 ok, 1 decline, -1 error. */
static int check_tables(State *s)
{
    const uint8_t *c = s->c;
    memset(s->seen, 0, sizeof s->seen);
    int n = 0;
    for (int i = 0; i < 64; i++) {
        uint32_t off = u32(c + 128 + 4 * i);
        while (off) {
            if (off >= CHUNK || (s->seen[off >> 3] & (1 << (off & 7))) || n > 4096) return 1;
            s->seen[off >> 3] |= (uint8_t)(1 << (off & 7));
            n++;
            int stop;
            if (read_name(c, (int)off, &stop, NULL)) return 1;
            off = u32(c + off);
        }
    }
    memset(s->seen, 0, sizeof s->seen);
    n = 0;
    for (int i = 0; i < 32; i++) {
        uint32_t off = u32(c + 384 + 4 * i);
        while (off) {
            if (off >= CHUNK || (s->seen[off >> 3] & (1 << (off & 7))) || n > 1024) return 1;
            s->seen[off >> 3] |= (uint8_t)(1 << (off & 7));
            n++;
            int rc;
            if (get_tmpl(s, (int)off, CHUNK, &rc) == NULL) return rc;
            off = u32(c + off);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ template instances */
typedef struct {
    Tmpl *t;
    const uint8_t *desc;   /* the substitution descriptors (u16 size, u8 type, u8 0) */
    uint32_t count;
    uint32_t *off;         /* count + 1 value offsets (the last: where the values end) */
    int nnested;           /* nested BinXML values */
    int nidx;              /* the first one's index */
    int inner_nested;      /* the first one has nested BinXML values itself */
    Tmpl *inner_t;
    const uint8_t *inner_desc;
    uint32_t inner_count;
    uint32_t *inner_off;
} Inst;

/* evtxbin._Chunk.instance: the template instance whose token is at `at`, inside ..end.
 * 0 ok, 1 decline, -1 error. */
static int instance(State *s, int at, int end, int depth, Inst *out)
{
    const uint8_t *c = s->c;
    if (at + 14 > end) return 1;
    if (c[at] != 0x0C) return 1;
    uint32_t def32 = u32(c + at + 6);
    if (def32 >= CHUNK) return 1;
    int def = (int)def32;
    Tmpl *t = find_tmpl(s, def);
    int defined = t != NULL && t->defined;
    uint32_t count;
    if (defined && def != at + 10) {
        count = u32(c + at + 10);
        at += 14;
    } else if (def == at + 10) {
        if (defined) return 1;
        int rc;
        t = get_tmpl(s, def, end, &rc);
        if (t == NULL) return rc;
        t->defined = 1;
        at = t->end;
        if (at + 4 > end) return 1;
        count = u32(c + at);
        at += 4;
    } else {
        return 1;
    }
    if (count > (uint32_t)(end - at) / 4) return 1;
    int values = at + 4 * (int)count;
    if ((long)count <= (long)t->max_index) return 1;
    if (s->arena_used + count + 1 > sizeof s->arena / sizeof s->arena[0]) return 1;
    uint32_t *off = s->arena + s->arena_used;
    s->arena_used += count + 1;
    const uint8_t *desc = c + at;
    off[0] = (uint32_t)values;
    int nnested = 0, nidx = -1;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *d = desc + 4 * i;
        unsigned size = u16(d);
        int type = d[2];
        if (d[3] != 0) return 1;
        int fs = fixed_size(type);
        if (fs == -2) return 1;
        if (fs >= 0 && (int)size != fs) return 1;
        if (type == T_STRING && (size & 1)) return 1;
        off[i + 1] = off[i] + size;
        if (type == T_BINXML) { if (nnested++ == 0) nidx = (int)i; }
    }
    if (off[count] > (uint32_t)end) return 1;
    for (uint32_t i = 0; i < count; i++) {
        int type = desc[4 * i + 2];
        uint32_t start = off[i], size = off[i + 1] - off[i];
        if (type == T_FILETIME) {
            if (u64(c + start) >= FT_MAX) return 1;
        } else if (type == T_SID) {
            if (size < 8 || c[start] != 1 || size != 8 + 4 * (uint32_t)c[start + 1]) return 1;
        }
    }
    out->t = t; out->desc = desc; out->count = count; out->off = off;
    out->nnested = nnested; out->nidx = nidx; out->inner_nested = 0;
    out->inner_t = NULL; out->inner_desc = NULL; out->inner_count = 0; out->inner_off = NULL;
    if (nnested) {
        if (depth >= MAX_NEST) return 1;
        for (uint32_t i = 0; i < count; i++) {
            if (desc[4 * i + 2] != T_BINXML) continue;
            uint32_t start = off[i], stop = off[i + 1];
            if (stop - start < 5 || u32(c + start) != FRAGMENT) return 1;
            Inst inner;
            int r = instance(s, (int)start + 4, (int)stop, depth + 1, &inner);
            if (r) return r;
            if (inner.off[inner.count] != stop - 1 || c[stop - 1] != 0) return 1;
            if ((int)i == nidx) {
                out->inner_t = inner.t; out->inner_desc = inner.desc; out->inner_count = inner.count;
                out->inner_off = inner.off; out->inner_nested = inner.nnested;
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ layouts */
static int slot_of(PyObject *o, LSlot *out)
{
    out->text = NULL; out->slot = -1; out->kind = 0;
    if (o == Py_None) return 0;
    if (PyUnicode_Check(o)) { out->kind = 2; out->text = o; return 0; }
    if (PyLong_Check(o)) {
        out->slot = PyLong_AsLong(o);
        if (out->slot < 0) { if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "negative slot"); return -1; }
        out->kind = 1;
        return 0;
    }
    PyErr_SetString(PyExc_TypeError, "layout slot must be None, int or str");
    return -1;
}

/* the callback's answer as a Layout: (eid_is_literal, eid, time, channel, computer,
 * plan ((name, owner, index), ...), literals ((name, text), ...), before (index, ...));
 * None: declined. NULL with an exception on a malformed answer. */
static Layout *to_layout(PyObject *v)
{
    Layout *l = calloc(1, sizeof *l);
    if (l == NULL) { PyErr_NoMemory(); return NULL; }
    if (v == Py_None) { l->declined = 1; return l; }
    if (!PyTuple_Check(v) || PyTuple_GET_SIZE(v) != 8) { PyErr_SetString(PyExc_TypeError, "layout must be an 8-tuple"); free(l); return NULL; }
    Py_INCREF(v);
    l->source = v;
    PyObject *plan = PyTuple_GET_ITEM(v, 5), *lits = PyTuple_GET_ITEM(v, 6), *before = PyTuple_GET_ITEM(v, 7);
    if (!PyTuple_Check(plan) || !PyTuple_Check(lits) || !PyTuple_Check(before)) { PyErr_SetString(PyExc_TypeError, "layout parts must be tuples"); goto fail; }
    l->eid_literal = PyObject_IsTrue(PyTuple_GET_ITEM(v, 0));
    l->eid = PyLong_AsLong(PyTuple_GET_ITEM(v, 1));
    l->time = PyLong_AsLong(PyTuple_GET_ITEM(v, 2));
    if (PyErr_Occurred() || l->eid_literal < 0) goto fail;
    if (slot_of(PyTuple_GET_ITEM(v, 3), &l->channel) || slot_of(PyTuple_GET_ITEM(v, 4), &l->computer)) goto fail;
    l->nplan = PyTuple_GET_SIZE(plan);
    l->pname = calloc((size_t)l->nplan + 1, sizeof *l->pname);
    l->powner = calloc((size_t)l->nplan + 1, sizeof *l->powner);
    l->pindex = calloc((size_t)l->nplan + 1, sizeof *l->pindex);
    l->nbefore = PyTuple_GET_SIZE(before);
    l->before = calloc((size_t)l->nbefore + 1, sizeof *l->before);
    if (!l->pname || !l->powner || !l->pindex || !l->before) { PyErr_NoMemory(); goto fail; }
    for (Py_ssize_t i = 0; i < l->nplan; i++) {
        PyObject *item = PyTuple_GET_ITEM(plan, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3 || !PyUnicode_Check(PyTuple_GET_ITEM(item, 0))) {
            PyErr_SetString(PyExc_TypeError, "plan items must be (str, int, int)"); goto fail;
        }
        l->pname[i] = PyTuple_GET_ITEM(item, 0);
        long owner = PyLong_AsLong(PyTuple_GET_ITEM(item, 1));
        long index = PyLong_AsLong(PyTuple_GET_ITEM(item, 2));
        if (PyErr_Occurred()) goto fail;
        if (owner < 0 || index < 0 || owner > 0xFFFF || index > 0xFFFF) { PyErr_SetString(PyExc_ValueError, "plan slot out of range"); goto fail; }
        l->powner[i] = (int)owner; l->pindex[i] = (int)index;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(lits); i++) {
        PyObject *item = PyTuple_GET_ITEM(lits, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) { PyErr_SetString(PyExc_TypeError, "literals must be pairs"); goto fail; }
    }
    l->literals = lits;
    for (Py_ssize_t i = 0; i < l->nbefore; i++) {
        l->before[i] = PyLong_AsLong(PyTuple_GET_ITEM(before, i));
        if (PyErr_Occurred()) goto fail;
    }
    return l;
fail:
    free_layout(l);
    return NULL;
}

/* the layout of (outer, nested index, inner, expand); NULL + *rc (1 decline, -1 error) */
static Layout *get_layout(State *s, Tmpl *outer, int nidx, Tmpl *inner, int expand, int *rc)
{
    int inner_reg = inner ? inner->reg : -1;
    uint64_t h = mix(mix(mix((uint64_t)outer->reg, (uint64_t)(nidx + 1)), (uint64_t)(inner_reg + 1)), (uint64_t)expand);
    size_t slot = (size_t)(h & (LAY_SLOTS - 1));
    *rc = 1;
    for (;;) {
        LayEntry *e = &lay[slot];
        if (e->value == NULL) break;
        if (e->outer == outer->reg && e->nidx == nidx && e->inner == inner_reg && e->expand == expand) {
            return e->value->declined ? NULL : e->value;
        }
        slot = (slot + 1) & (LAY_SLOTS - 1);
    }
    if (lay_count >= LAY_SLOTS / 2) { want_clear = 1; return NULL; }
    PyObject *v = PyObject_CallFunction(s->layout_cb, "Oiiii", s->chunk_obj, outer->offset, nidx,
                                        inner ? inner->offset : -1, expand);
    if (v == NULL) { *rc = -1; return NULL; }
    if (epoch != s->epoch) { Py_DECREF(v); return NULL; } /* caches cleared meanwhile */
    Layout *l = to_layout(v);
    Py_DECREF(v);
    if (l == NULL) { *rc = -1; return NULL; }
    slot = (size_t)(h & (LAY_SLOTS - 1));
    while (lay[slot].value != NULL) slot = (slot + 1) & (LAY_SLOTS - 1);
    lay[slot].outer = outer->reg; lay[slot].nidx = nidx; lay[slot].inner = inner_reg;
    lay[slot].expand = expand; lay[slot].value = l;
    lay_count++;
    return l->declined ? NULL : l;
}

/* ------------------------------------------------------------------ values */
/* value `index` of group (desc, count, off) as row_from_xml reads its rendering;
 * 0 ok (*out new reference), 1 decline, -1 error */
static int value_text(State *s, const uint8_t *desc, uint32_t count, const uint32_t *off, long index,
                      PyObject **out)
{
    if (index < 0 || (uint32_t)index >= count) return 1;
    int type = desc[4 * index + 2];
    const uint8_t *p = s->c + off[index];
    uint32_t size = off[index + 1] - off[index];
    char buf[32];
    int n;
    switch (type) {
    case T_STRING: {
        int ascii;
        if (!good_text(p, size / 2, 0, &ascii)) return 1;
        *out = make_text(p, size / 2, ascii);
        return *out == NULL ? -1 : 0;
    }
    case T_UINT8: n = snprintf(buf, sizeof buf, "%u", (unsigned)p[0]); break;
    case T_UINT16: n = snprintf(buf, sizeof buf, "%u", (unsigned)u16(p)); break;
    case T_UINT32: n = snprintf(buf, sizeof buf, "%lu", (unsigned long)u32(p)); break;
    case T_UINT64: n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)u64(p)); break;
    case T_HEX32: n = snprintf(buf, sizeof buf, "0x%lx", (unsigned long)u32(p)); break;
    case T_HEX64: n = snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)u64(p)); break;
    case T_NULL: n = 0; buf[0] = 0; break;
    default: return 1;
    }
    *out = PyUnicode_FromStringAndSize(buf, n);
    return *out == NULL ? -1 : 0;
}

/* owner 0: the record's instance; owner k + 1: its nested value k (the one it has) */
static int group(const Inst *in, int owner, const uint8_t **desc, uint32_t *count, const uint32_t **off)
{
    if (owner == 0) { *desc = in->desc; *count = in->count; *off = in->off; return 0; }
    if (in->inner_t == NULL || owner != in->nidx + 1) return 1;
    *desc = in->inner_desc; *count = in->inner_count; *off = in->inner_off;
    return 0;
}

static void civil(long long z, int *y, int *m, int *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long yy = yoe + era * 400;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

/* System/Computer or System/Channel; 0 ok (*out new ref), 1 decline, -1 error */
static int system_text(State *s, const Inst *in, const LSlot *sl, int channel, PyObject **out)
{
    if (sl->kind == 0) { Py_INCREF(Py_None); *out = Py_None; return 0; }
    if (sl->kind == 2) {
        if (PyUnicode_GET_LENGTH(sl->text) == 0) return 1;
        Py_INCREF(sl->text); *out = sl->text; return 0;
    }
    const uint8_t *desc; uint32_t count; const uint32_t *off;
    if (group(in, (int)(sl->slot >> 16), &desc, &count, &off)) return 1;
    long index = sl->slot & 0xFFFF;
    if ((uint32_t)index >= count || desc[4 * index + 2] != T_STRING) return 1;
    const uint8_t *p = s->c + off[index];
    uint32_t units = (off[index + 1] - off[index]) / 2;
    int ascii;
    if (units == 0 || !good_text(p, units, channel, &ascii)) return 1;
    *out = make_text(p, units, ascii);
    return *out == NULL ? -1 : 0;
}

/* evtxbin._checked(extract, ...): (when, computer, channel, data); 0 ok, 1 decline, -1 error */
static int fields(State *s, const Inst *in, const Layout *l, PyObject **out)
{
    PyObject *data = NULL, *when = NULL, *computer = NULL, *channel = NULL;
    int r = 1;
    data = PyDict_New();
    if (data == NULL) return -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(l->literals); i++) {
        PyObject *item = PyTuple_GET_ITEM(l->literals, i);
        if (PyDict_SetItem(data, PyTuple_GET_ITEM(item, 0), PyTuple_GET_ITEM(item, 1))) { r = -1; goto done; }
    }
    for (Py_ssize_t i = 0; i < l->nplan; i++) {
        const uint8_t *desc; uint32_t count; const uint32_t *off;
        if (group(in, l->powner[i], &desc, &count, &off)) goto done;
        PyObject *v;
        int vr = value_text(s, desc, count, off, l->pindex[i], &v);
        if (vr) { r = vr; goto done; }
        int sr = PyDict_SetItem(data, l->pname[i], v);
        Py_DECREF(v);
        if (sr) { r = -1; goto done; }
    }
    if (l->time < 0) {
        Py_INCREF(Py_None); when = Py_None;
    } else {
        const uint8_t *desc; uint32_t count; const uint32_t *off;
        if (group(in, (int)(l->time >> 16), &desc, &count, &off)) goto done;
        long index = l->time & 0xFFFF;
        if ((uint32_t)index >= count) goto done;
        int type = desc[4 * index + 2];
        if (type == T_NULL) {
            Py_INCREF(Py_None); when = Py_None;
        } else if (type == T_FILETIME) {
            uint64_t ticks = u64(s->c + off[index]);
            if (ticks < FT_MIN || ticks >= FT_MAX) goto done;
            uint64_t us = ticks / 10;
            uint64_t secs = us / 1000000;
            long long days = (long long)(secs / 86400) - 134774; /* 1601-01-01 -> 1970-01-01 */
            int rem = (int)(secs % 86400);
            int y, m, d;
            civil(days, &y, &m, &d);
            when = PyDateTimeAPI->DateTime_FromDateAndTime(y, m, d, rem / 3600, rem / 60 % 60, rem % 60,
                                                           (int)(us % 1000000), PyDateTime_TimeZone_UTC,
                                                           PyDateTimeAPI->DateTimeType);
            if (when == NULL) { r = -1; goto done; }
        } else {
            goto done;
        }
    }
    if ((r = system_text(s, in, &l->computer, 0, &computer)) != 0) goto done;
    r = 1;
    if ((r = system_text(s, in, &l->channel, 1, &channel)) != 0) goto done;
    *out = PyTuple_Pack(4, when, computer, channel, data);
    r = *out == NULL ? -1 : 0;
done:
    Py_XDECREF(data); Py_XDECREF(when); Py_XDECREF(computer); Py_XDECREF(channel);
    return r;
}

/* ------------------------------------------------------------------ records */
#define DECLINE(x) do { rc = (x); goto out; } while (0)

static int read_records(State *s, PyObject *wanted, PyObject *list)
{
    const uint8_t *c = s->c;
    uint64_t first_num = u64(c + 8), last_num = u64(c + 16), first_id = u64(c + 24), last_id = u64(c + 32);
    uint32_t header_size = u32(c + 40), last_offset = u32(c + 44), free_off = u32(c + 48);
    int rc = 1;
    if (header_size != 128 || free_off <= CHUNK_HEADER || free_off > CHUNK) return 1;
    if (last_offset < CHUNK_HEADER || last_offset >= free_off) return 1;
    if (last_id < first_id || last_num - first_num != last_id - first_id) return 1;
    if ((rc = check_tables(s)) != 0) return rc;
    int free = (int)free_off;
    uint64_t expected = first_id;
    int pos = CHUNK_HEADER;
    while (pos < free) {
        if (pos + 28 > free) DECLINE(1);
        uint32_t magic = u32(c + pos), size = u32(c + pos + 4);
        uint64_t rid = u64(c + pos + 8), written = u64(c + pos + 16);
        uint32_t fragment = u32(c + pos + 24);
        if (magic != 0x00002A2A || written >= FT_MAX || size > (uint32_t)(free - pos) || size < 40)
            DECLINE(1);
        int end = pos + (int)size;
        if (u32(c + end - 4) != size || rid != expected || fragment != FRAGMENT) DECLINE(1);
        expected++;
        s->arena_used = 0;
        Inst in;
        if ((rc = instance(s, pos + 28, end - 4, 0, &in)) != 0) goto out;
        uint32_t tail = in.off[in.count];
        if (tail > (uint32_t)(end - 5) || c[tail] != 0) DECLINE(1);
        Layout *shape = get_layout(s, in.t, -1, NULL, 0, &rc);
        if (shape == NULL) goto out;
        for (uint32_t i = 0; i < in.count; i++) {
            if (in.desc[4 * i + 2] != T_BINXML) continue;
            for (Py_ssize_t k = 0; k < shape->nbefore; k++) if (shape->before[k] == (long)i) DECLINE(1);
        }
        unsigned long long number;
        if (shape->eid_literal) {
            number = (unsigned long long)shape->eid;
        } else {
            long slot = shape->eid;
            if (slot > 0xFFFF || (uint32_t)slot >= in.count) DECLINE(1);
            int type = in.desc[4 * slot + 2];
            uint32_t start = in.off[slot], width = in.off[slot + 1] - in.off[slot];
            if (type == T_UINT8 && width == 1) number = c[start];
            else if (type == T_UINT16 && width == 2) number = u16(c + start);
            else if (type == T_UINT32 && width == 4) number = u32(c + start);
            else if (type == T_UINT64 && width == 8) number = u64(c + start);
            else DECLINE(1);
        }
        PyObject *eid = PyLong_FromUnsignedLongLong(number);
        if (eid == NULL) DECLINE(-1);
        int is_wanted = PySet_Contains(wanted, eid);
        if (is_wanted < 0) { Py_DECREF(eid); DECLINE(-1); }
        PyObject *f = NULL;
        if (is_wanted) {
            Layout *l = shape;
            if (in.nnested > 1 || (in.nnested == 1 && in.inner_nested)) { Py_DECREF(eid); DECLINE(1); }
            if (in.nnested == 1) {
                l = get_layout(s, in.t, in.nidx, in.inner_t, 1, &rc);
                if (l == NULL) { Py_DECREF(eid); goto out; }
            }
            if ((rc = fields(s, &in, l, &f)) != 0) { Py_DECREF(eid); goto out; }
        } else {
            Py_INCREF(Py_None);
            f = Py_None;
        }
        PyObject *id = PyLong_FromUnsignedLongLong(rid);
        PyObject *rec = id ? PyTuple_Pack(3, id, eid, f) : NULL;
        Py_XDECREF(id); Py_DECREF(eid); Py_DECREF(f);
        if (rec == NULL) DECLINE(-1);
        int ar = PyList_Append(list, rec);
        Py_DECREF(rec);
        if (ar) DECLINE(-1);
        pos = end;
        if (rid == last_id) break;
    }
    if (pos != free || expected != last_id + 1) DECLINE(1);
    rc = 0;
out:
    return rc;
}

static PyObject *read_chunk(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    PyObject *wanted, *cb;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*OO:read_chunk", &buf, &wanted, &cb)) return NULL;
    PyObject *result = NULL;
    if (!PyAnySet_Check(wanted)) { PyErr_SetString(PyExc_TypeError, "wanted_ids must be a set"); goto done; }
    if (buf.len != CHUNK) { result = Py_None; Py_INCREF(result); goto done; }
    const uint8_t *c = buf.buf;
    if (memcmp(c, "ElfChnk\0", 8) != 0) {
        for (Py_ssize_t i = 0; i < CHUNK; i++) if (c[i]) { result = Py_None; Py_INCREF(result); goto done; }
        result = PyList_New(0); /* an empty chunk in a dirty file: no records, no error */
        goto done;
    }
    if (cb != lay_owner || want_clear || reg_count > REG_MAX - MAX_TEMPLATES - 1 || lay_count > LAY_SLOTS / 4) {
        if (active > 0) { /* another thread is inside a call (in a callback): never free under it */
            want_clear = 1;
            result = Py_None; Py_INCREF(result); goto done;
        }
        clear_caches();
        Py_XDECREF(lay_owner);
        Py_INCREF(cb);
        lay_owner = cb;
    }
    State *s = malloc(sizeof *s);
    if (s == NULL) { PyErr_NoMemory(); goto done; }
    s->c = c; s->nt = 0; s->last = 0; s->arena_used = 0;
    s->layout_cb = cb; s->epoch = epoch;
    s->chunk_obj = buf.obj;
    PyObject *list = PyList_New(0);
    if (list == NULL) { free(s); goto done; }
    active++;
    int rc = read_records(s, wanted, list);
    active--;
    free(s);
    if (rc == 0) { result = list; }
    else {
        Py_DECREF(list);
        if (rc == 1) { result = Py_None; Py_INCREF(result); }
    }
done:
    PyBuffer_Release(&buf);
    return result;
}

/* ------------------------------------------------------------------ rows
 * row(event_id, fields, source) is winevent.event_row(event_id, data, source=source,
 * when=..., computer=..., channel=...) for the hot event IDs 4624/4625, 5140/5145 and 4776
 * (fields: (when, computer, channel, data) as read_chunk gives them), or None when this
 * code does not take the record (another EventID, a value that is not a str, a LogonType
 * or a 4776 Status with non-ASCII characters): the caller then runs event_row, the
 * reference. configure(kinds, names) gives the EventKind members and the EventData names. */
enum { K_LOGON, K_LOGON_FAILURE, K_SHARE_CONNECT, K_FILE_ACCESS, K_FILE_DELETE, K_FILE_WRITE, K_COUNT };
enum { N_IP, N_WORKSTATION_NAME, N_TARGET_USER, N_TARGET_DOMAIN, N_SUB_STATUS, N_LOGON_TYPE, N_AUTH,
       N_LM, N_STATUS, N_ACCESS_LIST, N_SUBJECT_USER, N_SUBJECT_DOMAIN, N_SHARE_NAME, N_RELATIVE,
       N_ACCESS_MASK, N_WORKSTATION, N_PACKAGE, N_COUNT };
static PyObject *kinds[K_COUNT];
static PyObject *names[N_COUNT];
static PyObject *s_ipc, *s_space, *s_empty, *s_ffff, *s_delete, *s_write1, *s_write2;

#define NOT_TAKEN ((PyObject *)&not_taken_marker)
static int not_taken_marker;

/* winevent._val: data.get(key), str.strip(), "", "-", "NULL", "N/A" -> None.
 * New reference; NULL with an exception; NOT_TAKEN for a value that is not a str. */
static PyObject *val(PyObject *data, int key)
{
    PyObject *v = PyDict_GetItemWithError(data, names[key]);
    if (v == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    if (!PyUnicode_CheckExact(v)) return NOT_TAKEN;
    Py_ssize_t n = PyUnicode_GET_LENGTH(v), i = 0, j = n;
    int kind = PyUnicode_KIND(v);
    const void *d = PyUnicode_DATA(v);
    while (i < j && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, d, i))) i++;
    while (j > i && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, d, j - 1))) j--;
    Py_ssize_t m = j - i;
    if (m == 0) Py_RETURN_NONE;
    if (m <= 4) { /* any kind: stripping may have left only ASCII in a wider str */
        Py_UCS4 p[4];
        for (Py_ssize_t k = 0; k < m; k++) p[k] = PyUnicode_READ(kind, d, i + k);
        if ((m == 1 && p[0] == '-') || (m == 4 && p[0] == 'N' && p[1] == 'U' && p[2] == 'L' && p[3] == 'L') ||
            (m == 3 && p[0] == 'N' && p[1] == '/' && p[2] == 'A'))
            Py_RETURN_NONE;
    }
    if (i == 0 && j == n) { Py_INCREF(v); return v; }
    return PyUnicode_Substring(v, i, j);
}

/* the values of keys[0..n) into out (new references); 0 ok, 1 not taken, -1 error */
static int vals(PyObject *data, const int *keys, int n, PyObject **out)
{
    for (int i = 0; i < n; i++) {
        PyObject *v = val(data, keys[i]);
        if (v == NULL || v == NOT_TAKEN) {
            for (int k = 0; k < i; k++) Py_DECREF(out[k]);
            return v == NULL ? -1 : 1;
        }
        out[i] = v;
    }
    return 0;
}

/* winevent._unmapped: "::ffff:" prefix off (takes and returns a reference) */
static PyObject *unmapped(PyObject *ip)
{
    if (ip == Py_None || PyUnicode_Tailmatch(ip, s_ffff, 0, PY_SSIZE_T_MAX, -1) != 1) return ip;
    PyObject *r = PyUnicode_Substring(ip, 7, PyUnicode_GET_LENGTH(ip));
    Py_DECREF(ip);
    return r;
}

/* winevent._logon_type: 1 not taken (non-ASCII: str.isdecimal() has other digits) */
static int logon_type(PyObject *v, PyObject **out)
{
    if (v == Py_None || PyUnicode_GET_LENGTH(v) == 0 || PyUnicode_GET_LENGTH(v) > 18) { Py_INCREF(Py_None); *out = Py_None; return 0; }
    if (!PyUnicode_IS_ASCII(v)) return 1;
    const char *p = (const char *)PyUnicode_DATA(v);
    long long x = 0;
    for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(v); i++) {
        if (p[i] < '0' || p[i] > '9') { Py_INCREF(Py_None); *out = Py_None; return 0; }
        x = x * 10 + (p[i] - '0');
    }
    *out = PyLong_FromLongLong(x);
    return *out == NULL ? -1 : 0;
}

/* winevent._share: name.rsplit("\\", 1)[-1] or name (takes and returns a reference) */
static PyObject *share(PyObject *name)
{
    if (name == Py_None) return name;
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    Py_ssize_t at = PyUnicode_FindChar(name, '\\', 0, n, -1);
    if (at < 0 || at == n - 1) return name; /* no backslash, or "" after it: name */
    PyObject *r = PyUnicode_Substring(name, at + 1, n);
    Py_DECREF(name);
    return r;
}

static PyObject *build(PyObject *const *items)
{
    PyObject *t = PyTuple_New(18);
    if (t == NULL) return NULL;
    for (int i = 0; i < 18; i++) {
        PyObject *v = items[i] ? items[i] : Py_None;
        Py_INCREF(v);
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

typedef struct Sink Sink;
static int sink_append_items(Sink *s, PyObject *const *items);

/* the row of items (NULL: None): a new tuple, or with a sink, appended to it (Py_True) when
 * the sink takes every value, else the tuple (the caller hands it on as an odd row) */
static PyObject *emit(Sink *target, PyObject *const *items)
{
    if (target != NULL) {
        int r = sink_append_items(target, items);
        if (r < 0) return NULL;
        if (r == 0) Py_RETURN_TRUE;
    }
    return build(items);
}

/* row()'s work: eid an exact str, fields a tuple of 4, configure() done (checked by callers);
 * target: see emit() */
static PyObject *row_impl(PyObject *eid, PyObject *fields, PyObject *source, Sink *target)
{
    PyObject *when = PyTuple_GET_ITEM(fields, 0), *computer = PyTuple_GET_ITEM(fields, 1);
    PyObject *data = PyTuple_GET_ITEM(fields, 3);
    if (!PyDict_CheckExact(data) || !PyUnicode_IS_ASCII(eid) || PyUnicode_GET_LENGTH(eid) != 4) Py_RETURN_NONE;
    const char *e = (const char *)PyUnicode_DATA(eid);
    PyObject *v[9];
    PyObject *items[18] = {0};
    PyObject *result = NULL;
    int r;
    items[1] = source; items[2] = eid; items[3] = when; items[6] = computer;
    if (memcmp(e, "4624", 4) == 0 || memcmp(e, "4625", 4) == 0) {
        static const int keys[9] = {N_IP, N_WORKSTATION_NAME, N_TARGET_USER, N_TARGET_DOMAIN, N_SUB_STATUS,
                                    N_LOGON_TYPE, N_AUTH, N_LM, N_STATUS};
        int failure = e[3] == '5';
        if ((r = vals(data, keys, 9, v)) != 0) { if (r < 0) return NULL; Py_RETURN_NONE; }
        PyObject *lt = NULL;
        v[0] = unmapped(v[0]);
        if (v[0] == NULL || (r = logon_type(v[5], &lt)) != 0) {
            for (int k = 0; k < 9; k++) Py_XDECREF(v[k]);
            if (v[0] == NULL || r < 0) return NULL;
            Py_RETURN_NONE;
        }
        items[0] = kinds[failure ? K_LOGON_FAILURE : K_LOGON];
        items[4] = v[0]; items[5] = v[1]; items[7] = v[2]; items[8] = v[3];
        items[12] = failure ? v[4] : NULL; items[13] = lt; items[14] = v[6]; items[15] = v[7]; items[17] = v[8];
        result = emit(target, items);
        Py_DECREF(lt);
        for (int k = 0; k < 9; k++) Py_DECREF(v[k]);
        return result;
    }
    if (memcmp(e, "5140", 4) == 0 || memcmp(e, "5145", 4) == 0) {
        static const int keys[6] = {N_IP, N_SUBJECT_USER, N_SUBJECT_DOMAIN, N_SHARE_NAME, N_RELATIVE, N_ACCESS_MASK};
        PyObject *access = PyDict_GetItemWithError(data, names[N_ACCESS_LIST]);
        if (access == NULL && PyErr_Occurred()) return NULL;
        if (access == NULL) access = s_empty;
        if (!PyUnicode_CheckExact(access)) Py_RETURN_NONE;
        if ((r = vals(data, keys, 6, v)) != 0) { if (r < 0) return NULL; Py_RETURN_NONE; }
        v[0] = unmapped(v[0]);
        v[3] = share(v[3]);
        PyObject *detail = NULL, *parts = NULL;
        int kind = e[3] == '0' ? K_SHARE_CONNECT : K_FILE_ACCESS;
        if (v[0] == NULL || v[3] == NULL) goto share_done;
        if (kind == K_FILE_ACCESS) {
            int del = PyUnicode_Contains(access, s_delete);
            if (del < 0) goto share_done;
            if (del) {
                kind = K_FILE_DELETE;
            } else {
                int w1 = PyUnicode_Contains(access, s_write1), w2 = w1 == 1 ? 0 : PyUnicode_Contains(access, s_write2);
                if (w1 < 0 || w2 < 0) goto share_done;
                if (w1 || w2) {
                    int ipc = v[3] == Py_None ? 0 : PyUnicode_Compare(v[3], s_ipc) == 0;
                    if (PyErr_Occurred()) goto share_done;
                    if (!ipc) kind = K_FILE_WRITE;
                }
            }
        }
        parts = PyUnicode_Split(access, NULL, -1);
        if (parts == NULL) goto share_done;
        detail = PyUnicode_Join(s_space, parts);
        if (detail == NULL) goto share_done;
        items[0] = kinds[kind];
        items[4] = v[0]; items[7] = v[1]; items[8] = v[2]; items[9] = v[3]; items[10] = v[4];
        items[12] = v[5]; items[17] = PyUnicode_GET_LENGTH(detail) ? detail : NULL;
        result = emit(target, items);
    share_done:
        Py_XDECREF(parts); Py_XDECREF(detail);
        for (int k = 0; k < 6; k++) Py_XDECREF(v[k]);
        return result;
    }
    if (memcmp(e, "4776", 4) == 0) {
        static const int keys[4] = {N_STATUS, N_WORKSTATION, N_TARGET_USER, N_PACKAGE};
        if ((r = vals(data, keys, 4, v)) != 0) { if (r < 0) return NULL; Py_RETURN_NONE; }
        int ok;
        if (v[0] == Py_None) {
            ok = 1;
        } else if (!PyUnicode_IS_ASCII(v[0])) {
            for (int k = 0; k < 4; k++) Py_DECREF(v[k]);
            Py_RETURN_NONE; /* str.lower() beyond ASCII: the reference decides */
        } else {
            const char *p = (const char *)PyUnicode_DATA(v[0]);
            Py_ssize_t n = PyUnicode_GET_LENGTH(v[0]);
            ok = (n == 1 && p[0] == '0') || (n == 3 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && p[2] == '0');
        }
        items[0] = kinds[ok ? K_LOGON : K_LOGON_FAILURE];
        items[5] = v[1]; items[7] = v[2]; items[12] = ok ? NULL : v[0]; items[14] = v[3];
        result = emit(target, items);
        for (int k = 0; k < 4; k++) Py_DECREF(v[k]);
        return result;
    }
    Py_RETURN_NONE;
}

static PyObject *row(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 3 || !PyUnicode_CheckExact(args[0]) || !PyTuple_Check(args[1]) || PyTuple_GET_SIZE(args[1]) != 4) {
        PyErr_SetString(PyExc_TypeError, "row(event_id: str, fields: tuple of 4, source)");
        return NULL;
    }
    if (kinds[0] == NULL) { PyErr_SetString(PyExc_RuntimeError, "configure() first"); return NULL; }
    return row_impl(args[0], args[1], args[2], NULL);
}

/* ------------------------------------------------------------------ the column sink
 * Sink(source, after_record, event_row, unknown, number_text): EvtxSource._fast_rows's loop,
 * row()/event_row and rows_to_frame's columns in one place. feed(records, start) takes
 * read_chunk's records and does exactly _fast_rows's bookkeeping (records read, max_seen,
 * last_record, unknown event IDs, events, first/last time), appending each row's values
 * straight into Arrow buffers: Utf8 columns as LargeUtf8 ("U": int64 offsets, bytes,
 * validity), time as int64 microseconds ("tsu:UTC"), logon_type as int64 ("l"). take()
 * hands the columns over as Arrow C data interface capsule pairs (polars imports them
 * without copying) and starts new ones.
 * A row is appended only when every value is what rows_to_frame turns into the same cell
 * with certainty: None, an exact str (or an EventKind member: its value) with a UTF-8 form,
 * an exact int in int64 range for logon_type, an exact datetime with tzinfo UTC for time.
 * Anything else ("odd") is handed back to Python, which flushes the sink and builds that
 * row with rows_to_frame (the reference: the same cell, or the same exception). */
#include "_arrow_abi.h"

#define NCOLS 18
#define COL_TIME 3
#define COL_LOGON 13
/* events.EVENT_COLUMNS (winevent checks the row order against it at import) */
static const char *const col_names[NCOLS] = {
    "kind", "source", "event_id", "time", "src_ip", "workstation", "server", "user", "domain",
    "share", "path", "new_path", "status", "logon_type", "auth_package", "lm_package", "protocol", "detail"};

typedef struct { uint8_t *p; size_t len, cap; } SBuf;
typedef struct { SBuf valid, off, data; int64_t nulls; } SCol;

struct Sink {
    PyObject_HEAD
    SCol cols[NCOLS];
    int64_t rows, cap_rows;  /* rows held; rows the per-row buffers have room for */
    PyObject *source, *event_row, *unknown, *number_text, *kwnames;
    int after_sign;          /* -1: after_record < 0, 1: above 2**64-1, 0: after */
    uint64_t after;
    long long records, events;
    uint64_t max_seen;
    int have_last;
    uint64_t last_record;
    PyObject *first_time, *last_time;
    int64_t first_us, last_us;
    int busy;
};

static int sbuf_grow(SBuf *b, size_t extra);
static inline int sbuf_reserve(SBuf *b, size_t extra)
{
    return extra <= b->cap - b->len ? 0 : sbuf_grow(b, extra);
}

static int sbuf_grow(SBuf *b, size_t extra)
{
    if (extra > (size_t)PY_SSIZE_T_MAX - b->len) { PyErr_NoMemory(); return -1; }
    size_t need = b->len + extra, cap = b->cap ? b->cap : 4096;
    while (cap < need) {
        if (cap > (size_t)PY_SSIZE_T_MAX / 2) { cap = need; break; }
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) { PyErr_NoMemory(); return -1; }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void scol_free(SCol *c)
{
    free(c->valid.p); free(c->off.p); free(c->data.p);
    memset(c, 0, sizeof *c);
}

static void sink_reset(Sink *s)
{
    for (int i = 0; i < NCOLS; i++) scol_free(&s->cols[i]);
    s->rows = s->cap_rows = 0;
}

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* an exact datetime with tzinfo UTC -> microseconds since the epoch; 0 ok, 1 odd */
static int utc_micros(PyObject *v, int64_t *out)
{
    if (!PyDateTime_CheckExact(v)) return 1;
    if (!_PyDateTime_HAS_TZINFO(v) || PyDateTime_DATE_GET_TZINFO(v) != PyDateTime_TimeZone_UTC) return 1;
    int64_t days = days_from_civil(PyDateTime_GET_YEAR(v), PyDateTime_GET_MONTH(v), PyDateTime_GET_DAY(v));
    int64_t secs = days * 86400 + PyDateTime_DATE_GET_HOUR(v) * 3600 + PyDateTime_DATE_GET_MINUTE(v) * 60 +
                   PyDateTime_DATE_GET_SECOND(v);
    *out = secs * 1000000 + PyDateTime_DATE_GET_MICROSECOND(v);
    return 0;
}

/* room for twice the rows (at least 1024): validity zeroed, offsets[0] = 0 */
static int sink_grow(Sink *s)
{
    int64_t cap = s->cap_rows ? 2 * s->cap_rows : 1024;
    if (cap > ((int64_t)1 << 40)) { PyErr_NoMemory(); return -1; }
    for (int i = 0; i < NCOLS; i++) {
        SCol *c = &s->cols[i];
        size_t vbytes = (size_t)(cap + 7) / 8;
        if (sbuf_reserve(&c->valid, vbytes - c->valid.len)) return -1;
        memset(c->valid.p + c->valid.len, 0, vbytes - c->valid.len);
        c->valid.len = vbytes;
        if (i == COL_TIME || i == COL_LOGON) {
            if (sbuf_reserve(&c->data, 8 * (size_t)cap - c->data.len)) return -1;
            c->data.len = 8 * (size_t)cap;
        } else {
            size_t need = 8 * (size_t)(cap + 1);
            if (sbuf_reserve(&c->off, need - c->off.len)) return -1;
            if (c->off.len == 0) { int64_t zero = 0; memcpy(c->off.p, &zero, 8); }
            c->off.len = need;
        }
    }
    s->cap_rows = cap;
    return 0;
}

/* Append one row of 18 values (NULL: None): 0 appended, 1 odd (nothing appended), -1 error
 * (nothing appended). */
static int sink_append_items(Sink *s, PyObject *const *items)
{
    const char *ptr[NCOLS];
    Py_ssize_t len[NCOLS];
    int64_t num[NCOLS];
    PyTypeObject *kind_type = kinds[0] ? Py_TYPE(kinds[0]) : NULL;
    for (int i = 0; i < NCOLS; i++) {
        PyObject *v = items[i];
        ptr[i] = NULL; len[i] = 0; num[i] = 0;
        if (v == NULL || v == Py_None) continue;
        if (i == COL_TIME) {
            if (utc_micros(v, &num[i])) return 1;
            ptr[i] = "";
        } else if (i == COL_LOGON) {
            if (!PyLong_CheckExact(v)) return 1;
            int overflow;
            long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (overflow) return 1;
            if (x == -1 && PyErr_Occurred()) return -1;
            num[i] = x;
            ptr[i] = "";
        } else {
            if (PyUnicode_CheckExact(v) && PyUnicode_IS_COMPACT_ASCII(v)) { /* its bytes are its UTF-8 */
                ptr[i] = (const char *)PyUnicode_DATA(v);
                len[i] = PyUnicode_GET_LENGTH(v);
                continue;
            }
            if (!PyUnicode_CheckExact(v) && (kind_type == NULL || Py_TYPE(v) != kind_type)) return 1;
            ptr[i] = PyUnicode_AsUTF8AndSize(v, &len[i]);
            if (ptr[i] == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return -1;
                PyErr_Clear(); /* lone surrogates: polars raises; the reference path says so */
                return 1;
            }
        }
    }
    /* room first, so that a failure leaves every column as it was: the per-row parts
     * (validity bits, offsets, 8-byte values) grow together by whole row capacities */
    int64_t row_no = s->rows;
    if (row_no == s->cap_rows && sink_grow(s)) return -1;
    for (int i = 0; i < NCOLS; i++) {
        if (len[i] && sbuf_reserve(&s->cols[i].data, (size_t)len[i])) return -1;
    }
    size_t vbyte = (size_t)(row_no >> 3);
    uint8_t vbit = (uint8_t)(1u << (row_no & 7));
    for (int i = 0; i < NCOLS; i++) {
        SCol *c = &s->cols[i];
        if (ptr[i] != NULL) c->valid.p[vbyte] |= vbit;
        else c->nulls++;
        if (i == COL_TIME || i == COL_LOGON) {
            memcpy(c->data.p + 8 * row_no, &num[i], 8);
        } else {
            if (len[i]) memcpy(c->data.p + c->data.len, ptr[i], (size_t)len[i]);
            c->data.len += (size_t)len[i];
            int64_t end = (int64_t)c->data.len;
            memcpy(c->off.p + 8 * (row_no + 1), &end, 8);
        }
    }
    s->rows++;
    /* SourceStats.see(row[3]) */
    PyObject *when = items[COL_TIME];
    if (when != NULL && when != Py_None) {
        int64_t us = num[COL_TIME];
        if (s->first_time == NULL || us < s->first_us) {
            Py_INCREF(when); Py_XSETREF(s->first_time, when); s->first_us = us;
        }
        if (s->last_time == NULL || us > s->last_us) {
            Py_INCREF(when); Py_XSETREF(s->last_time, when); s->last_us = us;
        }
    }
    return 0;
}

/* Append one 18-tuple row (see sink_append_items; 1 too for anything but an 18-tuple) */
static int sink_append(Sink *s, PyObject *row)
{
    if (!PyTuple_CheckExact(row) || PyTuple_GET_SIZE(row) != NCOLS) return 1;
    return sink_append_items(s, &PyTuple_GET_ITEM(row, 0));
}

static int sink_traverse(Sink *s, visitproc visit, void *arg)
{
    Py_VISIT(s->source); Py_VISIT(s->event_row); Py_VISIT(s->unknown); Py_VISIT(s->number_text);
    return 0;
}

static int sink_clear(Sink *s)
{
    Py_CLEAR(s->source); Py_CLEAR(s->event_row); Py_CLEAR(s->unknown); Py_CLEAR(s->number_text);
    Py_CLEAR(s->kwnames); Py_CLEAR(s->first_time); Py_CLEAR(s->last_time);
    return 0;
}

static void sink_dealloc(Sink *s)
{
    PyObject_GC_UnTrack(s);
    sink_clear(s);
    sink_reset(s);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyObject *sink_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    PyObject *source, *after, *event_row, *unknown, *number_text;
    static char *kwlist[] = {"source", "after_record", "event_row", "unknown", "number_text", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "UO!OO!O!:Sink", kwlist, &source, &PyLong_Type, &after, &event_row,
                                     &PySet_Type, &unknown, &PyDict_Type, &number_text))
        return NULL;
    if (kinds[0] == NULL) { PyErr_SetString(PyExc_RuntimeError, "configure() first"); return NULL; }
    if (!PyCallable_Check(event_row)) { PyErr_SetString(PyExc_TypeError, "event_row must be callable"); return NULL; }
    Sink *s = (Sink *)type->tp_alloc(type, 0);
    if (s == NULL) return NULL;
    if (_PyLong_Sign(after) < 0) {
        s->after_sign = -1;
    } else {
        s->after = PyLong_AsUnsignedLongLong(after);
        if (s->after == (uint64_t)-1 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) { Py_DECREF(s); return NULL; }
            PyErr_Clear();
            s->after_sign = 1;
        }
    }
    s->kwnames = Py_BuildValue("(ssss)", "source", "when", "computer", "channel");
    if (s->kwnames == NULL) { Py_DECREF(s); return NULL; }
    Py_INCREF(source); s->source = source;
    Py_INCREF(event_row); s->event_row = event_row;
    Py_INCREF(unknown); s->unknown = unknown;
    Py_INCREF(number_text); s->number_text = number_text;
    return (PyObject *)s;
}

/* a record id: an exact int in [0, 2**64) */
static int record_id(PyObject *v, uint64_t *out)
{
    if (!PyLong_CheckExact(v) || _PyLong_Sign(v) < 0) return 1;
    *out = PyLong_AsUnsignedLongLong(v);
    if (*out == (uint64_t)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return -1;
        PyErr_Clear();
        return 1;
    }
    return 0;
}

/* feed(records, start) -> True (done), False (declined: records not in read_chunk's shape,
 * nothing done; the caller runs the reference loop), or (index, row): records[index]'s row
 * is odd (see above); its bookkeeping is done except SourceStats.see and the frame. */
static PyObject *sink_feed(Sink *s, PyObject *args)
{
    PyObject *records;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "O!n:feed", &PyList_Type, &records, &start)) return NULL;
    if (s->busy) { PyErr_SetString(PyExc_RuntimeError, "Sink is busy"); return NULL; }
    Py_ssize_t n = PyList_GET_SIZE(records);
    if (start < 0 || start > n) { PyErr_SetString(PyExc_IndexError, "start out of range"); return NULL; }
    if (start == 0) {
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *r = PyList_GET_ITEM(records, i);
            uint64_t id;
            if (!PyTuple_CheckExact(r) || PyTuple_GET_SIZE(r) != 3) Py_RETURN_FALSE;
            int rr = record_id(PyTuple_GET_ITEM(r, 0), &id);
            if (rr < 0) return NULL;
            if (rr) Py_RETURN_FALSE;
            PyObject *f = PyTuple_GET_ITEM(r, 2);
            if (!PyLong_CheckExact(PyTuple_GET_ITEM(r, 1))) Py_RETURN_FALSE;
            if (f != Py_None && (!PyTuple_CheckExact(f) || PyTuple_GET_SIZE(f) != 4)) Py_RETURN_FALSE;
        }
    }
    Py_INCREF(records); /* the list may change in a callback: items are re-read and re-checked */
    s->busy = 1;
    PyObject *result = NULL;
    for (Py_ssize_t i = start; i < PyList_GET_SIZE(records); i++) {
        PyObject *r = PyList_GET_ITEM(records, i);
        uint64_t id;
        if (!PyTuple_CheckExact(r) || PyTuple_GET_SIZE(r) != 3 || record_id(PyTuple_GET_ITEM(r, 0), &id) ||
            !PyLong_CheckExact(PyTuple_GET_ITEM(r, 1))) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "records changed during feed()");
            goto out;
        }
        PyObject *number = PyTuple_GET_ITEM(r, 1), *fields = PyTuple_GET_ITEM(r, 2);
        s->records++;
        if (id > s->max_seen) s->max_seen = id;
        if (s->after_sign > 0 || (s->after_sign == 0 && id <= s->after)) continue;
        if (!s->have_last || id > s->last_record) { s->last_record = id; s->have_last = 1; }
        PyObject *eid = PyDict_GetItemWithError(s->number_text, number);
        if (eid != NULL && PyObject_IsTrue(eid) == 1) {
            Py_INCREF(eid);
        } else {
            if (PyErr_Occurred()) goto out;
            eid = PyObject_Str(number);
            if (eid == NULL) goto out;
        }
        PyObject *row = NULL;
        int appended = 0;
        if (fields != Py_None) {
            Py_INCREF(fields);
            if (PyUnicode_CheckExact(eid)) {
                row = row_impl(eid, fields, s->source, s);
                appended = row == Py_True;
            } else {
                row = Py_None; Py_INCREF(row);
            }
            if (row == Py_None) {
                Py_DECREF(row);
                PyObject *argv[6] = {eid, PyTuple_GET_ITEM(fields, 3), s->source, PyTuple_GET_ITEM(fields, 0),
                                     PyTuple_GET_ITEM(fields, 1), PyTuple_GET_ITEM(fields, 2)};
                row = PyObject_Vectorcall(s->event_row, argv, 2, s->kwnames);
            }
            Py_DECREF(fields);
            if (row == NULL) { Py_DECREF(eid); goto out; }
        }
        if (row == NULL || row == Py_None) {
            Py_XDECREF(row);
            int ar = PySet_Add(s->unknown, eid);
            Py_DECREF(eid);
            if (ar) goto out;
            continue;
        }
        Py_DECREF(eid);
        s->events++;
        if (appended) { Py_DECREF(row); continue; } /* row_impl appended it */
        int ar = sink_append(s, row);
        if (ar == 0) { Py_DECREF(row); continue; }
        if (ar < 0) { Py_DECREF(row); goto out; }
        result = Py_BuildValue("(nN)", i, row);
        goto out;
    }
    result = Py_True; Py_INCREF(result);
out:
    s->busy = 0;
    Py_DECREF(records);
    return result;
}

/* append(row) -> True (appended, SourceStats.see done) or False (odd: nothing done) */
static PyObject *sink_append_py(Sink *s, PyObject *row)
{
    if (s->busy) { PyErr_SetString(PyExc_RuntimeError, "Sink is busy"); return NULL; }
    int r = sink_append(s, row);
    if (r < 0) return NULL;
    return PyBool_FromLong(r == 0);
}

typedef struct { const void *buffers[3]; void *owned[3]; } SinkArray;

static void sink_release_array(struct ArrowArray *a)
{
    if (a->release == NULL) return;
    SinkArray *priv = a->private_data;
    if (priv != NULL) {
        for (int i = 0; i < 3; i++) free(priv->owned[i]);
        free(priv);
    }
    a->private_data = NULL;
    a->release = NULL;
}

static void sink_release_schema(struct ArrowSchema *sc) { sc->release = NULL; }

/* (schema capsule, array capsule) of column i; its buffers move into the array */
static PyObject *sink_export(Sink *s, int i)
{
    static const int64_t empty[2] = {0, 0};
    SCol *c = &s->cols[i];
    struct ArrowSchema *schema = calloc(1, sizeof *schema);
    struct ArrowArray *array = calloc(1, sizeof *array);
    SinkArray *priv = calloc(1, sizeof *priv);
    if (schema == NULL || array == NULL || priv == NULL) {
        free(schema); free(array); free(priv);
        return PyErr_NoMemory();
    }
    int text = i != COL_TIME && i != COL_LOGON;
    schema->format = i == COL_TIME ? "tsu:UTC" : i == COL_LOGON ? "l" : "U";
    schema->name = col_names[i];
    schema->flags = ARROW_FLAG_NULLABLE;
    schema->release = sink_release_schema;
    array->length = s->rows;
    array->null_count = c->nulls;
    array->n_buffers = text ? 3 : 2;
    array->buffers = priv->buffers;
    array->private_data = priv;
    array->release = sink_release_array;
    if (c->nulls > 0) { priv->owned[0] = c->valid.p; priv->buffers[0] = c->valid.p; c->valid.p = NULL; }
    if (text) {
        priv->owned[1] = c->off.p; priv->buffers[1] = c->off.p ? (const void *)c->off.p : (const void *)empty;
        priv->owned[2] = c->data.p; priv->buffers[2] = c->data.p ? (const void *)c->data.p : (const void *)empty;
        c->off.p = c->data.p = NULL;
    } else {
        priv->owned[1] = c->data.p; priv->buffers[1] = c->data.p ? (const void *)c->data.p : (const void *)empty;
        c->data.p = NULL;
    }
    scol_free(c);
    PyObject *sc = PyCapsule_New(schema, "arrow_schema", arrow_schema_capsule_free);
    if (sc == NULL) {
        schema->release(schema); free(schema);
        array->release(array); free(array);
        return NULL;
    }
    PyObject *ac = PyCapsule_New(array, "arrow_array", arrow_array_capsule_free);
    if (ac == NULL) {
        Py_DECREF(sc);
        array->release(array); free(array);
        return NULL;
    }
    return Py_BuildValue("(NN)", sc, ac);
}

/* take() -> tuple of 18 (schema, array) capsule pairs (the rows so far); the sink starts empty */
static PyObject *sink_take(Sink *s, PyObject *Py_UNUSED(ignored))
{
    if (s->busy) { PyErr_SetString(PyExc_RuntimeError, "Sink is busy"); return NULL; }
    if (s->cap_rows == 0 && sink_grow(s)) return NULL; /* empty columns: offsets [0] */
    PyObject *t = PyTuple_New(NCOLS);
    if (t == NULL) return NULL;
    for (int i = 0; i < NCOLS; i++) {
        PyObject *pair = sink_export(s, i);
        if (pair == NULL) { Py_DECREF(t); sink_reset(s); return NULL; }
        PyTuple_SET_ITEM(t, i, pair);
    }
    sink_reset(s);
    return t;
}

static PyObject *sink_get(Sink *s, void *which)
{
    switch ((int)(intptr_t)which) {
    case 0: return PyLong_FromLongLong(s->rows);
    case 1: return PyLong_FromLongLong(s->records);
    case 2: return PyLong_FromLongLong(s->events);
    case 3: return PyLong_FromUnsignedLongLong(s->max_seen);
    case 4: if (!s->have_last) Py_RETURN_NONE; return PyLong_FromUnsignedLongLong(s->last_record);
    case 5: return Py_NewRef(s->first_time ? s->first_time : Py_None);
    default: return Py_NewRef(s->last_time ? s->last_time : Py_None);
    }
}

static PyGetSetDef sink_getset[] = {
    {"rows", (getter)sink_get, NULL, "rows held (not yet taken)", (void *)0},
    {"records", (getter)sink_get, NULL, "records fed (SourceStats.records)", (void *)1},
    {"events", (getter)sink_get, NULL, "rows made (SourceStats.events)", (void *)2},
    {"max_seen", (getter)sink_get, NULL, "highest record id fed", (void *)3},
    {"last_record", (getter)sink_get, NULL, "highest record id above after_record, or None", (void *)4},
    {"first_time", (getter)sink_get, NULL, "earliest time appended, or None", (void *)5},
    {"last_time", (getter)sink_get, NULL, "latest time appended, or None", (void *)6},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef sink_methods[] = {
    {"feed", (PyCFunction)sink_feed, METH_VARARGS, "feed(records, start) -> True, False or (index, odd row)"},
    {"append", (PyCFunction)sink_append_py, METH_O, "append(row) -> True, or False for an odd row"},
    {"take", (PyCFunction)sink_take, METH_NOARGS, "take() -> the columns as 18 Arrow capsule pairs"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SinkType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "smbguard.logs._evtxbin.Sink",
    .tp_basicsize = sizeof(Sink),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Sink(source, after_record, event_row, unknown, number_text): rows into Arrow columns",
    .tp_new = sink_new,
    .tp_dealloc = (destructor)sink_dealloc,
    .tp_traverse = (traverseproc)sink_traverse,
    .tp_clear = (inquiry)sink_clear,
    .tp_methods = sink_methods,
    .tp_getset = sink_getset,
};

static PyObject *configure(PyObject *self, PyObject *args)
{
    PyObject *k, *n;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!O!:configure", &PyTuple_Type, &k, &PyTuple_Type, &n)) return NULL;
    if (PyTuple_GET_SIZE(k) != K_COUNT || PyTuple_GET_SIZE(n) != N_COUNT) {
        PyErr_SetString(PyExc_ValueError, "configure: 6 kinds and 17 names");
        return NULL;
    }
    for (int i = 0; i < K_COUNT; i++) { Py_XDECREF(kinds[i]); kinds[i] = PyTuple_GET_ITEM(k, i); Py_INCREF(kinds[i]); }
    for (int i = 0; i < N_COUNT; i++) {
        PyObject *name = PyTuple_GET_ITEM(n, i);
        if (!PyUnicode_CheckExact(name)) { PyErr_SetString(PyExc_TypeError, "names must be str"); return NULL; }
        Py_XDECREF(names[i]); names[i] = name; Py_INCREF(name);
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"read_chunk", read_chunk, METH_VARARGS,
     "read_chunk(chunk, wanted_ids, layout) -> list of (record id, event id, fields or None), or None"},
    {"row", (PyCFunction)(void (*)(void))row, METH_FASTCALL,
     "row(event_id, fields, source) -> event_row's row for 4624/4625/5140/5145/4776, or None"},
    {"configure", configure, METH_VARARGS, "configure(kinds, names): EventKind members and EventData names"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_evtxbin", NULL, -1, methods};

PyMODINIT_FUNC PyInit__evtxbin(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) return NULL;
    s_ipc = PyUnicode_InternFromString("IPC$");
    s_space = PyUnicode_InternFromString(" ");
    s_empty = PyUnicode_InternFromString("");
    s_ffff = PyUnicode_InternFromString("::ffff:");
    s_delete = PyUnicode_InternFromString("%%1537");
    s_write1 = PyUnicode_InternFromString("%%4417");
    s_write2 = PyUnicode_InternFromString("%%4418");
    if (!s_ipc || !s_space || !s_empty || !s_ffff || !s_delete || !s_write1 || !s_write2) return NULL;
    if (PyType_Ready(&SinkType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&SinkType);
    if (PyModule_AddObject(m, "Sink", (PyObject *)&SinkType) < 0) { Py_DECREF(&SinkType); Py_DECREF(m); return NULL; }
    return m;
}
