/*
 * pipeline/cache/keyset.c: the hash table from sample keys to image hashes that resuming
 * (graft_cache_contains) and superseding (the view) rest on, and the string arena that keeps
 * its keys in place.
 *
 * Sized for caches of millions of rows: 8 bytes of slot per key at most 3/4 full, a dense
 * 56-byte entry array, one hash computation per lookup, and no per-key malloc. It does no
 * locking; cache.c holds its mutex around it.
 */
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"

/* ---- arena ----------------------------------------------------------------------------------- */

struct graft__arena_block {
    graft__arena_block *next;
    size_t used, cap;
    char data[];
};

#define ARENA_BLOCK_BYTES ((size_t)64 << 10)

char *graft__arena_strndup(graft__arena *a, const char *s, size_t n) {
    graft__arena_block *b = a->head;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > ARENA_BLOCK_BYTES ? n + 1 : ARENA_BLOCK_BYTES;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
        a->bytes += cap;
    }
    char *p = b->data + b->used;
    memcpy(p, s, n);
    p[n] = '\0';
    b->used += n + 1;
    return p;
}

void graft__arena_free(graft__arena *a) {
    graft__arena_block *b = a->head;
    while (b) {
        graft__arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->bytes = 0;
}

/* ---- key table ------------------------------------------------------------------------------- */

uint64_t graft__key_hash(const char *key) {
    /* FNV-1a, then a murmur finalizer so that both halves of the word are well mixed: the
     * high half goes into the slot, the low half picks it. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint32_t slot_tag(uint64_t hash) { return (uint32_t)(hash >> 32); }

graft__keyent *graft__keyset_find(const graft__keyset *ks, const char *key) {
    if (!ks->slots) return NULL;
    const uint64_t h = graft__key_hash(key);
    for (size_t i = (size_t)h & ks->slot_mask;; i = (i + 1) & ks->slot_mask) {
        const uint64_t s = ks->slots[i];
        if (!s) return NULL;
        if ((uint32_t)(s >> 32) != slot_tag(h)) continue;
        graft__keyent *e = &ks->ents[(uint32_t)s - 1];
        if (e->hash == h && strcmp(e->key, key) == 0) return e;
    }
}

/* Rebuilds the slots at `slot_count` from the live entries, compacting the entry array. */
static int rebuild(graft__keyset *ks, size_t slot_count) {
    uint64_t *slots = calloc(slot_count, sizeof *slots);
    if (!slots) return -1;
    const size_t mask = slot_count - 1;
    size_t n = 0;
    for (size_t k = 0; k < ks->ent_count; k++) {
        if (!ks->ents[k].key) continue;
        ks->ents[n] = ks->ents[k];
        const uint64_t h = ks->ents[n].hash;
        size_t i = (size_t)h & mask;
        while (slots[i]) i = (i + 1) & mask;
        slots[i] = (uint64_t)slot_tag(h) << 32 | (uint64_t)(n + 1);
        n++;
    }
    free(ks->slots);
    ks->slots = slots;
    ks->slot_mask = mask;
    ks->ent_count = n;
    return 0;
}

graft__keyent *graft__keyset_insert(graft__keyset *ks, const char *key, int *created) {
    graft__keyent *found = graft__keyset_find(ks, key);
    if (found) {
        if (created) *created = 0;
        return found;
    }
    /* Grow (or compact away holes) before the table is 3/4 full, keeping probes short. */
    const size_t slot_count = ks->slots ? ks->slot_mask + 1 : 0;
    if ((ks->live + 1) * 4 > slot_count * 3) {
        if (rebuild(ks, slot_count ? slot_count * 2 : 64)) return NULL;
    } else if (ks->ent_count - ks->live > 1024 && ks->ent_count - ks->live > ks->live) {
        if (rebuild(ks, slot_count)) return NULL;
    }
    if (ks->ent_count == ks->ent_cap) {
        if (ks->ent_cap >= UINT32_MAX - 1) return NULL;
        size_t cap = ks->ent_cap ? ks->ent_cap * 2 : 64;
        if (cap > UINT32_MAX - 1) cap = UINT32_MAX - 1;
        graft__keyent *t = realloc(ks->ents, cap * sizeof *t);
        if (!t) return NULL;
        ks->ents = t;
        ks->ent_cap = cap;
    }
    const uint64_t h = graft__key_hash(key);
    size_t i = (size_t)h & ks->slot_mask;
    while (ks->slots[i]) i = (i + 1) & ks->slot_mask;
    graft__keyent *e = &ks->ents[ks->ent_count];
    memset(e, 0, sizeof *e);
    e->key = key;
    e->hash = h;
    ks->slots[i] = (uint64_t)slot_tag(h) << 32 | (uint64_t)(ks->ent_count + 1);
    ks->ent_count++;
    ks->live++;
    if (created) *created = 1;
    return e;
}

void graft__keyset_remove(graft__keyset *ks, const char *key) {
    if (!ks->slots) return;
    const uint64_t h = graft__key_hash(key);
    const size_t mask = ks->slot_mask;
    size_t i = (size_t)h & mask;
    for (;; i = (i + 1) & mask) {
        const uint64_t s = ks->slots[i];
        if (!s) return;
        if ((uint32_t)(s >> 32) != slot_tag(h)) continue;
        graft__keyent *e = &ks->ents[(uint32_t)s - 1];
        if (e->hash == h && strcmp(e->key, key) == 0) {
            e->key = NULL;
            break;
        }
    }
    /* Backward-shift deletion: move later members of the probe run into the hole whenever
     * their home slot does not lie cyclically between the hole and them. */
    size_t hole = i;
    for (size_t j = (hole + 1) & mask; ks->slots[j]; j = (j + 1) & mask) {
        const size_t home = (size_t)ks->ents[(uint32_t)ks->slots[j] - 1].hash & mask;
        const int between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (between) continue;
        ks->slots[hole] = ks->slots[j];
        hole = j;
    }
    ks->slots[hole] = 0;
    ks->live--;
    if (ks->live == 0) ks->ent_count = 0;
}

void graft__keyset_free(graft__keyset *ks) {
    free(ks->slots);
    free(ks->ents);
    memset(ks, 0, sizeof *ks);
}
