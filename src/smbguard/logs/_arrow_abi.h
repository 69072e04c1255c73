/*
 * The Arrow C data interface (https://arrow.apache.org/docs/format/CDataInterface.html):
 * the two ABI structs, as the specification gives them, shared by the C readers that hand
 * columns to polars (_sambascan.c, _zeekjson.c, _zeektsv.c, _evtxbin.c). Plus the two capsule
 * destructors they use.
 */
#ifndef SMBGUARD_ARROW_ABI_H
#define SMBGUARD_ARROW_ABI_H

#include <stdint.h>
#include <stdlib.h>

#define ARROW_FLAG_NULLABLE 2

struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

/* PyCapsule destructors for the "arrow_schema" / "arrow_array" capsules handed to polars:
 * release the struct if the consumer did not, then free it. (Include after Python.h.) */
static void
arrow_schema_capsule_free(PyObject *capsule)
{
    struct ArrowSchema *s = PyCapsule_GetPointer(capsule, "arrow_schema");
    if (s != NULL) {
        if (s->release != NULL) {
            s->release(s);
        }
        free(s);
    }
}

static void
arrow_array_capsule_free(PyObject *capsule)
{
    struct ArrowArray *a = PyCapsule_GetPointer(capsule, "arrow_array");
    if (a != NULL) {
        if (a->release != NULL) {
            a->release(a);
        }
        free(a);
    }
}

#endif /* SMBGUARD_ARROW_ABI_H */
