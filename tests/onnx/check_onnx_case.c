/*
 * tests/onnx/check_onnx_case.c: the ONNX node-test loader of onnx_case.h. It holds no checks
 * of its own (those are in check_onnx_loader.c); its name only makes the Makefile's check_*.c
 * wildcard link it into the Criterion binary and the plain aarch64 runner alike.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "graft/graft.h"
#include "onnx_case.h"

static int fail(char *msg, size_t msglen, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *msg, size_t msglen, int err, const char *fmt, ...) {
    if (msg && msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return err;
}

const char *graft_onnx_case_root(void) {
    const char *env = getenv("GRAFT_ONNX_TESTDATA");
    return env && env[0] ? env : GRAFT_ONNX_CASE_ROOT_DEFAULT;
}

static int is_initializer(const graft_onnx_graph *g, const char *name) {
    return graft_onnx_graph_initializer(g, name) != NULL;
}

static const char *kind_name(graft_onnx_type_kind kind) {
    switch (kind) {
    case GRAFT_ONNX_TYPE_TENSOR: return "a tensor";
    case GRAFT_ONNX_TYPE_SEQUENCE: return "a sequence";
    case GRAFT_ONNX_TYPE_MAP: return "a map";
    case GRAFT_ONNX_TYPE_OPTIONAL: return "an optional";
    case GRAFT_ONNX_TYPE_SPARSE_TENSOR: return "a sparse tensor";
    case GRAFT_ONNX_TYPE_OTHER: return "an opaque value";
    default: return "a value without a type";
    }
}

static int is_integer(int dtype) {
    switch (dtype) {
    case GRAFT_ONNX_DTYPE_INT8:
    case GRAFT_ONNX_DTYPE_INT16:
    case GRAFT_ONNX_DTYPE_INT32:
    case GRAFT_ONNX_DTYPE_INT64:
    case GRAFT_ONNX_DTYPE_UINT8:
    case GRAFT_ONNX_DTYPE_UINT16:
    case GRAFT_ONNX_DTYPE_UINT32:
    case GRAFT_ONNX_DTYPE_UINT64:
    case GRAFT_ONNX_DTYPE_BOOL: return 1;
    default: return 0;
    }
}

/* Loads <dir>/test_data_set_0/<stem>_<k>.pb for the value `vi` into *ct. */
static int load_tensor(graft_onnx_case *c, const graft_onnx_value_info *vi, const char *stem,
                       size_t k, graft_onnx_case_tensor *ct, char *msg, size_t msglen) {
    if (vi->type.kind != GRAFT_ONNX_TYPE_TENSOR)
        return fail(msg, msglen, GRAFT_EUNSUPPORTED, "%s: %s %zu (\"%s\") is %s, not a tensor",
                    c->name, stem, k, vi->name, kind_name(vi->type.kind));
    char path[4096];
    snprintf(path, sizeof path, "%s/test_data_set_0/%s_%zu.pb", c->dir, stem, k);
    const graft_onnx_tensor *t;
    int err = graft_onnx_tensor_load(c->model, path, &t);
    if (err) return fail(msg, msglen, err, "%s", graft_last_error());
    /* pytorch-converted tensors are unnamed; a named one must be the value it stands for. */
    if (t->name[0] && strcmp(t->name, vi->name) != 0)
        return fail(msg, msglen, GRAFT_ECORRUPT, "%s: tensor \"%s\" where %s %zu is \"%s\"", path,
                    t->name, stem, k, vi->name);
    ct->name = vi->name;
    ct->data_type = t->data_type;
    ct->dims = t->dims;
    ct->rank = t->rank;
    ct->numel = t->numel;
    ct->proto = t;
    /* One extra element so that empty tensors still get a non-NULL pointer. */
    ct->data = malloc(sizeof(float) * (t->numel + 1));
    if (!ct->data) return fail(msg, msglen, GRAFT_ENOMEM, "%s: out of memory", path);
    err = graft_onnx_tensor_to_float(t, ct->data, t->numel);
    if (err) return fail(msg, msglen, err, "%s: %s", path, graft_last_error());
    if (is_integer(t->data_type)) {
        ct->ints = malloc(sizeof(int64_t) * (t->numel + 1));
        if (!ct->ints) return fail(msg, msglen, GRAFT_ENOMEM, "%s: out of memory", path);
        err = graft_onnx_tensor_to_int64(t, ct->ints, t->numel);
        /* A UINT64 beyond INT64_MAX still has its float values; only the exact copy is lost. */
        if (err == GRAFT_ERANGE) {
            free(ct->ints);
            ct->ints = NULL;
        } else if (err) {
            return fail(msg, msglen, err, "%s: %s", path, graft_last_error());
        }
    }
    return GRAFT_OK;
}

int graft_onnx_case_load(const char *dir, graft_onnx_case **out, char *msg, size_t msglen) {
    if (!dir || !out) return fail(msg, msglen, GRAFT_EINVAL, "graft_onnx_case_load: NULL");
    graft_onnx_case *c = calloc(1, sizeof *c);
    if (!c) return fail(msg, msglen, GRAFT_ENOMEM, "%s: out of memory", dir);
    int err;
    size_t dir_len = strlen(dir);
    while (dir_len > 1 && dir[dir_len - 1] == '/') dir_len--;
    c->dir = malloc(dir_len + 1);
    if (!c->dir) {
        err = fail(msg, msglen, GRAFT_ENOMEM, "%s: out of memory", dir);
        goto fail;
    }
    memcpy(c->dir, dir, dir_len);
    c->dir[dir_len] = '\0';
    const char *slash = strrchr(c->dir, '/');
    c->name = slash ? slash + 1 : c->dir;

    char path[4096];
    snprintf(path, sizeof path, "%s/model.onnx", c->dir);
    err = graft_onnx_model_load(path, &c->model);
    if (err) {
        fail(msg, msglen, err, "%s", graft_last_error());
        goto fail;
    }
    c->graph = c->model->graph;
    c->node = c->graph->node_count == 1 ? &c->graph->nodes[0] : NULL;
    for (size_t k = 0; k < c->model->opset_count; k++) {
        const char *domain = c->model->opsets[k].domain;
        if (!domain[0] || strcmp(domain, "ai.onnx") == 0) c->opset = c->model->opsets[k].version;
    }

    /* Graph inputs that initializers feed are not test inputs (older exporters list them). */
    size_t n_in = 0;
    for (size_t k = 0; k < c->graph->input_count; k++)
        if (!is_initializer(c->graph, c->graph->inputs[k].name)) n_in++;
    c->inputs = calloc(n_in + 1, sizeof *c->inputs);
    c->outputs = calloc(c->graph->output_count + 1, sizeof *c->outputs);
    if (!c->inputs || !c->outputs) {
        err = fail(msg, msglen, GRAFT_ENOMEM, "%s: out of memory", dir);
        goto fail;
    }
    for (size_t k = 0; k < c->graph->input_count; k++) {
        const graft_onnx_value_info *vi = &c->graph->inputs[k];
        if (is_initializer(c->graph, vi->name)) continue;
        err = load_tensor(c, vi, "input", c->input_count, &c->inputs[c->input_count], msg,
                          msglen);
        c->input_count++; /* counted even on failure so that destroy frees the partial one */
        if (err) goto fail;
    }
    for (size_t k = 0; k < c->graph->output_count; k++) {
        err = load_tensor(c, &c->graph->outputs[k], "output", k, &c->outputs[k], msg, msglen);
        c->output_count++;
        if (err) goto fail;
    }
    *out = c;
    return GRAFT_OK;

fail:
    graft_onnx_case_destroy(c);
    return err;
}

void graft_onnx_case_destroy(graft_onnx_case *c) {
    if (!c) return;
    for (size_t k = 0; k < c->input_count; k++) {
        free(c->inputs[k].data);
        free(c->inputs[k].ints);
    }
    for (size_t k = 0; k < c->output_count; k++) {
        free(c->outputs[k].data);
        free(c->outputs[k].ints);
    }
    free(c->inputs);
    free(c->outputs);
    graft_onnx_model_destroy(c->model);
    free(c->dir);
    free(c);
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int graft_onnx_case_list(const char *root, const char *prefix, char ***names, size_t *count,
                         char *msg, size_t msglen) {
    if (!root || !prefix || !names || !count)
        return fail(msg, msglen, GRAFT_EINVAL, "graft_onnx_case_list: NULL");
    DIR *d = opendir(root);
    if (!d) return fail(msg, msglen, GRAFT_EIO, "%s: %s", root, strerror(errno));
    char **list = NULL;
    size_t n = 0, cap = 0, prefix_len = strlen(prefix);
    int err = GRAFT_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, prefix_len) != 0) continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (n == cap) {
            size_t new_cap = cap ? 2 * cap : 64;
            char **grown = realloc(list, new_cap * sizeof *grown);
            if (!grown) {
                err = GRAFT_ENOMEM;
                break;
            }
            list = grown;
            cap = new_cap;
        }
        if (!(list[n] = strdup(e->d_name))) {
            err = GRAFT_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (err) {
        graft_onnx_case_list_free(list, n);
        return fail(msg, msglen, err, "%s: out of memory listing test directories", root);
    }
    if (n) qsort(list, n, sizeof *list, cmp_names);
    *names = list;
    *count = n;
    return GRAFT_OK;
}

void graft_onnx_case_list_free(char **names, size_t count) {
    if (!names) return;
    for (size_t k = 0; k < count; k++) free(names[k]);
    free(names);
}
