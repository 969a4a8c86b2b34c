/*
 * tests/fuzz/fuzz_cache.c: a libFuzzer target for the parsers of the feature cache
 * (pipeline/cache/): manifest.json's bounded JSON parser, the index.tsv parser with its
 * unescaping, and the .npy header parser the view maps segments with. The first input byte
 * picks the parser; the rest is the file. A parsed manifest is compared with itself as a
 * config (exercising the comparison and its messages) and re-formatted, and the result must
 * parse again to the same fields.
 *
 * `make fuzz-cache` builds and runs it (also part of `make fuzz`).
 * Contract checked: only GRAFT_OK, GRAFT_ECORRUPT, GRAFT_EUNSUPPORTED, GRAFT_ERANGE or
 * GRAFT_ENOMEM for any bytes; anything else, or a round trip that changes a field, traps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../pipeline/cache/cache_internal.h"
#include "graft/npy.h"

static int allowed(int err) {
    return err == GRAFT_OK || err == GRAFT_ECORRUPT || err == GRAFT_EUNSUPPORTED ||
           err == GRAFT_ERANGE || err == GRAFT_ENOMEM;
}

static void fuzz_manifest(const char *text, size_t len) {
    graft__manifest m;
    int err = graft__manifest_parse(text, len, "fuzz/manifest.json", &m);
    if (!allowed(err)) __builtin_trap();
    if (err) return;
    const graft_cache_config cfg = {m.model_path, m.model_sha256, m.tap_count, m.taps,
                                    m.preprocess, m.dtype};
    err = graft__manifest_compare(&m, &cfg, "fuzz");
    /* A manifest the parser accepts is a valid config, equal to itself (unless a shape is
     * beyond what a config may hold, which the check refuses). */
    if (err != GRAFT_OK && err != GRAFT_EINVAL) __builtin_trap();
    char *again;
    size_t again_len;
    if (err == GRAFT_OK &&
        graft__manifest_format(&cfg, m.created, &again, &again_len) == GRAFT_OK) {
        graft__manifest m2;
        if (graft__manifest_parse(again, again_len, "fuzz/again", &m2) != GRAFT_OK)
            __builtin_trap();
        if (graft__manifest_compare(&m2, &cfg, "fuzz") != GRAFT_OK ||
            strcmp(m2.model_path, m.model_path) || strcmp(m2.created, m.created))
            __builtin_trap();
        graft__manifest_free(&m2);
        free(again);
    }
    graft__manifest_free(&m);
}

static void fuzz_index(const char *data, size_t len) {
    char *text = malloc(len + 1);
    if (!text) return;
    memcpy(text, data, len);
    text[len] = '\0';
    graft__index_row *rows;
    size_t count;
    int err = graft__index_parse(text, len, "fuzz/index.tsv", &rows, &count);
    if (!allowed(err)) __builtin_trap();
    if (!err) {
        /* Every field is a string inside the buffer; escaping one gives back the bytes. */
        for (size_t r = 0; r < count; r++) {
            const char *key = rows[r].key;
            if (key < text || key > text + len || !key[0]) __builtin_trap();
            size_t n = strlen(key);
            char *esc = malloc(2 * n + 1);
            if (esc) {
                size_t e = graft__tsv_escape(esc, key, n);
                if (memchr(esc, '\t', e) || memchr(esc, '\n', e)) __builtin_trap();
                free(esc);
            }
        }
        free(rows);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *p = (const char *)data + 1;
    const size_t len = size - 1;
    switch (data[0] % 3) {
    case 0: fuzz_manifest(p, len); break;
    case 1: fuzz_index(p, len); break;
    default: {
        graft_npy_header h;
        int err = graft_npy_header_parse(p, len, &h);
        if (!allowed(err)) __builtin_trap();
        if (!err && h.data_offset > len) __builtin_trap();
    }
    }
    return 0;
}
