/*
 * pipeline/finetune/export.c: graft_top_export_onnx: the fine-tuned network as one ONNX file.
 *
 * The frozen trunk is the original file cut at the freeze tensor byte for byte (its weights
 * did not change), and each trainable layer appends its nodes with its current weights; with
 * nothing frozen the whole network is written afresh from the layers. The class names go into
 * the model's metadata ("labels", one per line), appended as one more ModelProto field.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers.h"
#include "kernels.h"

/* Appends a varint to p; returns the bytes written. */
static size_t put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    do {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* ModelProto.metadata_props (field 14) {key = "labels", value = names joined by newlines},
   appended to the serialised model (a repeated field may come anywhere in a message). */
static int append_labels(uint8_t **bytes, size_t *len, const char *const *names, int K) {
    size_t vlen = 0;
    for (int k = 0; k < K; k++) vlen += strlen(names[k]) + 1;
    size_t entry = 1 + 1 + 6 + 1 + 10 + vlen;
    uint8_t *nb = realloc(*bytes, *len + entry + 20);
    if (!nb) return graft__fail(GRAFT_ENOMEM, "export: out of memory");
    *bytes = nb;
    uint8_t tmp[32];
    size_t inner = 2 + 6 + 1 + put_varint(tmp, vlen) + vlen;
    uint8_t *p = nb + *len;
    *p++ = (14 << 3) | 2;
    p += put_varint(p, inner);
    *p++ = (1 << 3) | 2;
    *p++ = 6;
    memcpy(p, "labels", 6), p += 6;
    *p++ = (2 << 3) | 2;
    p += put_varint(p, vlen);
    for (int k = 0; k < K; k++) {
        size_t l = strlen(names[k]);
        memcpy(p, names[k], l), p += l;
        *p++ = '\n';
    }
    *len = (size_t)(p - nb);
    return 0;
}

int graft_top_export_onnx(const graft_top *t, const char *model_path, const char *out_path,
                          const char *const *class_names) {
    if (!t || !model_path || !out_path)
        return graft__fail(GRAFT_EINVAL, "graft_top_export_onnx: NULL argument");
    int nothing_frozen = t->g->values[graft__graph_find(t->g, t->freeze_name)].is_input;
    graft__onnx_builder *b = graft__onnx_begin("graft finetune", 17);
    if (!b) return graft__fail(GRAFT_ENOMEM, "export: out of memory");
    int err = 0;
    const graft__tval *in = &t->vals[t->input];
    if (nothing_frozen) {
        int64_t d[4] = {-1, in->dims[1], in->rank > 2 ? in->dims[2] : 0,
                        in->rank > 3 ? in->dims[3] : 0};
        err = graft__onnx_input(b, in->name, in->rank, d);
    }
    for (int i = 0; i < t->n_layers && !err; i++) {
        const graft__tlayer *l = t->layers[i];
        err = l->vt->export_onnx(t, l, b);
        if (err) graft__fail(err, "export: layer '%s' (%s): %s", l->name, l->vt->kind,
                             graft_last_error());
    }
    int64_t od[2] = {-1, t->K};
    if (!err) err = graft__onnx_output(b, t->vals[t->logits].name, 2, od);
    uint8_t *bytes = NULL;
    size_t len = 0;
    void *map = MAP_FAILED;
    struct stat sb;
    int fd = -1;
    if (!err && nothing_frozen) err = graft__onnx_serialize(b, &bytes, &len);
    else if (!err) {
        fd = open(model_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &sb) || sb.st_size < 8 ||
            (map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED)
            err = graft__fail(GRAFT_EIO, "export: %s: %s", model_path,
                              fd < 0 || errno ? strerror(errno) : "too short");
        else if (!memcmp((const char *)map + 4, "TFL3", 4))
            err = graft__fail(GRAFT_EUNSUPPORTED, "export: %s is a TFLite model; the fine-tuned "
                              "network is written by cutting the ONNX file", model_path);
        else err = graft__onnx_cut_append(map, (size_t)sb.st_size, t->freeze_name, b, &bytes,
                                          &len);
    }
    if (!err && class_names) err = append_labels(&bytes, &len, class_names, t->K);
    if (!err) err = graft__onnx_write_bytes(out_path, bytes, len);
    free(bytes);
    if (map != MAP_FAILED) munmap(map, (size_t)sb.st_size);
    if (fd >= 0) close(fd);
    graft__onnx_free(b);
    return err;
}
