/*
 * pipeline/read/dirwalk.c: a directory tree as a stream of regular files, for the reader's
 * directory shards (see read.h).
 *
 * The order is fixed by the names alone, never by readdir's order or the locale: depth first,
 * each folder's entries sorted bytewise by (key, extension) as graft_member_split_key splits
 * them, so "x.cls", "x.jpg" stay next to each other even when "x-1.jpg" sorts between them
 * bytewise. A folder is listed (names plus one stat each) when the walk enters it, so memory
 * grows with the widest folder and the depth, not with the tree.
 *
 * Symbolic links are followed, since datasets are often symlink farms, but a link to a folder
 * that is already open on the current path (a loop) is skipped, and the depth is capped. It
 * reads no file contents: the reader opens the files it wants.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels.h"
#include "read.h"

#define DEPTH_MAX 256

typedef struct entry {
    char *name;
    size_t key_len;  /* of name, as graft_member_split_key splits it */
    int is_dir, err; /* err: errno of a failed stat (a dangling symlink, a vanished file) */
    uint64_t size;
    dev_t dev;
    ino_t ino;
} entry;

typedef struct level {
    entry *entries;
    size_t count, next;
    size_t prefix_len; /* of the relative path of this folder, with its trailing '/' */
    dev_t dev;
    ino_t ino;
} level;

struct graft__dirwalk {
    char *root;
    size_t root_len;
    level *levels;
    int depth;
    char *rel, *full; /* the current entry's paths */
    size_t rel_cap, full_cap;
};

static int cmp_entry(const void *pa, const void *pb) {
    const entry *a = pa, *b = pb;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->name, b->name, n);
    if (c) return c;
    if (a->key_len != b->key_len) return a->key_len < b->key_len ? -1 : 1;
    return strcmp(a->name + a->key_len, b->name + b->key_len);
}

static void free_level(level *l) {
    for (size_t i = 0; i < l->count; i++) free(l->entries[i].name);
    free(l->entries);
    memset(l, 0, sizeof *l);
}

static int reserve(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return GRAFT_OK;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    char *b = realloc(*buf, c);
    if (!b) return graft__fail(GRAFT_ENOMEM, "dirwalk: out of memory");
    *buf = b;
    *cap = c;
    return GRAFT_OK;
}

/* Sets w->full to root + "/" + rel[0..rel_len). */
static int make_full(graft__dirwalk *w, size_t rel_len) {
    int rc = reserve(&w->full, &w->full_cap, w->root_len + rel_len + 2);
    if (rc) return rc;
    memcpy(w->full, w->root, w->root_len);
    size_t n = w->root_len;
    if (rel_len) {
        if (n == 0 || w->full[n - 1] != '/') w->full[n++] = '/';
        memcpy(w->full + n, w->rel, rel_len);
        n += rel_len;
    }
    w->full[n] = '\0';
    return GRAFT_OK;
}

/*
 * Lists the folder whose full path is w->full into a new level (prefix_len given). Returns
 * GRAFT_OK, GRAFT_ENOMEM, or a positive errno when the folder cannot be listed.
 */
static int list_folder(graft__dirwalk *w, size_t prefix_len, dev_t dev, ino_t ino,
                       uint64_t *bytes_listed) {
    DIR *d = opendir(w->full);
    if (!d) return errno ? errno : EIO;
    level l = {.prefix_len = prefix_len, .dev = dev, .ino = ino};
    size_t cap = 0;
    int rc = GRAFT_OK;
    size_t full_len = strlen(w->full);
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) rc = errno;
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (l.count == cap) {
            size_t nc = cap ? cap * 2 : 64;
            entry *ne = realloc(l.entries, nc * sizeof *ne);
            if (!ne) {
                rc = graft__fail(GRAFT_ENOMEM, "dirwalk: out of memory");
                break;
            }
            l.entries = ne;
            cap = nc;
        }
        entry *e = &l.entries[l.count];
        memset(e, 0, sizeof *e);
        e->name = strdup(de->d_name);
        if (!e->name) {
            rc = graft__fail(GRAFT_ENOMEM, "dirwalk: out of memory");
            break;
        }
        l.count++;
        const char *ext;
        const char *key;
        graft_member_split_key(e->name, &key, &e->key_len, &ext);
        /* stat() follows symbolic links: a link to a file is a file, to a folder a folder. */
        size_t nlen = strlen(e->name);
        rc = reserve(&w->full, &w->full_cap, full_len + nlen + 2);
        if (rc) break;
        char *slot = w->full + full_len;
        size_t k = 0;
        if (full_len && w->full[full_len - 1] != '/') slot[k++] = '/';
        memcpy(slot + k, e->name, nlen + 1);
        struct stat st;
        if (stat(w->full, &st) != 0) {
            e->err = errno ? errno : EIO;
        } else if (S_ISDIR(st.st_mode)) {
            e->is_dir = 1;
            e->dev = st.st_dev;
            e->ino = st.st_ino;
        } else if (S_ISREG(st.st_mode)) {
            e->size = (uint64_t)st.st_size;
            *bytes_listed += e->size;
        } else {
            /* FIFOs, sockets, devices: not data, skipped as archives skip them. */
            free(e->name);
            l.count--;
        }
        w->full[full_len] = '\0';
    }
    closedir(d);
    if (rc) {
        free_level(&l);
        return rc;
    }
    qsort(l.entries, l.count, sizeof *l.entries, cmp_entry);
    w->levels[w->depth++] = l;
    return GRAFT_OK;
}

int graft__dirwalk_open(const char *root, graft__dirwalk **out, uint64_t *bytes_listed) {
    struct stat st;
    if (stat(root, &st) != 0)
        return graft__fail(GRAFT_EIO, "cannot open: %s", strerror(errno));
    if (!S_ISDIR(st.st_mode)) return graft__fail(GRAFT_EIO, "not a directory");
    graft__dirwalk *w = calloc(1, sizeof *w);
    if (!w) return graft__fail(GRAFT_ENOMEM, "dirwalk: out of memory");
    w->root = strdup(root);
    w->levels = calloc(DEPTH_MAX, sizeof *w->levels);
    if (!w->root || !w->levels) {
        graft__dirwalk_close(w);
        return graft__fail(GRAFT_ENOMEM, "dirwalk: out of memory");
    }
    w->root_len = strlen(root);
    while (w->root_len > 1 && w->root[w->root_len - 1] == '/') w->root[--w->root_len] = '\0';
    int rc = make_full(w, 0);
    if (!rc) rc = list_folder(w, 0, st.st_dev, st.st_ino, bytes_listed);
    if (rc > 0) rc = graft__fail(GRAFT_EIO, "cannot list directory: %s", strerror(rc));
    if (rc) {
        graft__dirwalk_close(w);
        return rc;
    }
    *out = w;
    return GRAFT_OK;
}

int graft__dirwalk_next(graft__dirwalk *w, graft__dir_member *m, uint64_t *bytes_listed) {
    while (w->depth > 0) {
        level *l = &w->levels[w->depth - 1];
        if (l->next == l->count) {
            free_level(l);
            w->depth--;
            continue;
        }
        entry *e = &l->entries[l->next++];
        size_t nlen = strlen(e->name);
        size_t rel_len = l->prefix_len + nlen;
        int rc = reserve(&w->rel, &w->rel_cap, rel_len + 2);
        if (rc) return rc;
        memcpy(w->rel + l->prefix_len, e->name, nlen + 1);
        rc = make_full(w, rel_len);
        if (rc) return rc;
        memset(m, 0, sizeof *m);
        m->rel = w->rel;
        m->full = w->full;
        if (e->err) {
            m->err = e->err;
            m->what = "stat";
            return 1;
        }
        if (!e->is_dir) {
            m->size = e->size;
            return 1;
        }
        int loop = 0;
        for (int i = 0; i < w->depth; i++)
            if (w->levels[i].dev == e->dev && w->levels[i].ino == e->ino) loop = 1;
        if (loop || w->depth >= DEPTH_MAX) continue;
        w->rel[rel_len] = '/';
        w->rel[rel_len + 1] = '\0';
        rc = list_folder(w, rel_len + 1, e->dev, e->ino, bytes_listed);
        if (rc < 0) return rc;
        if (rc > 0) {
            w->rel[rel_len] = '\0';
            m->err = rc;
            m->what = "list";
            return 1;
        }
    }
    return 0;
}

void graft__dirwalk_close(graft__dirwalk *w) {
    if (!w) return;
    if (w->levels)
        for (int i = 0; i < w->depth; i++) free_level(&w->levels[i]);
    free(w->levels);
    free(w->root);
    free(w->rel);
    free(w->full);
    free(w);
}
