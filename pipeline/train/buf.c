/*
 * pipeline/train/buf.c: the learners' large buffers (graft__buf in train.h): rows of codes
 * gathered in memory, mapped with transparent huge pages from 1 MiB up.
 *
 * A fit touches its buffers once, front to back, right after allocating them; with 4 KiB pages
 * that costs one page fault per 4 KiB (about 11 us each here, more than reading the data),
 * with 2 MiB pages one per 2 MiB. It does not pre-fault: the untouched tail of a buffer
 * reserved for every row of a source stays free.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "train.h"

#define BUF_MAP_MIN ((size_t)1 << 20)
#define BUF_HUGE ((size_t)2 << 20)

static int buf_new(graft__buf *b, size_t bytes) {
    memset(b, 0, sizeof *b);
    if (bytes < BUF_MAP_MIN) {
        b->p = malloc(bytes ? bytes : 1);
        if (!b->p) return -1;
        b->bytes = bytes;
        return 0;
    }
    size_t size = (bytes + BUF_HUGE - 1) & ~(BUF_HUGE - 1);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
#ifdef MADV_HUGEPAGE
    madvise(p, size, MADV_HUGEPAGE);
#endif
    b->p = p;
    b->bytes = size;
    b->mapped = 1;
    return 0;
}

int graft__buf_reserve(graft__buf *b, size_t bytes) {
    if (b->p && b->bytes >= bytes) return 0;
    size_t want = b->bytes * 2 > bytes ? b->bytes * 2 : bytes;
    graft__buf nb;
    if (buf_new(&nb, want)) return -1;
    if (b->p) memcpy(nb.p, b->p, b->bytes);
    graft__buf_free(b);
    *b = nb;
    return 0;
}

void graft__buf_free(graft__buf *b) {
    if (!b->p) return;
    if (b->mapped) munmap(b->p, b->bytes);
    else free(b->p);
    memset(b, 0, sizeof *b);
}
