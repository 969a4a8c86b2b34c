/*
 * pipeline/model/model.c: graft_model_load and the model accessors. Maps the file, lets the
 * importer its format names build the IR, runs the passes (sort, fold, fuse), then packs the
 * convolution weights once for the current ISA and frees the float copies they came from.
 *
 * Memory: the importer converts each initializer into one float copy and drops the file
 * pages it came from (MADV_DONTNEED), and packing a convolution releases that copy right
 * away, so a model costs about its weights once. Fully-connected weights are not re-packed:
 * with a batch of at most a few dozen images the product streams the weights once either way,
 * and a packed twin would double the largest tensors (VGG's 411 MB fc6). The same float
 * weights serve a net for a larger input, where such layers run as convolutions (net.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../net/net.h"
#include "kernels.h"

static int map_file(const char *path, void **buf, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return graft__fail(GRAFT_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return graft__fail(GRAFT_EIO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return graft__fail(GRAFT_ECORRUPT, "%s: empty file", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return graft__fail(GRAFT_EIO, "%s: cannot map: %s", path, strerror(errno));
    *buf = p;
    *len = (size_t)st.st_size;
    return 0;
}

/* The conv descriptor of node n from its weights (kernel size, channels). */
static void conv_desc(const graft__graph *g, const graft__node *n, graft_conv2d *d) {
    const graft__value *w = &g->values[n->in[1]];
    *d = n->a.conv.d;
    d->C_out = (int)w->dims[0];
    d->C_in = (int)w->dims[1] * d->groups;
    d->kernel_h = (int)w->dims[2];
    d->kernel_w = (int)w->dims[3];
}

int graft__model_conv_plan(const graft__graph *g, const graft__node *n, const int pads[4],
                           int lean, graft_conv2d_plan **out) {
    graft_conv2d d;
    conv_desc(g, n, &d);
    d.pad_top = pads[0], d.pad_left = pads[1], d.pad_bottom = pads[2], d.pad_right = pads[3];
    const graft__value *w = &g->values[n->in[1]];
    const float *bias = n->n_in > 2 && n->in[2] >= 0 ? g->values[n->in[2]].data : NULL;
    if (!w->data)
        return graft__fail(GRAFT_EINVAL, "node '%s': weights already released", n->name);
    int err = lean ? graft_conv2d_plan_create_lean(&d, w->data, bias, out)
                   : graft_conv2d_plan_create(&d, w->data, bias, out);
    if (err)
        return graft__fail(err, "node '%s' (%s): %s", n->name, n->src_op, graft_last_error());
    return 0;
}

/*
 * Winograd's transformed weights are 4x a 3x3 layer's parameters, so a model gets them only
 * while its weights stay within max(1.2x their size as loaded, WEIGHT_FLOOR). The floor keeps
 * every transform of the usual ConvNets (ResNet-50's 97 MiB of weights become 192 MiB), where
 * speed matters more than a hundred MB; the 1.2x holds for big models (VGG-16: 528 MiB, of
 * which 472 MiB are fully-connected weights used as loaded; transforming all its 3x3 layers
 * would add 168 MiB, 3x their 56 MiB). Layers are taken in graph order, so the ones left out
 * are the last, on the smallest maps, where Winograd saves least per byte; they run im2col on
 * packed weights.
 * GRAFT_CONV_ALGO=winograd overrides the budget.
 */
#define WEIGHT_FLOOR ((size_t)256 << 20)

/* Packs what can be packed now and releases the float copies nothing else reads. */
static int pack_weights(graft_model *m) {
    graft__graph *g = m->g;
    int *uses = calloc((size_t)g->n_values + 1, sizeof(int));
    if (!uses) return graft__fail(GRAFT_ENOMEM, "model: out of memory");
    for (int n = 0; n < g->n_nodes; n++)
        for (int i = 0; i < g->nodes[n].n_in; i++)
            if (g->nodes[n].in[i] >= 0) uses[g->nodes[n].in[i]]++;
    size_t loaded = (size_t)m->params * sizeof(float), budget = loaded + loaded / 5;
    if (budget < WEIGHT_FLOOR) budget = WEIGHT_FLOOR;
    size_t spare = budget - loaded; /* bytes the transforms may still add */
    int err = 0;
    for (int n = 0; n < g->n_nodes && !err; n++) {
        graft__node *nd = &g->nodes[n];
        if (nd->op != GRAFT__OP_CONV) continue;
        const graft__value *w = &g->values[nd->in[1]];
        if (!w->data || (nd->n_in > 2 && nd->in[2] >= 0 && !g->values[nd->in[2]].data))
            continue; /* weights fed at run time: packed per call */
        if (w->rank != 4 || w->dtype != GRAFT__F32) {
            err = graft__fail(GRAFT_EUNSUPPORTED, "node '%s' (%s): weights must be float and of "
                              "rank 4 (2-D convolution)", nd->name, nd->src_op);
            break;
        }
        if (nd->n_in > 2 && nd->in[2] >= 0 &&
            graft__value_numel(&g->values[nd->in[2]]) != w->dims[0]) {
            err = graft__fail(GRAFT_EINVAL, "node '%s' (%s): the bias must have C_out elements",
                              nd->name, nd->src_op);
            break;
        }
        if (nd->a.conv.auto_pad == GRAFT__PAD_SAME_UPPER ||
            nd->a.conv.auto_pad == GRAFT__PAD_SAME_LOWER) {
            /* Pads depend on the input size: a net packs them; 1x1 and stride-1 SAME pads do not
               depend on it, but keeping one path is simpler. */
            continue;
        }
        int pads[4] = {nd->a.conv.d.pad_top, nd->a.conv.d.pad_left, nd->a.conv.d.pad_bottom,
                       nd->a.conv.d.pad_right};
        if (nd->a.conv.auto_pad == GRAFT__PAD_VALID) memset(pads, 0, sizeof pads);
        graft_conv2d d;
        conv_desc(g, nd, &d);
        size_t extra = graft_conv2d_winograd_bytes(&d), own = (size_t)graft__value_numel(w) * 4;
        extra = extra > own ? extra - own : 0;
        int lean = extra > spare; /* GRAFT_CONV_ALGO=winograd still wins */
        if (!lean) spare -= extra < spare ? extra : spare;
        err = graft__model_conv_plan(g, nd, pads, lean, &m->conv_plan[n]);
        if (err) break;
        int wv = nd->in[1];
        if (uses[wv] == 1 && !g->values[wv].is_output && !m->weights_kept) {
            free(g->values[wv].data); /* the plan holds the packed copy */
            g->values[wv].data = NULL;
        }
    }
    for (int n = 0; n < g->n_nodes && !err; n++) {
        graft__node *nd = &g->nodes[n];
        if (nd->op != GRAFT__OP_GEMM) continue;
        const graft__value *b = &g->values[nd->in[1]];
        if (!b->data || b->rank != 2) continue; /* a computed B runs as plain sgemm */
        int64_t N = nd->a.gemm.trans_b ? b->dims[0] : b->dims[1];
        if (nd->n_in > 2 && nd->in[2] >= 0) {
            const graft__value *c = &g->values[nd->in[2]];
            int64_t cn = graft__value_numel(c);
            if (!c->data || !(cn == 1 || (cn == N && (c->rank == 1 || c->dims[0] == 1))))
                continue; /* a full (M, N) or computed C: added at run time */
            float *bias = malloc(sizeof(float) * (size_t)(N ? N : 1));
            if (!bias) {
                err = graft__fail(GRAFT_ENOMEM, "model: out of memory");
                break;
            }
            for (int64_t j = 0; j < N; j++)
                bias[j] = nd->a.gemm.beta * ((const float *)c->data)[cn == 1 ? 0 : j];
            m->gemm_bias[n] = bias;
        }
    }
    free(uses);
    return err;
}

/* The input of the final classifier: walk back from the first output over the reshapes and
   the softmax that follow the class scores; the classifier is a Gemm, a MatMul (+ bias) or a
   1x1 Conv on a pooled map. Without one (a feature extractor), the output itself. */
static int find_default_tap(const graft__graph *g) {
    int v = g->outputs[0];
    for (int guard = 0; guard < 64; guard++) {
        int p = g->values[v].producer;
        if (p < 0) return g->outputs[0];
        const graft__node *n = &g->nodes[p];
        switch (n->op) {
        case GRAFT__OP_SOFTMAX:
        case GRAFT__OP_IDENTITY:
        case GRAFT__OP_RESHAPE:
        case GRAFT__OP_FLATTEN:
        case GRAFT__OP_SQUEEZE:
            v = n->in[0];
            continue;
        case GRAFT__OP_BINARY: /* MatMul + bias */
            if (n->a.binary.op == GRAFT_BINARY_ADD) {
                int a = n->in[0], b = n->in[1];
                int pa = g->values[a].producer;
                if (pa >= 0 && g->nodes[pa].op == GRAFT__OP_MATMUL && g->values[b].data) {
                    v = a;
                    continue;
                }
            }
            return g->outputs[0];
        case GRAFT__OP_GEMM:
        case GRAFT__OP_MATMUL:
            return n->in[0];
        case GRAFT__OP_CONV: {
            const graft__value *w = &g->values[n->in[1]];
            if (w->rank == 4 && w->dims[2] == 1 && w->dims[3] == 1 && n->a.conv.d.groups == 1) {
                /* A 1x1 classifier on a pooled map (the TF MobileNets). */
                int x = n->in[0], px = g->values[x].producer;
                while (px >= 0 && g->nodes[px].op == GRAFT__OP_IDENTITY) {
                    x = g->nodes[px].in[0];
                    px = g->values[x].producer;
                }
                if (px >= 0 && (g->nodes[px].op == GRAFT__OP_GLOBAL_POOL ||
                                g->nodes[px].op == GRAFT__OP_REDUCE ||
                                (g->nodes[px].op == GRAFT__OP_POOL)))
                    return n->in[0];
            }
            return g->outputs[0];
        }
        default:
            return g->outputs[0];
        }
    }
    return g->outputs[0];
}

/* Prefixes the current error message with the model's path (once). */
static int prefix_path(int err, const char *path) {
    char msg[768];
    snprintf(msg, sizeof msg, "%s", graft_last_error());
    if (!strncmp(msg, path, strlen(path))) return err;
    return graft__fail(err, "%s: %s", path, msg);
}

int graft_model_load(const char *path, const graft_model_options *opts, graft_model **out) {
    if (!path || !out) return graft__fail(GRAFT_EINVAL, "graft_model_load: NULL argument");
    void *buf = NULL;
    size_t len = 0;
    int err = map_file(path, &buf, &len);
    if (err) return err;
    err = graft__model_load_buffer(buf, len, path, opts, out);
    munmap(buf, len);
    return err ? prefix_path(err, path) : 0;
}

int graft__model_load_buffer(const void *buf, size_t len, const char *path,
                             const graft_model_options *opts, graft_model **out) {
    graft_model_options none = {0};
    if (!opts) opts = &none;
    graft__graph *g = NULL;
    int err;
    if (graft__tflite_sniff(buf, len))
        err = graft__tflite_import(buf, len, path, &g);
    else
        err = graft__onnx_import(buf, len, path, &g);
    if (err) return err;
    graft_model *m = calloc(1, sizeof *m);
    if (!m) {
        graft__graph_destroy(g);
        return graft__fail(GRAFT_ENOMEM, "model: out of memory");
    }
    m->g = g;
    if (!g->n_inputs && g->input >= 0) err = graft__graph_add_input(g, g->input);
    if (!err && (g->input < 0 || !g->n_outputs))
        err = graft__fail(GRAFT_EINVAL, "the graph has no %s", g->input < 0 ? "input" : "output");
    if (!err) err = graft__graph_finish(g, opts->keep, opts->no_fuse);
    if (!err) {
        size_t n = (size_t)g->n_nodes + 1;
        m->conv_plan = calloc(n, sizeof *m->conv_plan);
        m->gemm_pb = calloc(n, sizeof *m->gemm_pb);
        m->gemm_bias = calloc(n, sizeof *m->gemm_bias);
        if (!m->conv_plan || !m->gemm_pb || !m->gemm_bias)
            err = graft__fail(GRAFT_ENOMEM, "model: out of memory");
    }
    /* Parameters are counted before packing releases the copies. */
    if (!err) {
        unsigned char *used = calloc((size_t)g->n_values + 1, 1);
        if (!used) err = graft__fail(GRAFT_ENOMEM, "model: out of memory");
        for (int n = 0; used && n < g->n_nodes; n++)
            for (int i = 0; i < g->nodes[n].n_in; i++)
                if (g->nodes[n].in[i] >= 0) used[g->nodes[n].in[i]] = 1;
        for (int v = 0; used && v < g->n_values; v++)
            if (used[v] && g->values[v].is_weight && g->values[v].data)
                m->params += graft__value_numel(&g->values[v]);
        free(used);
    }
    if (!err) m->weights_kept = opts->keep_weights != 0;
    if (!err) err = pack_weights(m);
    if (!err) err = graft__model_find_fc_sites(m);
    if (!err) {
        /* What the weights cost now: packed and transformed plans, and the float constants
           still held (fully-connected weights, biases, batch norms not folded). */
        for (int n = 0; n < g->n_nodes; n++)
            if (m->conv_plan[n]) m->weight_bytes += graft_conv2d_plan_bytes(m->conv_plan[n]);
        for (int v = 0; v < g->n_values; v++)
            if (g->values[v].data && g->values[v].dtype == GRAFT__F32)
                m->weight_bytes += (size_t)graft__value_numel(&g->values[v]) * 4;
    }
    if (!err) {
        m->default_tap = find_default_tap(g);
        if (!g->preproc.from_file) {
            /* torchvision's ImageNet recipe */
            const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
            memcpy(g->preproc.mean, mean, sizeof mean);
            memcpy(g->preproc.std, std, sizeof std);
        }
        const graft__value *in = &g->values[g->input];
        if (in->rank == 4 && in->dtype == GRAFT__F32) {
            /* The network decides: a file's metadata cannot change its input channels. */
            if (in->dims[1] > 0 && in->dims[1] <= (1 << 20)) g->preproc.channels = (int)in->dims[1];
            if (!g->preproc.height && in->dims[2] > 0) g->preproc.height = (int)in->dims[2];
            if (!g->preproc.width && in->dims[3] > 0) g->preproc.width = (int)in->dims[3];
        }
        if (!g->preproc.channels) g->preproc.channels = 3;
        if (!g->preproc.height || !g->preproc.width) {
            g->preproc.height = g->preproc.width = 224;
        }
        if (!g->preproc.from_file) {
            /* torchvision resizes to 256 for a 224 crop: keep that ratio at other input sizes */
            int short_side = g->preproc.height < g->preproc.width ? g->preproc.height
                                                                  : g->preproc.width;
            g->preproc.resize = (int)((int64_t)short_side * 256 / 224);
        }
        g->preproc.labels = g->labels;
    }
    if (err) {
        graft_model_destroy(m);
        return err;
    }
    *out = m;
    return 0;
}

void graft_model_destroy(graft_model *m) {
    if (!m) return;
    for (int n = 0; m->g && n < m->g->n_nodes; n++) {
        if (m->conv_plan) graft_conv2d_plan_destroy(m->conv_plan[n]);
        if (m->gemm_pb) graft_packed_b_destroy(m->gemm_pb[n]);
        if (m->gemm_bias) free(m->gemm_bias[n]);
    }
    free(m->conv_plan);
    free(m->gemm_pb);
    free(m->gemm_bias);
    free(m->fc_site);
    graft__graph_destroy(m->g);
    free(m);
}

void graft_model_get_preproc(const graft_model *m, graft_model_preproc *out) {
    *out = m->g->preproc;
}
const char *graft_model_input_name(const graft_model *m) {
    return m->g->values[m->g->input].name;
}
const char *graft_model_default_tap(const graft_model *m) {
    return m->g->values[m->default_tap].name;
}
int graft_model_output_count(const graft_model *m) { return m->g->n_outputs; }
const char *graft_model_output_name(const graft_model *m, int i) {
    return i >= 0 && i < m->g->n_outputs ? m->g->values[m->g->outputs[i]].name : NULL;
}
int64_t graft_model_param_count(const graft_model *m) { return m->params; }
const char *graft_model_format(const graft_model *m) { return m->g->format; }
const char *graft_model_producer(const graft_model *m) { return m->g->producer; }
size_t graft_model_weight_bytes(const graft_model *m) { return m->weight_bytes; }
