/*
 * Growable byte buffers and the Arrow C data interface export helpers shared by the C readers
 * that hand polars a struct array of columns (_zeekjson.c, _zeektsv.c): ``Buf`` (data, len,
 * cap), ``buf_reserve``/``buf_put``, and the release callbacks, child schemas and child arrays
 * that take ownership of a column's buffers, and ``export_capsules`` (the capsule pair of a
 * finished export). Include after "_arrow_abi.h".
 */
#ifndef SMBGUARD_ARROW_EXPORT_H
#define SMBGUARD_ARROW_EXPORT_H

#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_arrow_abi.h"

/* ------------------------------------------------------------------ growable buffers */
typedef struct {
    unsigned char *data;
    size_t len;
    size_t cap;
} Buf;

static int buf_grow(Buf *b, size_t extra);

static inline int
buf_reserve(Buf *b, size_t extra)
{
    if (extra <= b->cap - b->len) { /* len <= cap always */
        return 0;
    }
    return buf_grow(b, extra);
}

static int
buf_grow(Buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len) {
        return -1;
    }
    size_t need = b->len + extra;
    if (need <= b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    unsigned char *data = realloc(b->data, cap);
    if (data == NULL) {
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static int
buf_put(Buf *b, const void *src, size_t n)
{
    if (buf_reserve(b, n) < 0) {
        return -1;
    }
    if (n) {
        memcpy(b->data + b->len, src, n);
    }
    b->len += n;
    return 0;
}

/* ------------------------------------------------------------- the Arrow export */
typedef struct {
    Buf bufs[3];
} Owned;

static void
release_array(struct ArrowArray *a)
{
    if (a->release == NULL) {
        return;
    }
    for (int64_t i = 0; i < a->n_children; i++) {
        struct ArrowArray *child = a->children[i];
        if (child->release != NULL) {
            child->release(child);
        }
        free(child);
    }
    free(a->children);
    Owned *owned = a->private_data;
    if (owned != NULL) {
        for (int i = 0; i < 3; i++) {
            free(owned->bufs[i].data);
        }
        free(owned);
    }
    free((void *)a->buffers);
    a->release = NULL;
}

static void
release_schema(struct ArrowSchema *s)
{
    if (s->release == NULL) {
        return;
    }
    for (int64_t i = 0; i < s->n_children; i++) {
        struct ArrowSchema *child = s->children[i];
        if (child->release != NULL) {
            child->release(child);
        }
        free(child);
    }
    free(s->children);
    free(s->private_data); /* the name */
    s->release = NULL;
}

/* A child schema (format is a static string; the name is copied). */
static int
fill_schema(struct ArrowSchema *s, const char *format, const char *name, int64_t flags)
{
    char *copy = malloc(strlen(name) + 1);
    if (copy == NULL) {
        return -1;
    }
    strcpy(copy, name);
    memset(s, 0, sizeof(*s));
    s->format = format;
    s->name = copy;
    s->flags = flags;
    s->release = release_schema;
    s->private_data = copy;
    return 0;
}

/* Moves the buffers (b0: validity or empty, b1, b2) into a new child array. */
static struct ArrowArray *
new_child(int64_t length, int64_t nulls, int nbuf, Buf *b0, Buf *b1, Buf *b2)
{
    struct ArrowArray *a = calloc(1, sizeof(*a));
    Owned *owned = calloc(1, sizeof(*owned));
    const void **buffers = calloc(3, sizeof(void *));
    if (a == NULL || owned == NULL || buffers == NULL) {
        free(a);
        free(owned);
        free(buffers);
        return NULL;
    }
    Buf *src[3] = {b0, b1, b2};
    for (int i = 1; i < nbuf; i++) { /* never a NULL data buffer, even when empty */
        if (src[i]->data == NULL && buf_reserve(src[i], 1) < 0) {
            free(a);
            free(owned);
            free(buffers);
            return NULL;
        }
    }
    for (int i = 0; i < nbuf; i++) {
        owned->bufs[i] = *src[i];
        memset(src[i], 0, sizeof(Buf));
        buffers[i] = (i == 0 && nulls == 0) ? NULL : owned->bufs[i].data;
    }
    a->length = length;
    a->null_count = nulls;
    a->n_buffers = nbuf;
    a->buffers = buffers;
    a->release = release_array;
    a->private_data = owned;
    return a;
}

/* The end of an export: the capsule pair (schema, array) when ``ok``, else both freed and
 * NULL (MemoryError unless another error is set). Takes ownership of both either way. */
static PyObject *
export_capsules(struct ArrowSchema *schema, struct ArrowArray *array, int ok)
{
    PyObject *caps_s = NULL, *caps_a = NULL;
    if (ok) {
        caps_s = PyCapsule_New(schema, "arrow_schema", arrow_schema_capsule_free);
        if (caps_s != NULL) {
            schema = NULL;
            caps_a = PyCapsule_New(array, "arrow_array", arrow_array_capsule_free);
            if (caps_a != NULL) {
                return Py_BuildValue("(NN)", caps_s, caps_a);
            }
        }
    }
    Py_XDECREF(caps_s);
    if (schema != NULL) {
        release_schema(schema);
        free(schema);
    }
    if (array != NULL) {
        release_array(array);
        free(array);
    }
    if (!PyErr_Occurred()) {
        PyErr_NoMemory();
    }
    return NULL;
}

#endif /* SMBGUARD_ARROW_EXPORT_H */
