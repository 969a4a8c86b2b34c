/*
 * pipeline/model/tflite_import.c: TFLite flatbuffer -> graft's network IR (graph.h). Called by
 * graft_model_load() when graft__tflite_sniff() recognises the file; the passes and the runtime
 * after it never know the network came from TFLite.
 *
 * The translation, operator by operator, into ONNX semantics:
 *   - Layout. TFLite activations are NHWC; the IR's 4-D values are logical NCHW. Every TFLite
 *     tensor of rank 4 [N,H,W,C] becomes an IR value [N,C,H,W], every other rank keeps its
 *     dims, and operators remap their axis arguments (CONCATENATION axis, MEAN axes, PAD
 *     paddings, SQUEEZE dims, SOFTMAX's last axis). The runtime stores 4-D activations NHWC,
 *     which is TFLite's own memory order, so the relabelling costs nothing when the net runs.
 *     Only where TFLite's meaning depends on the NHWC memory order (RESHAPE and the flattening
 *     of FULLY_CONNECTED) is a Transpose inserted, and not even then when the dims it would
 *     move are 1 (the usual [1,1,1,C] <-> [1,C] after a global pool).
 *   - Weights. CONV_2D filters [O,KH,KW,I] become OIHW, DEPTHWISE_CONV_2D filters
 *     [1,KH,KW,C*M] become [C*M,1,KH,KW] with groups = C; FULLY_CONNECTED weights [out,in]
 *     feed a Gemm with trans_b. Quantized weights (uint8/int8/int16, per tensor or per channel
 *     along quantized_dimension) are dequantized as (q - zero_point) * scale, int32 biases
 *     with their own scale (input_scale * weight_scale when the file omits it), float16
 *     converted, so the network runs on the float kernels. Quantized activations simply become
 *     float values: their scale and zero point only matter at the image input, where they
 *     define the preprocessing (graph->preproc).
 *   - Padding. SAME is auto_pad SAME_UPPER (the odd pixel at the end, as TFLite does), VALID
 *     is VALID. TFLite's average pool divides by the pixels inside the image:
 *     count_include_pad = 0.
 *   - Fused activations: RELU and RELU6 go into the Conv/Gemm/binary node; RELU_N1_TO_1 and
 *     TANH become a following Unary node.
 *   - Batch. The input's batch dimension is made dynamic (-1) and RESHAPE targets copy the
 *     batch from their input (ONNX 0), so one model serves any N.
 *
 * The model's metadata ("TFLITE_METADATA" buffer, a flatbuffer of its own) gives the input
 * normalisation of float models (uint8/int8 inputs take theirs from the input's quantization,
 * which is exactly what the quantized network saw) and names the label file, which the TFLite
 * metadata writer appends to the model as a zip of stored members; both are read here with the
 * same bounds checks (a compressed member, which that writer does not make, leaves the labels
 * out rather than pulling in a zip library). Without metadata, preproc.from_file stays 0 and
 * graft_model_load() applies torchvision's defaults.
 *
 * Extras beyond the MobileNet / EfficientNet-Lite / Inception operator set, because they map
 * one to one: SUB, DIV, TANH, LEAKY_RELU, RELU_N1_TO_1, LOG_SOFTMAX, PADV2, SUM, REDUCE_MAX.
 *
 * What it does not do: run anything, infer shapes beyond the file's (the runtime infers them
 * for each input size), import subgraphs other than the first (control flow is refused with
 * the operators that use it), sparse tensors, custom operators, or quantized arithmetic.
 * Errors: GRAFT_ECORRUPT for a malformed flatbuffer (the message names the table, field and
 * offset), GRAFT_EUNSUPPORTED naming the operator (builtin name and index) or tensor type,
 * GRAFT_ERANGE for sizes that cannot be real, GRAFT_ENOMEM. Nothing is written to *out on error.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "graph.h"
#include "kernels.h" /* graft__fail, graft_last_error */
#include "tflite_fb.h"

/* ---- the schema (tensorflow/lite/schema/schema.fbs), as field indices ------------------- */

enum { MODEL_VERSION = 0, MODEL_OPCODES = 1, MODEL_SUBGRAPHS = 2, MODEL_DESCRIPTION = 3,
       MODEL_BUFFERS = 4, MODEL_METADATA = 6 };
enum { SG_TENSORS = 0, SG_INPUTS = 1, SG_OUTPUTS = 2, SG_OPERATORS = 3 };
enum { TENSOR_SHAPE = 0, TENSOR_TYPE = 1, TENSOR_BUFFER = 2, TENSOR_NAME = 3,
       TENSOR_QUANT = 4, TENSOR_SPARSITY = 6 };
enum { QUANT_SCALE = 2, QUANT_ZERO_POINT = 3, QUANT_DIM = 6 };
enum { BUFFER_DATA = 0, BUFFER_OFFSET = 1, BUFFER_SIZE = 2 };
enum { OPCODE_DEPRECATED = 0, OPCODE_CUSTOM = 1, OPCODE_BUILTIN = 3 };
enum { OP_OPCODE = 0, OP_INPUTS = 1, OP_OUTPUTS = 2, OP_OPTIONS_TYPE = 3, OP_OPTIONS = 4 };
enum { METADATA_NAME = 0, METADATA_BUFFER = 1 };

enum tfl_type {
    TFL_FLOAT32 = 0, TFL_FLOAT16 = 1, TFL_INT32 = 2, TFL_UINT8 = 3, TFL_INT64 = 4,
    TFL_STRING = 5, TFL_BOOL = 6, TFL_INT16 = 7, TFL_COMPLEX64 = 8, TFL_INT8 = 9,
    TFL_FLOAT64 = 10
};

enum tfl_builtin {
    B_ADD = 0, B_AVERAGE_POOL_2D = 1, B_CONCATENATION = 2, B_CONV_2D = 3,
    B_DEPTHWISE_CONV_2D = 4, B_DEQUANTIZE = 6, B_FULLY_CONNECTED = 9, B_LOGISTIC = 14,
    B_MAX_POOL_2D = 17, B_MUL = 18, B_RELU = 19, B_RELU_N1_TO_1 = 20, B_RELU6 = 21,
    B_RESHAPE = 22, B_SOFTMAX = 25, B_TANH = 28, B_CUSTOM = 32, B_PAD = 34, B_MEAN = 40,
    B_SUB = 41, B_DIV = 42, B_SQUEEZE = 43, B_LOG_SOFTMAX = 50, B_PADV2 = 60, B_SUM = 74,
    B_REDUCE_MAX = 82, B_LEAKY_RELU = 98, B_QUANTIZE = 114, B_HARD_SWISH = 117,
    B_PLACEHOLDER_FOR_GREATER_OP_CODES = 127
};

/* BuiltinOptions union tags. */
enum { OPT_CONV2D = 1, OPT_DEPTHWISE = 2, OPT_POOL2D = 5, OPT_FULLY_CONNECTED = 8,
       OPT_SOFTMAX = 9, OPT_CONCATENATION = 10, OPT_ADD = 11, OPT_RESHAPE = 17, OPT_MUL = 21,
       OPT_PAD = 22, OPT_REDUCER = 27, OPT_SUB = 28, OPT_DIV = 29, OPT_SQUEEZE = 30,
       OPT_LEAKY_RELU = 75 };

enum { ACT_NONE = 0, ACT_RELU = 1, ACT_RELU_N1_TO_1 = 2, ACT_RELU6 = 3, ACT_TANH = 4,
       ACT_SIGN_BIT = 5 };

/* Metadata schema (tensorflow_lite_support/metadata/metadata_schema.fbs). */
enum { MM_SUBGRAPHS = 3 };
enum { SGM_INPUTS = 2, SGM_OUTPUTS = 3 };
enum { TM_PROCESS_UNITS = 4, TM_ASSOCIATED_FILES = 6 };
enum { PU_OPTIONS_TYPE = 0, PU_OPTIONS = 1, PU_NORMALIZATION = 1 };
enum { NORM_MEAN = 0, NORM_STD = 1 };
enum { AF_NAME = 0, AF_TYPE = 2, AF_TENSOR_AXIS_LABELS = 2 };

static const char *const builtin_names[] = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE", "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1",
    "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH",
    "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND",
    "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2", "SPLIT", "LOG_SOFTMAX",
    "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM", "ARG_MAX",
    "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT",
    "SLICE", "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL",
    "NOT_EQUAL", "LOG", "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT",
    "REDUCE_PROD", "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND",
    "LOGICAL_NOT", "UNPACK", "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE",
    "FILL", "FLOOR_MOD", "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU",
    "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS", "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2",
    "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK", "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG",
    "QUANTIZE", "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF", "WHILE",
    "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2", "DENSIFY",
    "SEGMENT_SUM", "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE",
    "BROADCAST_TO", "RFFT2D", "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE",
    "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE",
    "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "BROADCAST_ARGS",
};

static const char *builtin_name(int code) {
    int n = (int)(sizeof builtin_names / sizeof builtin_names[0]);
    return code >= 0 && code < n ? builtin_names[code] : "(unknown builtin)";
}

static const char *type_name(int t) {
    static const char *const names[] = {"FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64",
                                        "STRING", "BOOL", "INT16", "COMPLEX64", "INT8",
                                        "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE",
                                        "VARIANT", "UINT32", "UINT16", "INT4"};
    return t >= 0 && t < (int)(sizeof names / sizeof names[0]) ? names[t] : "(unknown type)";
}

/* At most this many inputs or outputs per operator: keeps hostile files linear. */
#define TFL_MAX_OP_IO 4096

/* ---- importer state ---------------------------------------------------------------------- */

typedef struct tfl_tensor {
    graft__fb_table tab;
    const char *name;            /* in the file (NUL-terminated there) */
    int type;                    /* enum tfl_type */
    int rank;
    int64_t shape[GRAFT__MAX_RANK]; /* the file's, NHWC for rank 4; -1 unknown */
    const uint8_t *data;         /* constant bytes in the file, or NULL */
    size_t bytes;
    graft__fb_vec scale, zero_point;
    int qdim;
    int value;                   /* IR value in activation layout, or -1 */
    int alias;                   /* DEQUANTIZE of a constant: the tensor it copies, or -1 */
} tfl_tensor;

typedef struct tfl {
    graft__fb fb;
    graft__graph *g;
    graft__fb_table model, subgraph;
    graft__fb_vec buffers, opcodes;
    tfl_tensor *t;
    uint32_t n_t;
    size_t const_bytes, const_budget;
    int mapped;                  /* buf is a file mapping: converted pages may be dropped */
    int op_index;                /* operator being translated, -1 outside */
    const char *op_name;
    int tmp_counter;
} tfl;

/*
 * Re-raises the current error with the operator in front of its message. The graph builder's
 * GRAFT_EINVAL (a tensor written twice, a name clash) is the file's fault here: GRAFT_ECORRUPT.
 */
static int with_context(tfl *imp, int err) {
    char prev[512];
    snprintf(prev, sizeof prev, "%s", graft_last_error());
    if (err == GRAFT_EINVAL) err = GRAFT_ECORRUPT;
    if (imp->op_index >= 0)
        return graft__fail(err, "tflite: operator %d (%s): %s", imp->op_index, imp->op_name,
                           prev);
    return graft__fail(err, "%s", prev);
}

static int op_fail(tfl *imp, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int op_fail(tfl *imp, int err, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (imp->op_index >= 0)
        return graft__fail(err, "tflite: operator %d (%s): %s", imp->op_index, imp->op_name,
                           msg);
    return graft__fail(err, "tflite: %s", msg);
}

static int64_t numel_of(const int64_t *dims, int rank) {
    int64_t n = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] < 0) return -1;
        if (dims[d] && n > INT64_MAX / dims[d]) return -2;
        n *= dims[d];
    }
    return n;
}

/* ---- tensors and their constant data ----------------------------------------------------- */

static int buffer_data(tfl *imp, uint32_t b, const uint8_t **data, size_t *bytes) {
    *data = NULL;
    *bytes = 0;
    if (b >= imp->buffers.n)
        return graft__fail(GRAFT_ECORRUPT, "tflite: buffer index %u out of range (%u buffers)", b,
                           imp->buffers.n);
    graft__fb_table bt;
    int err = graft__fb_vec_table(&imp->buffers, b, "Buffer", &bt);
    if (err) return err;
    graft__fb_vec v;
    err = graft__fb_vec_field(&bt, BUFFER_DATA, 1, &v);
    if (err < 0) return err;
    if (v.n) {
        *data = graft__fb_vec_data(&v);
        *bytes = v.n;
        return 0;
    }
    /* Models above 2 GiB keep their data after the flatbuffer: offset and size from the
     * start of the file (offset 1 is the writer's placeholder for "none"). */
    uint64_t off, size;
    if ((err = graft__fb_u64(&bt, BUFFER_OFFSET, 0, &off)) ||
        (err = graft__fb_u64(&bt, BUFFER_SIZE, 0, &size)))
        return err;
    if (off > 1 && size) {
        if (off > imp->fb.len || size > imp->fb.len - off)
            return graft__fail(GRAFT_ECORRUPT, "tflite: Buffer[%u]: %llu bytes at file offset "
                               "%llu run past the end of the file (%zu bytes)", b,
                               (unsigned long long)size, (unsigned long long)off, imp->fb.len);
        *data = imp->fb.buf + off;
        *bytes = (size_t)size;
    }
    return 0;
}

static int read_tensor(tfl *imp, uint32_t i, const graft__fb_vec *tensors) {
    tfl_tensor *t = &imp->t[i];
    t->value = -1;
    t->alias = -1;
    int err = graft__fb_vec_table(tensors, i, "Tensor", &t->tab);
    if (err) return err;
    size_t n;
    if ((err = graft__fb_string_field(&t->tab, TENSOR_NAME, &t->name, &n)) < 0) return err;
    int8_t type;
    if ((err = graft__fb_i8(&t->tab, TENSOR_TYPE, 0, &type))) return err;
    t->type = type;
    graft__fb_vec shape;
    if ((err = graft__fb_vec_field(&t->tab, TENSOR_SHAPE, 4, &shape)) < 0) return err;
    if (shape.n > GRAFT__MAX_RANK)
        return graft__fail(GRAFT_EUNSUPPORTED, "tflite: tensor %u '%s': rank %u is above "
                           "graft's limit of %d", i, t->name, shape.n, GRAFT__MAX_RANK);
    t->rank = (int)shape.n;
    for (uint32_t d = 0; d < shape.n; d++) {
        int32_t v = graft__fb_vec_i32(&shape, d);
        t->shape[d] = v < 0 ? -1 : v;
    }
    if (graft__fb_has(&t->tab, TENSOR_SPARSITY))
        return graft__fail(GRAFT_EUNSUPPORTED, "tflite: tensor %u '%s' is sparse, which graft "
                           "does not read", i, t->name);
    uint32_t b;
    if ((err = graft__fb_u32(&t->tab, TENSOR_BUFFER, 0, &b))) return err;
    if (b) {
        err = buffer_data(imp, b, &t->data, &t->bytes);
        if (err) return err;
        if (!t->bytes) t->data = NULL;
    }
    graft__fb_table q;
    err = graft__fb_table_field(&t->tab, TENSOR_QUANT, "QuantizationParameters", &q);
    if (err < 0) return err;
    t->scale.fb = t->zero_point.fb = &imp->fb;
    if (err == 1) {
        int32_t qdim;
        if ((err = graft__fb_vec_field(&q, QUANT_SCALE, 4, &t->scale)) < 0 ||
            (err = graft__fb_vec_field(&q, QUANT_ZERO_POINT, 8, &t->zero_point)) < 0 ||
            (err = graft__fb_i32(&q, QUANT_DIM, 0, &qdim)))
            return err;
        t->qdim = qdim;
        for (uint32_t k = 0; k < t->scale.n; k++)
            if (!isfinite(graft__fb_vec_f32(&t->scale, k)))
                return graft__fail(GRAFT_ECORRUPT, "tflite: tensor %u '%s': quantization scale "
                                   "%u is not finite", i, t->name, k);
    }
    return 0;
}

/*
 * Drops the file pages under a converted constant from this process when buf is the caller's
 * mapping of the file (a path was given, graph.h's contract): they stay in the page cache and
 * are read again from the file if touched (a buffer shared by two tensors), so the weights are
 * not resident twice, as mapping and as floats, while the model loads. Whole pages only.
 */
static void release_pages(const tfl *imp, const void *p, size_t len) {
    long page = sysconf(_SC_PAGESIZE);
    if (!imp->mapped || !p || page <= 0 || len < (size_t)page * 4) return;
    uintptr_t lo = ((uintptr_t)p + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t hi = ((uintptr_t)p + len) & ~(uintptr_t)(page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Follows DEQUANTIZE-of-constant aliases to the tensor holding the data. */
static uint32_t resolve(const tfl *imp, uint32_t ti) {
    for (int hops = 0; imp->t[ti].alias >= 0 && hops < 64; hops++) ti = (uint32_t)imp->t[ti].alias;
    return ti;
}

static int is_const(const tfl *imp, uint32_t ti) { return imp->t[resolve(imp, ti)].data != NULL; }

static int charge(tfl *imp, uint32_t ti, size_t bytes) {
    if (bytes > imp->const_budget - imp->const_bytes)
        return op_fail(imp, GRAFT_ERANGE, "tensor '%s': the constants would take over %zu bytes "
                       "as float, beyond what a file of %zu bytes can hold",
                       imp->t[ti].name, imp->const_budget, imp->fb.len);
    imp->const_bytes += bytes;
    return 0;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, u;
    if (e == 0) {
        /* Zero or subnormal: m * 2^-24, exact in float. */
        float f = ldexpf((float)m, -24);
        return sign ? -f : f;
    }
    if (e == 31)
        u = sign | 0x7f800000u | (m << 13);
    else
        u = sign | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Checks that the constant's data holds exactly numel elements of elem bytes. */
static int check_bytes(tfl *imp, uint32_t ti, int64_t numel, size_t elem) {
    const tfl_tensor *t = &imp->t[ti];
    if (numel < 0)
        return op_fail(imp, numel == -1 ? GRAFT_ECORRUPT : GRAFT_ERANGE, "constant tensor %u "
                       "'%s' has %s dimensions", ti, t->name,
                       numel == -1 ? "negative" : "overflowing");
    if ((uint64_t)numel > t->bytes / elem || (uint64_t)numel * elem != t->bytes)
        return op_fail(imp, GRAFT_ECORRUPT, "constant tensor %u '%s' (%s, %lld elements) has "
                       "%zu bytes of data, expected %llu", ti, t->name, type_name(t->type),
                       (long long)numel, t->bytes,
                       (unsigned long long)((uint64_t)numel * elem));
    return 0;
}

/*
 * The constant tensor ti as floats in its file layout (malloc'd, caller frees), dequantized.
 * `qscale`, when > 0 and the tensor has no scale of its own, is the per-tensor fallback
 * scale (for biases: input scale times weight scale); `qscales` per channel likewise.
 */
static int const_float_ex(tfl *imp, uint32_t ti, const float *fallback_scales, int n_fallback,
                          float **out, int64_t *numel_out) {
    ti = resolve(imp, ti);
    const tfl_tensor *t = &imp->t[ti];
    int64_t numel = numel_of(t->shape, t->rank);
    size_t elem;
    switch (t->type) {
    case TFL_FLOAT32: case TFL_INT32: elem = 4; break;
    case TFL_FLOAT16: case TFL_INT16: elem = 2; break;
    case TFL_UINT8: case TFL_INT8: elem = 1; break;
    case TFL_FLOAT64: case TFL_INT64: elem = 8; break;
    default:
        return op_fail(imp, GRAFT_EUNSUPPORTED, "constant tensor %u '%s' has type %s, which "
                       "graft cannot convert to float", ti, t->name, type_name(t->type));
    }
    int err = check_bytes(imp, ti, numel, elem);
    if (err) return err;
    int is_int = t->type == TFL_INT32 || t->type == TFL_INT16 || t->type == TFL_UINT8 ||
                 t->type == TFL_INT8 || t->type == TFL_INT64;
    uint32_t n_scale = t->scale.n;
    if (is_int && !n_scale && !n_fallback && (t->type == TFL_UINT8 || t->type == TFL_INT8 ||
                                               t->type == TFL_INT16))
        return op_fail(imp, GRAFT_EUNSUPPORTED, "constant tensor %u '%s' (%s) has no "
                       "quantization scale to dequantize it with", ti, t->name,
                       type_name(t->type));
    /* Per-channel: the scales run along quantized_dimension. */
    int64_t channels = 1, inner = 1;
    if (is_int && n_scale > 1) {
        if (t->qdim < 0 || t->qdim >= t->rank || t->shape[t->qdim] != (int64_t)n_scale)
            return op_fail(imp, GRAFT_ECORRUPT, "tensor %u '%s': %u scales do not match "
                           "quantized_dimension %d of its shape", ti, t->name, n_scale,
                           t->qdim);
        channels = n_scale;
        for (int d = t->qdim + 1; d < t->rank; d++) inner *= t->shape[d];
    } else if (is_int && !n_scale && n_fallback > 1) {
        /* A bias without its own scale: channels along its only axis. */
        if (t->rank != 1 || t->shape[0] != n_fallback)
            return op_fail(imp, GRAFT_ECORRUPT, "tensor %u '%s': %d derived scales do not "
                           "match its shape", ti, t->name, n_fallback);
        channels = n_fallback;
    }
    if (t->zero_point.n > 1 && t->zero_point.n != n_scale)
        return op_fail(imp, GRAFT_ECORRUPT, "tensor %u '%s': %u zero points for %u scales", ti,
                       t->name, t->zero_point.n, n_scale);
    if ((err = charge(imp, ti, (size_t)numel * sizeof(float)))) return err;
    float *f = malloc((size_t)(numel ? numel : 1) * sizeof(float));
    if (!f) return op_fail(imp, GRAFT_ENOMEM, "out of memory for tensor '%s'", t->name);
    const uint8_t *p = t->data;
    for (int64_t e = 0; e < numel; e++) {
        double q;
        switch (t->type) {
        case TFL_FLOAT32: {
            uint32_t u = graft__fb_load_u32(p + 4 * e);
            float v;
            memcpy(&v, &u, 4);
            f[e] = v;
            continue;
        }
        case TFL_FLOAT16: f[e] = half_to_float(graft__fb_load_u16(p + 2 * e)); continue;
        case TFL_FLOAT64: {
            uint64_t u = graft__fb_load_u64(p + 8 * e);
            double v;
            memcpy(&v, &u, 8);
            f[e] = (float)v;
            continue;
        }
        case TFL_INT32: q = (int32_t)graft__fb_load_u32(p + 4 * e); break;
        case TFL_INT16: q = (int16_t)graft__fb_load_u16(p + 2 * e); break;
        case TFL_INT64: q = (double)(int64_t)graft__fb_load_u64(p + 8 * e); break;
        case TFL_UINT8: q = p[e]; break;
        default: q = (int8_t)p[e]; break;
        }
        int64_t c = channels > 1 ? (e / inner) % channels : 0;
        double scale = 1, zp = 0;
        if (n_scale) {
            scale = graft__fb_vec_f32(&t->scale, (uint32_t)(n_scale > 1 ? c : 0));
            if (t->zero_point.n)
                zp = (double)graft__fb_vec_i64(&t->zero_point,
                                               (uint32_t)(t->zero_point.n > 1 ? c : 0));
        } else if (n_fallback) {
            scale = fallback_scales[n_fallback > 1 ? c : 0];
        }
        f[e] = (float)((q - zp) * scale);
    }
    release_pages(imp, t->data, t->bytes);
    *out = f;
    *numel_out = numel;
    return 0;
}

static int const_float(tfl *imp, uint32_t ti, float **out, int64_t *numel) {
    return const_float_ex(imp, ti, NULL, 0, out, numel);
}

/* An integer constant (axes, paddings, shapes) as int64 (malloc'd). */
static int const_int64(tfl *imp, uint32_t ti, int64_t **out, int64_t *numel_out) {
    ti = resolve(imp, ti);
    const tfl_tensor *t = &imp->t[ti];
    if (t->type != TFL_INT32 && t->type != TFL_INT64)
        return op_fail(imp, GRAFT_EUNSUPPORTED, "tensor %u '%s' has type %s where an integer "
                       "constant (INT32 or INT64) is expected", ti, t->name, type_name(t->type));
    size_t elem = t->type == TFL_INT32 ? 4 : 8;
    int64_t numel = numel_of(t->shape, t->rank);
    int err = check_bytes(imp, ti, numel, elem);
    if (err) return err;
    if ((err = charge(imp, ti, (size_t)numel * 8))) return err;
    int64_t *v = malloc((size_t)(numel ? numel : 1) * sizeof *v);
    if (!v) return op_fail(imp, GRAFT_ENOMEM, "out of memory for tensor '%s'", t->name);
    for (int64_t e = 0; e < numel; e++)
        v[e] = elem == 4 ? (int32_t)graft__fb_load_u32(t->data + 4 * e)
                         : (int64_t)graft__fb_load_u64(t->data + 8 * e);
    *out = v;
    *numel_out = numel;
    return 0;
}

/* dst = src transposed: dst dims[k] = dims[perm[k]]. Both (numel) floats. */
static void permute(float *dst, const float *src, const int64_t *dims, int rank, const int *perm) {
    int64_t src_stride[GRAFT__MAX_RANK], dst_dims[GRAFT__MAX_RANK], idx[GRAFT__MAX_RANK] = {0};
    int64_t numel = 1;
    for (int d = rank - 1; d >= 0; d--) {
        src_stride[d] = numel;
        numel *= dims[d];
    }
    for (int k = 0; k < rank; k++) dst_dims[k] = dims[perm[k]];
    for (int64_t e = 0; e < numel; e++) {
        int64_t off = 0;
        for (int k = 0; k < rank; k++) off += idx[k] * src_stride[perm[k]];
        dst[e] = src[off];
        for (int k = rank - 1; k >= 0; k--) {
            if (++idx[k] < dst_dims[k]) break;
            idx[k] = 0;
        }
    }
}

/* NHWC -> NCHW as a permutation of axes (also OHWI -> OIHW), and its inverse. */
static const int to_nchw[4] = {0, 3, 1, 2};
static const int to_nhwc[4] = {0, 2, 3, 1};

/* The NCHW axis of NHWC axis a (both in [0, 4)). */
static int nhwc_axis_to_nchw(int a) { return a == 0 ? 0 : a == 3 ? 1 : a + 1; }

/* ---- IR values ---------------------------------------------------------------------------- */

/* A name for a new value: base + suffix, made unique. */
static void unique_name(tfl *imp, char *buf, size_t cap, const char *base, const char *suffix) {
    snprintf(buf, cap, "%s%s", base, suffix);
    while (graft__graph_find(imp->g, buf) >= 0)
        snprintf(buf, cap, "%s%s#%d", base, suffix, ++imp->tmp_counter);
}

/* The IR dims of tensor t as an activation: NHWC -> NCHW for rank 4. */
static void ir_dims(const tfl_tensor *t, int64_t *dims) {
    if (t->rank == 4)
        for (int k = 0; k < 4; k++) dims[k] = t->shape[to_nchw[k]];
    else
        for (int k = 0; k < t->rank; k++) dims[k] = t->shape[k];
}

/* Adds a float constant (adopting data) under a unique form of `name`. */
static int add_const_f32(tfl *imp, const char *name, const char *suffix, float *data, int rank,
                         const int64_t *dims, int is_weight, int *v) {
    char buf[300];
    unique_name(imp, buf, sizeof buf, name, suffix);
    int r = graft__graph_add_const(imp->g, buf, GRAFT__F32, rank, dims, data, 0, is_weight);
    if (r < 0) return with_context(imp, r);
    *v = r;
    return 0;
}

static int add_const_i64(tfl *imp, const char *name, const char *suffix, const int64_t *vals,
                         int n, int *v) {
    char buf[300];
    unique_name(imp, buf, sizeof buf, name, suffix);
    int r = graft__graph_add_i64(imp->g, buf, vals, n);
    if (r < 0) return with_context(imp, r);
    *v = r;
    return 0;
}

/* A new intermediate value named after `base`. */
static int tmp_value(tfl *imp, const char *base, const char *suffix, int rank,
                     const int64_t *dims, int *v) {
    char buf[300];
    unique_name(imp, buf, sizeof buf, base, suffix);
    int r = graft__graph_add_value(imp->g, buf, GRAFT__F32, rank, dims);
    if (r < 0) return with_context(imp, r);
    *v = r;
    return 0;
}

/*
 * The IR value of tensor ti as an activation (NCHW for rank 4): constants are materialised
 * on first use (rank 4 data transposed), others created empty, to be written by their
 * producer (or be a graph input).
 */
static int value_of(tfl *imp, uint32_t ti, int *v) {
    tfl_tensor *t = &imp->t[ti];
    if (t->value >= 0) {
        *v = t->value;
        return 0;
    }
    int64_t dims[GRAFT__MAX_RANK];
    ir_dims(t, dims);
    const char *name = t->name[0] ? t->name : "tensor";
    if (is_const(imp, ti)) {
        const tfl_tensor *src = &imp->t[resolve(imp, ti)];
        int err;
        /* Integer constants (axes, shapes) stay integers; a 4-D one is data, and goes
         * through the float path, which also transposes it. */
        if (!src->scale.n && t->rank != 4 && (src->type == TFL_INT32 || src->type == TFL_INT64)) {
            int64_t *iv, n;
            if ((err = const_int64(imp, ti, &iv, &n))) return err;
            char buf[300];
            unique_name(imp, buf, sizeof buf, name, "");
            int r = graft__graph_add_const(imp->g, buf, GRAFT__I64, t->rank, dims, iv, 0, 0);
            if (r < 0) return with_context(imp, r);
            t->value = r;
        } else {
            float *f;
            int64_t n;
            if ((err = const_float(imp, ti, &f, &n))) return err;
            if (t->rank == 4) {
                float *p = malloc((size_t)(n ? n : 1) * sizeof(float));
                if (!p) {
                    free(f);
                    return op_fail(imp, GRAFT_ENOMEM, "out of memory for tensor '%s'", t->name);
                }
                permute(p, f, t->shape, 4, to_nchw);
                free(f);
                f = p;
            }
            if ((err = add_const_f32(imp, name, "", f, t->rank, dims, 0, &t->value))) return err;
        }
        *v = t->value;
        return 0;
    }
    /* Activations: the batch is whatever the net is created for. */
    if (t->rank >= 2) dims[0] = -1;
    char buf[300];
    unique_name(imp, buf, sizeof buf, name, "");
    int r = graft__graph_add_value(imp->g, buf, GRAFT__F32, t->rank, dims);
    if (r < 0) return with_context(imp, r);
    t->value = r;
    *v = r;
    return 0;
}

/* The value an operator writes for its output tensor ti. */
static int out_value(tfl *imp, uint32_t ti, int *v) {
    if (is_const(imp, ti))
        return op_fail(imp, GRAFT_ECORRUPT, "writes tensor %u '%s', which is a constant", ti,
                       imp->t[ti].name);
    return value_of(imp, ti, v);
}

static int add_node(tfl *imp, int op, const int *in, int n_in, const int *out, int n_out,
                    graft__node **node) {
    const char *name = n_out ? imp->g->values[out[0]].name : "";
    int err = graft__graph_add_node(imp->g, op, name, imp->op_name, in, n_in, out, n_out, node);
    return err ? with_context(imp, err) : 0;
}

/* y = transpose(x, perm) into `out` (or a new value when out < 0). */
static int emit_transpose(tfl *imp, int x, const int *perm, int rank, int out, int *y) {
    if (out < 0) {
        int64_t dims[GRAFT__MAX_RANK];
        const graft__value *xv = &imp->g->values[x];
        for (int k = 0; k < rank; k++) dims[k] = xv->rank == rank ? xv->dims[perm[k]] : -1;
        char base[300];
        snprintf(base, sizeof base, "%s", xv->name);
        int err = tmp_value(imp, base, "::transposed", rank, dims, &out);
        if (err) return err;
    }
    graft__node *n;
    int err = add_node(imp, GRAFT__OP_TRANSPOSE, &x, 1, &out, 1, &n);
    if (err) return err;
    for (int k = 0; k < rank; k++) n->a.transpose.perm[k] = perm[k];
    n->a.transpose.n = rank;
    *y = out;
    return 0;
}

/* y = reshape(x, shape[0..n)) into `out` (or a new value). 0 copies x's dim, -1 is inferred. */
static int emit_reshape(tfl *imp, int x, const int64_t *shape, int n, int out, int *y) {
    char base[300];
    snprintf(base, sizeof base, "%s", imp->g->values[x].name);
    int sv = -1, err = add_const_i64(imp, base, "::shape", shape, n, &sv);
    if (err) return err;
    if (out < 0) {
        int64_t dims[GRAFT__MAX_RANK];
        const graft__value *xv = &imp->g->values[x];
        for (int k = 0; k < n; k++)
            dims[k] = shape[k] > 0 ? shape[k] : (shape[k] == 0 && k < xv->rank ? xv->dims[k] : -1);
        if ((err = tmp_value(imp, base, "::reshaped", n, dims, &out))) return err;
    }
    int in[2] = {x, sv};
    if ((err = add_node(imp, GRAFT__OP_RESHAPE, in, 2, &out, 1, NULL))) return err;
    *y = out;
    return 0;
}

/* ---- fused activations -------------------------------------------------------------------- */

static const char *act_name(int a) {
    static const char *const names[] = {"NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH",
                                        "SIGN_BIT"};
    return a >= 0 && a <= 5 ? names[a] : "(unknown)";
}

/*
 * Where the main node of an operator with fused activation `fa` writes: its output itself
 * with *act set (RELU, RELU6 on nodes that fuse them), or a pre-activation value that
 * act_end() turns into the output.
 */
static int act_begin(tfl *imp, int fa, int can_fuse, int out, int *write, graft_act *act) {
    *write = out;
    if (act) *act = GRAFT_ACT_NONE;
    switch (fa) {
    case ACT_NONE: return 0;
    case ACT_RELU:
    case ACT_RELU6:
        if (can_fuse && act) {
            *act = fa == ACT_RELU ? GRAFT_ACT_RELU : GRAFT_ACT_RELU6;
            return 0;
        }
        break;
    case ACT_RELU_N1_TO_1:
    case ACT_TANH: break;
    default:
        return op_fail(imp, GRAFT_EUNSUPPORTED, "fused activation %s (%d) is not supported",
                       act_name(fa), fa);
    }
    const graft__value *ov = &imp->g->values[out];
    char base[300];
    snprintf(base, sizeof base, "%s", ov->name);
    int64_t dims[GRAFT__MAX_RANK];
    memcpy(dims, ov->dims, sizeof dims);
    return tmp_value(imp, base, "::pre_act", ov->rank, dims, write);
}

static int emit_unary(tfl *imp, graft_unary kind, float alpha, float beta, int x, int y) {
    graft__node *n;
    int err = add_node(imp, GRAFT__OP_UNARY, &x, 1, &y, 1, &n);
    if (err) return err;
    n->a.unary.kind = kind;
    n->a.unary.alpha = alpha;
    n->a.unary.beta = beta;
    return 0;
}

static int act_end(tfl *imp, int fa, int write, int out) {
    if (write == out) return 0;
    switch (fa) {
    case ACT_RELU: return emit_unary(imp, GRAFT_UNARY_RELU, 0, 0, write, out);
    case ACT_RELU6: return emit_unary(imp, GRAFT_UNARY_CLIP, 0, 6, write, out);
    case ACT_RELU_N1_TO_1: return emit_unary(imp, GRAFT_UNARY_CLIP, -1, 1, write, out);
    default: return emit_unary(imp, GRAFT_UNARY_TANH, 0, 0, write, out);
    }
}

/* ---- operators ---------------------------------------------------------------------------- */

typedef struct tfl_op {
    graft__fb_table tab;
    graft__fb_table opt;  /* builtin options (zeroed when absent: every field reads default) */
    int has_opt;
    int code;
    int in[TFL_MAX_OP_IO], n_in; /* tensor indices, -1 for omitted optionals */
    int out[8], n_out;
} tfl_op;

static int need_io(tfl *imp, const tfl_op *op, int min_in, int max_in, int n_out) {
    if (op->n_in < min_in || op->n_in > max_in)
        return op_fail(imp, GRAFT_ECORRUPT, "%d inputs, expected %d..%d", op->n_in, min_in,
                       max_in);
    for (int i = 0; i < min_in; i++)
        if (op->in[i] < 0) return op_fail(imp, GRAFT_ECORRUPT, "required input %d is omitted", i);
    if (op->n_out != n_out)
        return op_fail(imp, GRAFT_ECORRUPT, "%d outputs, expected %d", op->n_out, n_out);
    return 0;
}

static int need_rank(tfl *imp, uint32_t ti, int rank, const char *role) {
    if (imp->t[ti].rank != rank)
        return op_fail(imp, GRAFT_EUNSUPPORTED, "%s '%s' has rank %d, expected %d", role,
                       imp->t[ti].name, imp->t[ti].rank, rank);
    return 0;
}

static int need_const(tfl *imp, uint32_t ti, const char *role) {
    if (!is_const(imp, ti))
        return op_fail(imp, GRAFT_EUNSUPPORTED, "%s '%s' is computed at run time; graft needs "
                       "it constant", role, imp->t[ti].name);
    return 0;
}

/* Reads options field `id` of the operator's options table (defaults when absent). */
#define OPT_I32(imp, op, id, def, out)                                                   \
    do {                                                                                 \
        int err_ = (op)->has_opt ? graft__fb_i32(&(op)->opt, id, def, out) : (*(out) = def, 0); \
        if (err_) return with_context(imp, err_);                                        \
    } while (0)
#define OPT_U8(imp, op, id, def, out)                                                    \
    do {                                                                                 \
        int err_ = (op)->has_opt ? graft__fb_u8(&(op)->opt, id, def, out) : (*(out) = def, 0); \
        if (err_) return with_context(imp, err_);                                        \
    } while (0)
#define OPT_F32(imp, op, id, def, out)                                                   \
    do {                                                                                 \
        int err_ = (op)->has_opt ? graft__fb_f32(&(op)->opt, id, def, out) : (*(out) = def, 0); \
        if (err_) return with_context(imp, err_);                                        \
    } while (0)

static int padding_mode(tfl *imp, uint8_t padding, int *auto_pad) {
    if (padding > 1)
        return op_fail(imp, GRAFT_ECORRUPT, "padding %u is neither SAME (0) nor VALID (1)",
                       padding);
    *auto_pad = padding == 0 ? GRAFT__PAD_SAME_UPPER : GRAFT__PAD_VALID;
    return 0;
}

static int check_window(tfl *imp, int32_t sh, int32_t sw, int32_t dh, int32_t dw) {
    if (sh < 1 || sw < 1 || dh < 1 || dw < 1 || sh > 65536 || sw > 65536 || dh > 65536 ||
        dw > 65536)
        return op_fail(imp, GRAFT_ECORRUPT, "stride %dx%d, dilation %dx%d: each must be 1..65536",
                       sh, sw, dh, dw);
    return 0;
}

/* The bias of a conv / fully connected: a float constant of n, or -1 when omitted. */
static int bias_value(tfl *imp, const tfl_op *op, int64_t n, int *bv) {
    *bv = -1;
    if (op->n_in < 3 || op->in[2] < 0) return 0;
    uint32_t bi = (uint32_t)op->in[2], wi = (uint32_t)op->in[1], xi = (uint32_t)op->in[0];
    int err = need_const(imp, bi, "bias");
    if (err) return err;
    const tfl_tensor *b = &imp->t[resolve(imp, bi)];
    if (numel_of(b->shape, b->rank) != n)
        return op_fail(imp, GRAFT_ECORRUPT, "bias '%s' does not have %lld elements", b->name,
                       (long long)n);
    /* A quantized bias without its own scale: input scale times the weight scale(s). */
    float *fallback = NULL;
    int n_fallback = 0;
    if (!b->scale.n && (b->type == TFL_INT32 || b->type == TFL_INT64)) {
        const tfl_tensor *x = &imp->t[xi], *w = &imp->t[resolve(imp, wi)];
        if (x->scale.n == 1 && w->scale.n >= 1) {
            n_fallback = (int)w->scale.n;
            fallback = malloc(sizeof(float) * (size_t)n_fallback);
            if (!fallback) return op_fail(imp, GRAFT_ENOMEM, "out of memory");
            for (int c = 0; c < n_fallback; c++)
                fallback[c] = graft__fb_vec_f32(&x->scale, 0) *
                              graft__fb_vec_f32(&w->scale, (uint32_t)c);
        }
    }
    float *f;
    int64_t numel;
    err = const_float_ex(imp, bi, fallback, n_fallback, &f, &numel);
    free(fallback);
    if (err) return err;
    int64_t dims[1] = {n};
    return add_const_f32(imp, b->name[0] ? b->name : "bias", "", f, 1, dims, 1, bv);
}

static int op_conv(tfl *imp, const tfl_op *op, int depthwise) {
    int err = need_io(imp, op, 2, 3, 1);
    if (err) return err;
    uint32_t xi = (uint32_t)op->in[0], wi = (uint32_t)op->in[1];
    if ((err = need_rank(imp, xi, 4, "input")) || (err = need_rank(imp, wi, 4, "filter")) ||
        (err = need_const(imp, wi, "filter")))
        return err;
    uint8_t padding, fa;
    int32_t sw, sh, dw, dh;
    OPT_U8(imp, op, 0, 0, &padding);
    OPT_I32(imp, op, 1, 0, &sw);
    OPT_I32(imp, op, 2, 0, &sh);
    OPT_U8(imp, op, depthwise ? 4 : 3, 0, &fa);
    OPT_I32(imp, op, depthwise ? 5 : 4, 1, &dw);
    OPT_I32(imp, op, depthwise ? 6 : 5, 1, &dh);
    int auto_pad = GRAFT__PAD_VALID;
    if ((err = padding_mode(imp, padding, &auto_pad)) || (err = check_window(imp, sh, sw, dh, dw)))
        return err;
    const tfl_tensor *x = &imp->t[xi], *w = &imp->t[resolve(imp, wi)];
    int64_t C_in = x->shape[3];
    int64_t O, KH = w->shape[1], KW = w->shape[2], I;
    if (depthwise) {
        O = w->shape[3];
        I = 1;
        if (w->shape[0] != 1)
            return op_fail(imp, GRAFT_ECORRUPT, "depthwise filter '%s' has %lld in its first "
                           "dimension, expected 1", w->name, (long long)w->shape[0]);
    } else {
        O = w->shape[0];
        I = w->shape[3];
    }
    if (C_in <= 0 || O <= 0 || KH <= 0 || KW <= 0 || I <= 0 || C_in > INT32_MAX ||
        O > INT32_MAX || KH > 65536 || KW > 65536)
        return op_fail(imp, GRAFT_ECORRUPT, "input channels %lld, filter [%lld,%lld,%lld,%lld] "
                       "are not usable sizes", (long long)C_in, (long long)w->shape[0],
                       (long long)w->shape[1], (long long)w->shape[2], (long long)w->shape[3]);
    int64_t groups = depthwise ? C_in : C_in / I;
    if (depthwise ? (O % C_in != 0) : (C_in % I != 0 || O % groups != 0))
        return op_fail(imp, GRAFT_ECORRUPT, "%lld input channels do not fit filter '%s' "
                       "[%lld,%lld,%lld,%lld]", (long long)C_in, w->name,
                       (long long)w->shape[0], (long long)w->shape[1], (long long)w->shape[2],
                       (long long)w->shape[3]);
    /* Filter: OHWI -> OIHW; depthwise [1,KH,KW,C*M] -> [C*M,1,KH,KW]. */
    float *f;
    int64_t n;
    if ((err = const_float(imp, wi, &f, &n))) return err;
    float *p = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!p) {
        free(f);
        return op_fail(imp, GRAFT_ENOMEM, "out of memory for filter '%s'", w->name);
    }
    static const int dw_perm[4] = {3, 0, 1, 2};
    permute(p, f, w->shape, 4, depthwise ? dw_perm : to_nchw);
    free(f);
    int64_t wdims[4] = {O, I, KH, KW};
    int wv = -1, bv = -1, xv = -1, yv = -1, write = -1;
    if ((err = add_const_f32(imp, w->name[0] ? w->name : "filter", "", p, 4, wdims, 1, &wv)) ||
        (err = bias_value(imp, op, O, &bv)) || (err = value_of(imp, xi, &xv)) ||
        (err = out_value(imp, (uint32_t)op->out[0], &yv)))
        return err;
    graft_act act;
    if ((err = act_begin(imp, fa, 1, yv, &write, &act))) return err;
    int in[3] = {xv, wv, bv};
    graft__node *node;
    if ((err = add_node(imp, GRAFT__OP_CONV, in, 3, &write, 1, &node))) return err;
    graft_conv2d *d = &node->a.conv.d;
    d->C_in = (int)C_in;
    d->C_out = (int)O;
    d->groups = (int)groups;
    d->kernel_h = (int)KH;
    d->kernel_w = (int)KW;
    d->stride_h = sh;
    d->stride_w = sw;
    d->dilation_h = dh;
    d->dilation_w = dw;
    d->act = act;
    node->a.conv.auto_pad = auto_pad;
    return act_end(imp, fa, write, yv);
}

static int op_pool(tfl *imp, const tfl_op *op, int kind) {
    int err = need_io(imp, op, 1, 1, 1);
    if (err) return err;
    if ((err = need_rank(imp, (uint32_t)op->in[0], 4, "input"))) return err;
    uint8_t padding, fa;
    int32_t sw, sh, kw, kh;
    OPT_U8(imp, op, 0, 0, &padding);
    OPT_I32(imp, op, 1, 0, &sw);
    OPT_I32(imp, op, 2, 0, &sh);
    OPT_I32(imp, op, 3, 0, &kw);
    OPT_I32(imp, op, 4, 0, &kh);
    OPT_U8(imp, op, 5, 0, &fa);
    int auto_pad = GRAFT__PAD_VALID;
    if ((err = padding_mode(imp, padding, &auto_pad)) || (err = check_window(imp, sh, sw, 1, 1)))
        return err;
    if (kh < 1 || kw < 1 || kh > 65536 || kw > 65536)
        return op_fail(imp, GRAFT_ECORRUPT, "filter %dx%d: each side must be 1..65536", kh, kw);
    int xv, yv, write;
    if ((err = value_of(imp, (uint32_t)op->in[0], &xv)) ||
        (err = out_value(imp, (uint32_t)op->out[0], &yv)) ||
        (err = act_begin(imp, fa, 0, yv, &write, NULL)))
        return err;
    graft__node *node;
    if ((err = add_node(imp, GRAFT__OP_POOL, &xv, 1, &write, 1, &node))) return err;
    graft_pool2d *p = &node->a.pool.p;
    p->kind = kind;
    p->kernel_h = kh;
    p->kernel_w = kw;
    p->stride_h = sh;
    p->stride_w = sw;
    p->dilation_h = p->dilation_w = 1;
    /* TFLite's average pool divides by the pixels inside the image, SAME or not. */
    p->count_include_pad = 0;
    node->a.pool.auto_pad = auto_pad;
    return act_end(imp, fa, write, yv);
}

/*
 * A rank-4 IR value x (NCHW) in NHWC order, as TFLite's memory holds it: a Transpose unless
 * the move only shifts dims of size 1 (then the row-major data are already in NHWC order).
 */
static int nhwc_order(tfl *imp, uint32_t ti, int x, int *y) {
    const tfl_tensor *t = &imp->t[ti];
    if (t->shape[3] == 1 || (t->shape[1] == 1 && t->shape[2] == 1)) {
        *y = x;
        return 0;
    }
    return emit_transpose(imp, x, to_nhwc, 4, -1, y);
}

static int op_fully_connected(tfl *imp, const tfl_op *op) {
    int err = need_io(imp, op, 2, 3, 1);
    if (err) return err;
    uint32_t xi = (uint32_t)op->in[0], wi = (uint32_t)op->in[1], yi = (uint32_t)op->out[0];
    if ((err = need_rank(imp, wi, 2, "weights")) || (err = need_const(imp, wi, "weights")))
        return err;
    uint8_t fa, wformat, keep;
    OPT_U8(imp, op, 0, 0, &fa);
    OPT_U8(imp, op, 1, 0, &wformat);
    OPT_U8(imp, op, 2, 0, &keep);
    if (wformat != 0)
        return op_fail(imp, GRAFT_EUNSUPPORTED, "weights format %u (shuffled) is not supported",
                       wformat);
    const tfl_tensor *x = &imp->t[xi], *w = &imp->t[resolve(imp, wi)], *y = &imp->t[yi];
    int64_t out_n = w->shape[0], in_n = w->shape[1];
    if (out_n <= 0 || in_n <= 0)
        return op_fail(imp, GRAFT_ECORRUPT, "weights '%s' have shape [%lld,%lld]", w->name,
                       (long long)out_n, (long long)in_n);
    float *f;
    int64_t n;
    if ((err = const_float(imp, wi, &f, &n))) return err;
    int wv = -1, bv = -1, xv = -1, yv = -1;
    if ((err = add_const_f32(imp, w->name[0] ? w->name : "weights", "", f, 2, w->shape, 1, &wv)) ||
        (err = bias_value(imp, op, out_n, &bv)) || (err = value_of(imp, xi, &xv)) ||
        (err = out_value(imp, yi, &yv)))
        return err;
    /* TFLite flattens the input in its NHWC memory order to rows of in_n. */
    int a = xv;
    if (x->rank == 4 && (err = nhwc_order(imp, xi, xv, &a))) return err;
    if (x->rank != 2 || x->shape[1] != in_n) {
        int64_t shape[2] = {-1, in_n};
        if ((err = emit_reshape(imp, a, shape, 2, -1, &a))) return err;
    }
    /* keep_num_dims: the Gemm's rows go back to the input's leading dims afterwards. */
    int reshape_out = keep && y->rank != 2;
    if (reshape_out && (y->rank < 1 || y->rank > GRAFT__MAX_RANK))
        return op_fail(imp, GRAFT_ECORRUPT, "output '%s' has rank %d", y->name, y->rank);
    int gemm_out = yv;
    if (reshape_out) {
        int64_t dims[2] = {-1, out_n};
        char base[300];
        snprintf(base, sizeof base, "%s", imp->g->values[yv].name);
        if ((err = tmp_value(imp, base, "::rows", 2, dims, &gemm_out))) return err;
    }
    int write;
    graft_act act;
    if ((err = act_begin(imp, fa, 1, gemm_out, &write, &act))) return err;
    int in[3] = {a, wv, bv};
    graft__node *node;
    if ((err = add_node(imp, GRAFT__OP_GEMM, in, 3, &write, 1, &node))) return err;
    node->a.gemm.alpha = 1;
    node->a.gemm.beta = 1;
    node->a.gemm.trans_b = 1;
    node->a.gemm.act = act;
    if ((err = act_end(imp, fa, write, gemm_out)) || !reshape_out) return err;
    /* The leading dims in NHWC order, then to the IR's layout for a 4-D output. */
    int64_t shape[GRAFT__MAX_RANK];
    for (int k = 0; k < y->rank; k++) shape[k] = k == 0 ? -1 : y->shape[k];
    int r;
    if (y->rank != 4) return emit_reshape(imp, gemm_out, shape, y->rank, yv, &r);
    if ((err = emit_reshape(imp, gemm_out, shape, 4, -1, &r))) return err;
    return emit_transpose(imp, r, to_nchw, 4, yv, &r);
}

/*
 * The IR value of operand ti of a broadcasting binary op whose other operand has rank
 * `other_rank`: when only the other one is 4-D, TFLite aligns this one with the trailing
 * NHWC axes, so it is brought to 4-D NHWC and then to NCHW like any 4-D tensor.
 */
static int broadcast_operand(tfl *imp, uint32_t ti, int other_rank, int *v) {
    const tfl_tensor *t = &imp->t[ti];
    if (t->rank == 4 || other_rank != 4 || t->rank == 0) return value_of(imp, ti, v);
    if (t->rank > 4)
        return op_fail(imp, GRAFT_EUNSUPPORTED, "broadcasting rank %d '%s' against a 4-D "
                       "tensor", t->rank, t->name);
    int64_t nhwc[4] = {1, 1, 1, 1};
    for (int k = 0; k < t->rank; k++) nhwc[4 - t->rank + k] = t->shape[k];
    int64_t nchw[4];
    for (int k = 0; k < 4; k++) nchw[k] = nhwc[to_nchw[k]];
    int err;
    if (is_const(imp, ti)) {
        float *f;
        int64_t n;
        if ((err = const_float(imp, ti, &f, &n))) return err;
        float *p = malloc((size_t)(n ? n : 1) * sizeof(float));
        if (!p) {
            free(f);
            return op_fail(imp, GRAFT_ENOMEM, "out of memory");
        }
        permute(p, f, nhwc, 4, to_nchw);
        free(f);
        return add_const_f32(imp, t->name[0] ? t->name : "operand", "::nchw", p, 4, nchw, 0, v);
    }
    int x;
    if ((err = value_of(imp, ti, &x))) return err;
    /* Only size-1 dims move (or none): a reshape does it. */
    if (nhwc[3] == 1 || (nhwc[1] == 1 && nhwc[2] == 1)) return emit_reshape(imp, x, nchw, 4, -1, v);
    int r;
    if ((err = emit_reshape(imp, x, nhwc, 4, -1, &r))) return err;
    return emit_transpose(imp, r, to_nchw, 4, -1, v);
}

static int op_binary(tfl *imp, const tfl_op *op, int bop) {
    int err = need_io(imp, op, 2, 2, 1);
    if (err) return err;
    uint32_t ai = (uint32_t)op->in[0], bi = (uint32_t)op->in[1];
    uint8_t fa;
    OPT_U8(imp, op, 0, 0, &fa);
    int av, bv, yv, write;
    graft_act act;
    if ((err = broadcast_operand(imp, ai, imp->t[bi].rank, &av)) ||
        (err = broadcast_operand(imp, bi, imp->t[ai].rank, &bv)) ||
        (err = out_value(imp, (uint32_t)op->out[0], &yv)) ||
        (err = act_begin(imp, fa, 1, yv, &write, &act)))
        return err;
    int in[2] = {av, bv};
    graft__node *node;
    if ((err = add_node(imp, GRAFT__OP_BINARY, in, 2, &write, 1, &node))) return err;
    node->a.binary.op = bop;
    node->a.binary.act = act;
    return act_end(imp, fa, write, yv);
}

/* Axis a of a rank-`rank` TFLite tensor, normalised and mapped to the IR's order. */
static int map_axis(tfl *imp, int64_t a, int rank, int *out) {
    if (a < -rank || a >= rank || rank < 1)
        return op_fail(imp, GRAFT_ECORRUPT, "axis %lld is out of range for rank %d",
                       (long long)a, rank);
    if (a < 0) a += rank;
    *out = rank == 4 ? nhwc_axis_to_nchw((int)a) : (int)a;
    return 0;
}

static int op_concat(tfl *imp, const tfl_op *op) {
    int err = need_io(imp, op, 1, TFL_MAX_OP_IO, 1);
    if (err) return err;
    int32_t axis;
    uint8_t fa;
    OPT_I32(imp, op, 0, 0, &axis);
    OPT_U8(imp, op, 1, 0, &fa);
    uint32_t yi = (uint32_t)op->out[0];
    int rank = imp->t[yi].rank, ir_axis;
    if ((err = map_axis(imp, axis, rank, &ir_axis))) return err;
    int *in = malloc(sizeof(int) * (size_t)op->n_in);
    if (!in) return op_fail(imp, GRAFT_ENOMEM, "out of memory");
    for (int i = 0; i < op->n_in && !err; i++) {
        if (op->in[i] < 0)
            err = op_fail(imp, GRAFT_ECORRUPT, "input %d is omitted", i);
        else if (imp->t[op->in[i]].rank != rank)
            err = op_fail(imp, GRAFT_ECORRUPT, "input %d '%s' has rank %d, the output %d", i,
                          imp->t[op->in[i]].name, imp->t[op->in[i]].rank, rank);
        else
            err = value_of(imp, (uint32_t)op->in[i], &in[i]);
    }
    int yv, write;
    graft__node *node;
    if (!err && !(err = out_value(imp, yi, &yv)) &&
        !(err = act_begin(imp, fa, 0, yv, &write, NULL)) &&
        !(err = add_node(imp, GRAFT__OP_CONCAT, in, op->n_in, &write, 1, &node))) {
        node->a.axis = ir_axis;
        err = act_end(imp, fa, write, yv);
    }
    free(in);
    return err;
}

/*
 * After dropping the NHWC axes in `dropped` (a bit mask) from a 4-D tensor, the IR holds the
 * remaining axes in NCHW order while TFLite's output has them in NHWC order. Returns 1 when
 * the orders differ, with perm[0..*n_kept) the Transpose from the IR's order to TFLite's.
 */
static int drop_axes_order(const int dropped, int *perm, int *n_kept) {
    int ir_order[4], n = 0, tf_order[4], m = 0;
    for (int k = 0; k < 4; k++)
        if (!(dropped & (1 << to_nchw[k]))) ir_order[n++] = to_nchw[k];
    for (int a = 0; a < 4; a++)
        if (!(dropped & (1 << a))) tf_order[m++] = a;
    int same = 1;
    for (int k = 0; k < n; k++) {
        for (int j = 0; j < n; j++)
            if (ir_order[j] == tf_order[k]) perm[k] = j;
        same &= perm[k] == k;
    }
    *n_kept = n;
    return !same;
}

static int op_reduce(tfl *imp, const tfl_op *op, int kind) {
    int err = need_io(imp, op, 2, 2, 1);
    if (err) return err;
    uint32_t xi = (uint32_t)op->in[0], ai = (uint32_t)op->in[1], yi = (uint32_t)op->out[0];
    if ((err = need_const(imp, ai, "axes"))) return err;
    uint8_t keep;
    OPT_U8(imp, op, 0, 0, &keep);
    int64_t *axes, n;
    if ((err = const_int64(imp, ai, &axes, &n))) return err;
    int rank = imp->t[xi].rank, mapped[GRAFT__MAX_RANK], dropped = 0, n_axes = 0;
    for (int64_t k = 0; k < n && !err; k++) {
        int a;
        if ((err = map_axis(imp, axes[k], rank, &a))) break;
        int64_t nhwc = axes[k] < 0 ? axes[k] + rank : axes[k];
        if (dropped & (1 << nhwc)) continue; /* duplicates reduce once */
        dropped |= 1 << nhwc;
        mapped[n_axes++] = a;
    }
    free(axes);
    if (err) return err;
    if (!n_axes)
        return op_fail(imp, GRAFT_EUNSUPPORTED, "reduction over no axes");
    int xv, yv, write;
    if ((err = value_of(imp, xi, &xv)) || (err = out_value(imp, yi, &yv))) return err;
    int perm[4], n_kept = 0;
    int reorder = rank == 4 && !keep && drop_axes_order(dropped, perm, &n_kept);
    write = yv;
    if (reorder && (err = tmp_value(imp, imp->g->values[yv].name, "::nchw", n_kept, NULL, &write)))
        return err;
    graft__node *node;
    if ((err = add_node(imp, GRAFT__OP_REDUCE, &xv, 1, &write, 1, &node))) return err;
    for (int k = 0; k < n_axes; k++) node->a.axes.axes[k] = mapped[k];
    node->a.axes.n = n_axes;
    node->a.axes.keepdims = keep ? 1 : 0;
    node->a.axes.kind = kind;
    if (reorder) return emit_transpose(imp, write, perm, n_kept, yv, &write);
    return 0;
}

static int op_squeeze(tfl *imp, const tfl_op *op) {
    int err = need_io(imp, op, 1, 1, 1);
    if (err) return err;
    uint32_t xi = (uint32_t)op->in[0], yi = (uint32_t)op->out[0];
    const tfl_tensor *x = &imp->t[xi];
    graft__fb_vec dims_vec = {0};
    if (op->has_opt && (err = graft__fb_vec_field(&op->opt, 0, 4, &dims_vec)) < 0)
        return with_context(imp, err);
    int dropped = 0, n_axes = 0;
    int64_t mapped[GRAFT__MAX_RANK];
    if (dims_vec.n) {
        for (uint32_t k = 0; k < dims_vec.n; k++) {
            int a;
            int64_t d = graft__fb_vec_i32(&dims_vec, k);
            if ((err = map_axis(imp, d, x->rank, &a))) return err;
            if (d < 0) d += x->rank;
            if (x->shape[d] != 1)
                return op_fail(imp, GRAFT_ECORRUPT, "squeezes axis %lld of '%s', which is "
                               "not 1", (long long)d, x->name);
            if (!(dropped & (1 << d))) mapped[n_axes++] = a;
            dropped |= 1 << d;
        }
    } else {
        /* No list: every axis of size 1 in the file, as TFLite does. */
        for (int d = 0; d < x->rank; d++)
            if (x->shape[d] == 1) {
                int a;
                map_axis(imp, d, x->rank, &a);
                mapped[n_axes++] = a;
                dropped |= 1 << d;
            }
    }
    int xv, yv, write;
    if ((err = value_of(imp, xi, &xv)) || (err = out_value(imp, yi, &yv))) return err;
    if (!n_axes) return add_node(imp, GRAFT__OP_IDENTITY, &xv, 1, &yv, 1, NULL);
    int perm[4], n_kept = 0;
    int reorder = x->rank == 4 && drop_axes_order(dropped, perm, &n_kept);
    write = yv;
    if (reorder && (err = tmp_value(imp, imp->g->values[yv].name, "::nchw", n_kept, NULL, &write)))
        return err;
    graft__node *node;
    if ((err = add_node(imp, GRAFT__OP_SQUEEZE, &xv, 1, &write, 1, &node))) return err;
    for (int k = 0; k < n_axes; k++) node->a.axes.axes[k] = mapped[k];
    node->a.axes.n = n_axes;
    if (reorder) return emit_transpose(imp, write, perm, n_kept, yv, &write);
    return 0;
}

static int op_reshape(tfl *imp, const tfl_op *op) {
    int err = need_io(imp, op, 1, 2, 1);
    if (err) return err;
    uint32_t xi = (uint32_t)op->in[0], yi = (uint32_t)op->out[0];
    const tfl_tensor *x = &imp->t[xi], *y = &imp->t[yi];
    /* The target: the output tensor's shape, else the shape input, else new_shape. */
    int64_t target[GRAFT__MAX_RANK];
    int rank = -1;
    if (y->rank > 0 || graft__fb_has(&y->tab, TENSOR_SHAPE)) {
        rank = y->rank;
        for (int k = 0; k < rank; k++) target[k] = y->shape[k];
    }
    if (rank < 0 && op->n_in == 2 && op->in[1] >= 0 && is_const(imp, (uint32_t)op->in[1])) {
        int64_t *s, n;
        if ((err = const_int64(imp, (uint32_t)op->in[1], &s, &n))) return err;
        if (n > GRAFT__MAX_RANK) {
            free(s);
            return op_fail(imp, GRAFT_EUNSUPPORTED, "reshape to rank %lld", (long long)n);
        }
        rank = (int)n;
        for (int k = 0; k < rank; k++) target[k] = s[k] < 0 ? -1 : s[k];
        free(s);
    }
    if (rank < 0 && op->has_opt) {
        graft__fb_vec ns;
        if ((err = graft__fb_vec_field(&op->opt, 0, 4, &ns)) < 0) return with_context(imp, err);
        if (ns.n > GRAFT__MAX_RANK)
            return op_fail(imp, GRAFT_EUNSUPPORTED, "reshape to rank %u", ns.n);
        if (err == 1) {
            rank = (int)ns.n;
            for (int k = 0; k < rank; k++) {
                int32_t s = graft__fb_vec_i32(&ns, (uint32_t)k);
                target[k] = s < 0 ? -1 : s;
            }
        }
    }
    if (rank < 0)
        return op_fail(imp, GRAFT_EUNSUPPORTED, "the target shape of '%s' is not known",
                       y->name);
    int unknown = 0;
    for (int k = 0; k < rank; k++) unknown += target[k] < 0;
    /* The batch follows the input when both keep it in front. */
    if (x->rank >= 2 && rank >= 2 && x->shape[0] >= 0 && target[0] == x->shape[0]) target[0] = 0;
    else if (unknown > 1)
        return op_fail(imp, GRAFT_EUNSUPPORTED, "reshape target of '%s' has %d unknown dims",
                       y->name, unknown);
    int xv, yv, y_out;
    if ((err = value_of(imp, xi, &xv)) || (err = out_value(imp, yi, &yv))) return err;
    int src = xv;
    if (x->rank == 4 && (err = nhwc_order(imp, xi, xv, &src))) return err;
    if (rank == 4) {
        int free_move = target[3] == 1 || (target[1] == 1 && target[2] == 1);
        if (free_move) {
            int64_t nchw[4];
            for (int k = 0; k < 4; k++) nchw[k] = target[to_nchw[k]];
            return emit_reshape(imp, src, nchw, 4, yv, &y_out);
        }
        int r;
        if ((err = emit_reshape(imp, src, target, 4, -1, &r))) return err;
        return emit_transpose(imp, r, to_nchw, 4, yv, &r);
    }
    return emit_reshape(imp, src, target, rank, yv, &y_out);
}

static int op_pad(tfl *imp, const tfl_op *op, int v2) {
    int err = need_io(imp, op, 2, v2 ? 3 : 2, 1);
    if (err) return err;
    uint32_t xi = (uint32_t)op->in[0], pi = (uint32_t)op->in[1], yi = (uint32_t)op->out[0];
    if ((err = need_const(imp, pi, "paddings"))) return err;
    int rank = imp->t[xi].rank;
    int64_t *p, n;
    if ((err = const_int64(imp, pi, &p, &n))) return err;
    if (n != 2 * (int64_t)rank) {
        free(p);
        return op_fail(imp, GRAFT_ECORRUPT, "%lld paddings for rank %d", (long long)n, rank);
    }
    int64_t pads[2 * GRAFT__MAX_RANK];
    for (int a = 0; a < rank; a++) {
        int ir = rank == 4 ? nhwc_axis_to_nchw(a) : a;
        pads[ir] = p[2 * a];
        pads[rank + ir] = p[2 * a + 1];
    }
    free(p);
    for (int k = 0; k < 2 * rank; k++)
        if (pads[k] < 0 || pads[k] > (1 << 24))
            return op_fail(imp, GRAFT_ECORRUPT, "padding %lld is out of range",
                           (long long)pads[k]);
    float value = 0;
    if (v2 && op->n_in == 3 && op->in[2] >= 0) {
        if ((err = need_const(imp, (uint32_t)op->in[2], "constant value"))) return err;
        float *f;
        int64_t m;
        if ((err = const_float(imp, (uint32_t)op->in[2], &f, &m))) return err;
        if (m != 1) {
            free(f);
            return op_fail(imp, GRAFT_ECORRUPT, "the constant value has %lld elements",
                           (long long)m);
        }
        value = f[0];
        free(f);
    }
    int xv, yv, pv = -1, vv = -1;
    char base[300];
    if ((err = value_of(imp, xi, &xv)) || (err = out_value(imp, yi, &yv))) return err;
    snprintf(base, sizeof base, "%s", imp->g->values[yv].name);
    if ((err = add_const_i64(imp, base, "::pads", pads, 2 * rank, &pv))) return err;
    float *vbuf = malloc(sizeof(float));
    if (!vbuf) return op_fail(imp, GRAFT_ENOMEM, "out of memory");
    *vbuf = value;
    if ((err = add_const_f32(imp, base, "::pad_value", vbuf, 0, NULL, 0, &vv))) return err;
    int in[3] = {xv, pv, vv};
    graft__node *node;
    if ((err = add_node(imp, GRAFT__OP_PAD, in, 3, &yv, 1, &node))) return err;
    node->a.pad.mode = 0;
    node->a.pad.value = value;
    return 0;
}

static int op_softmax(tfl *imp, const tfl_op *op, int log) {
    int err = need_io(imp, op, 1, 1, 1);
    if (err) return err;
    uint32_t xi = (uint32_t)op->in[0];
    float beta = 1;
    if (!log) OPT_F32(imp, op, 0, 0.0f, &beta);
    int rank = imp->t[xi].rank;
    if (rank < 1) return op_fail(imp, GRAFT_EUNSUPPORTED, "softmax of a scalar");
    if (!isfinite(beta)) return op_fail(imp, GRAFT_ECORRUPT, "beta is not finite");
    int xv, yv;
    if ((err = value_of(imp, xi, &xv)) || (err = out_value(imp, (uint32_t)op->out[0], &yv)))
        return err;
    if (beta != 1.0f) {
        /* softmax(beta * x): scale first. */
        float *b = malloc(sizeof(float));
        int bv = -1, sv = -1;
        if (!b) return op_fail(imp, GRAFT_ENOMEM, "out of memory");
        *b = beta;
        char base[300];
        snprintf(base, sizeof base, "%s", imp->g->values[yv].name);
        int64_t dims[GRAFT__MAX_RANK];
        int xrank = imp->g->values[xv].rank;
        memcpy(dims, imp->g->values[xv].dims, sizeof dims);
        if ((err = add_const_f32(imp, base, "::beta", b, 0, NULL, 0, &bv)) ||
            (err = tmp_value(imp, base, "::scaled", xrank, dims, &sv)))
            return err;
        int in[2] = {xv, bv};
        graft__node *mul;
        if ((err = add_node(imp, GRAFT__OP_BINARY, in, 2, &sv, 1, &mul))) return err;
        mul->a.binary.op = GRAFT_BINARY_MUL;
        xv = sv;
    }
    graft__node *node;
    if ((err = add_node(imp, GRAFT__OP_SOFTMAX, &xv, 1, &yv, 1, &node))) return err;
    node->a.softmax.axis = rank == 4 ? 1 : rank - 1; /* TFLite: the last (channel) axis */
    node->a.softmax.log = log;
    node->a.softmax.coerce_2d = 0;
    return 0;
}

static int op_unary(tfl *imp, const tfl_op *op, graft_unary kind, float alpha, float beta) {
    int err = need_io(imp, op, 1, 1, 1);
    if (err) return err;
    int xv, yv;
    if ((err = value_of(imp, (uint32_t)op->in[0], &xv)) ||
        (err = out_value(imp, (uint32_t)op->out[0], &yv)))
        return err;
    return emit_unary(imp, kind, alpha, beta, xv, yv);
}

/* QUANTIZE / DEQUANTIZE: values are float already. A constant's copy is the constant. */
static int op_requantize(tfl *imp, const tfl_op *op) {
    int err = need_io(imp, op, 1, 1, 1);
    if (err) return err;
    uint32_t xi = (uint32_t)op->in[0], yi = (uint32_t)op->out[0];
    if (imp->t[yi].alias >= 0)
        return op_fail(imp, GRAFT_ECORRUPT, "writes tensor %u '%s' a second time", yi,
                       imp->t[yi].name);
    if (is_const(imp, xi) && !imp->t[yi].data && imp->t[yi].value < 0 && xi != yi) {
        if (numel_of(imp->t[xi].shape, imp->t[xi].rank) !=
            numel_of(imp->t[yi].shape, imp->t[yi].rank))
            return op_fail(imp, GRAFT_ECORRUPT, "'%s' and '%s' differ in size",
                           imp->t[xi].name, imp->t[yi].name);
        imp->t[yi].alias = (int)xi;
        return 0;
    }
    int xv, yv;
    if ((err = value_of(imp, xi, &xv)) || (err = out_value(imp, yi, &yv))) return err;
    return add_node(imp, GRAFT__OP_IDENTITY, &xv, 1, &yv, 1, NULL);
}

static int translate(tfl *imp, const tfl_op *op) {
    switch (op->code) {
    case B_CONV_2D: return op_conv(imp, op, 0);
    case B_DEPTHWISE_CONV_2D: return op_conv(imp, op, 1);
    case B_FULLY_CONNECTED: return op_fully_connected(imp, op);
    case B_AVERAGE_POOL_2D: return op_pool(imp, op, GRAFT_POOL_AVG);
    case B_MAX_POOL_2D: return op_pool(imp, op, GRAFT_POOL_MAX);
    case B_MEAN: return op_reduce(imp, op, GRAFT__REDUCE_MEAN);
    case B_SUM: return op_reduce(imp, op, GRAFT__REDUCE_SUM);
    case B_REDUCE_MAX: return op_reduce(imp, op, GRAFT__REDUCE_MAX);
    case B_ADD: return op_binary(imp, op, GRAFT_BINARY_ADD);
    case B_SUB: return op_binary(imp, op, GRAFT_BINARY_SUB);
    case B_MUL: return op_binary(imp, op, GRAFT_BINARY_MUL);
    case B_DIV: return op_binary(imp, op, GRAFT_BINARY_DIV);
    case B_CONCATENATION: return op_concat(imp, op);
    case B_RESHAPE: return op_reshape(imp, op);
    case B_SQUEEZE: return op_squeeze(imp, op);
    case B_PAD: return op_pad(imp, op, 0);
    case B_PADV2: return op_pad(imp, op, 1);
    case B_SOFTMAX: return op_softmax(imp, op, 0);
    case B_LOG_SOFTMAX: return op_softmax(imp, op, 1);
    case B_LOGISTIC: return op_unary(imp, op, GRAFT_UNARY_SIGMOID, 0, 0);
    case B_TANH: return op_unary(imp, op, GRAFT_UNARY_TANH, 0, 0);
    case B_HARD_SWISH: return op_unary(imp, op, GRAFT_UNARY_HARD_SWISH, 0, 0);
    case B_RELU: return op_unary(imp, op, GRAFT_UNARY_RELU, 0, 0);
    case B_RELU6: return op_unary(imp, op, GRAFT_UNARY_CLIP, 0, 6);
    case B_RELU_N1_TO_1: return op_unary(imp, op, GRAFT_UNARY_CLIP, -1, 1);
    case B_LEAKY_RELU: {
        float alpha;
        OPT_F32(imp, op, 0, 0.0f, &alpha);
        if (!isfinite(alpha)) return op_fail(imp, GRAFT_ECORRUPT, "alpha is not finite");
        return op_unary(imp, op, GRAFT_UNARY_LEAKY_RELU, alpha, 0);
    }
    case B_QUANTIZE:
    case B_DEQUANTIZE: return op_requantize(imp, op);
    default:
        return op_fail(imp, GRAFT_EUNSUPPORTED, "not supported by graft (builtin code %d)",
                       op->code);
    }
}

/* The options union tag each operator expects (0: no check). */
static int expected_options(int code) {
    switch (code) {
    case B_CONV_2D: return OPT_CONV2D;
    case B_DEPTHWISE_CONV_2D: return OPT_DEPTHWISE;
    case B_AVERAGE_POOL_2D: case B_MAX_POOL_2D: return OPT_POOL2D;
    case B_FULLY_CONNECTED: return OPT_FULLY_CONNECTED;
    case B_SOFTMAX: return OPT_SOFTMAX;
    case B_CONCATENATION: return OPT_CONCATENATION;
    case B_ADD: return OPT_ADD;
    case B_MUL: return OPT_MUL;
    case B_SUB: return OPT_SUB;
    case B_DIV: return OPT_DIV;
    case B_RESHAPE: return OPT_RESHAPE;
    case B_SQUEEZE: return OPT_SQUEEZE;
    case B_MEAN: case B_SUM: case B_REDUCE_MAX: return OPT_REDUCER;
    case B_LEAKY_RELU: return OPT_LEAKY_RELU;
    default: return 0;
    }
}

static int read_op(tfl *imp, const graft__fb_vec *ops, uint32_t k, tfl_op *op) {
    int err = graft__fb_vec_table(ops, k, "Operator", &op->tab);
    if (err) return err;
    uint32_t opcode;
    if ((err = graft__fb_u32(&op->tab, OP_OPCODE, 0, &opcode))) return err;
    if (opcode >= imp->opcodes.n)
        return graft__fail(GRAFT_ECORRUPT, "tflite: operator %u: opcode index %u out of range "
                           "(%u operator codes)", k, opcode, imp->opcodes.n);
    graft__fb_table oc;
    if ((err = graft__fb_vec_table(&imp->opcodes, opcode, "OperatorCode", &oc))) return err;
    int8_t dep;
    int32_t code;
    if ((err = graft__fb_i8(&oc, OPCODE_DEPRECATED, 0, &dep)) ||
        (err = graft__fb_i32(&oc, OPCODE_BUILTIN, 0, &code)))
        return err;
    /* Old files only have the 8-bit code; new ones put 127 there and the real one beside. */
    op->code = code > dep ? code : dep;
    imp->op_name = builtin_name(op->code);
    if (op->code == B_CUSTOM) {
        const char *custom;
        size_t n;
        if ((err = graft__fb_string_field(&oc, OPCODE_CUSTOM, &custom, &n)) < 0) return err;
        return graft__fail(GRAFT_EUNSUPPORTED, "tflite: operator %u: custom operator '%s' is "
                           "not supported by graft", k, custom);
    }
    graft__fb_vec in, out;
    if ((err = graft__fb_vec_field(&op->tab, OP_INPUTS, 4, &in)) < 0 ||
        (err = graft__fb_vec_field(&op->tab, OP_OUTPUTS, 4, &out)) < 0)
        return err;
    if (in.n > TFL_MAX_OP_IO || out.n > 8)
        return graft__fail(GRAFT_EUNSUPPORTED, "tflite: operator %u (%s): %u inputs and %u "
                           "outputs are more than graft takes", k, imp->op_name, in.n, out.n);
    op->n_in = (int)in.n;
    op->n_out = (int)out.n;
    for (uint32_t i = 0; i < in.n + out.n; i++) {
        int32_t t = i < in.n ? graft__fb_vec_i32(&in, i) : graft__fb_vec_i32(&out, i - in.n);
        if (t < -1 || t >= (int64_t)imp->n_t || (t < 0 && i >= in.n))
            return graft__fail(GRAFT_ECORRUPT, "tflite: operator %u (%s): %s %u is tensor %d, "
                               "out of range (%u tensors)", k, imp->op_name,
                               i < in.n ? "input" : "output", i < in.n ? i : i - in.n, t,
                               imp->n_t);
        if (i < in.n) op->in[i] = t;
        else op->out[i - in.n] = t;
    }
    uint8_t opt_type;
    if ((err = graft__fb_u8(&op->tab, OP_OPTIONS_TYPE, 0, &opt_type))) return err;
    err = graft__fb_table_field(&op->tab, OP_OPTIONS, "BuiltinOptions", &op->opt);
    if (err < 0) return err;
    op->has_opt = err == 1;
    int want = expected_options(op->code);
    if (op->has_opt && want && opt_type != want)
        return graft__fail(GRAFT_ECORRUPT, "tflite: operator %u (%s): options of union type %u, "
                           "expected %d", k, imp->op_name, opt_type, want);
    return 0;
}

/* ---- metadata: normalisation and labels --------------------------------------------------- */

/*
 * The member `name` of the zip appended to the file (the TFLite metadata writer's
 * associated files), when stored uncompressed. Returns 1 with *data, *n pointing into buf,
 * 0 when there is no such member or it is compressed, or GRAFT_ECORRUPT.
 */
static int zip_find(const uint8_t *buf, size_t len, const char *name, const uint8_t **data,
                    size_t *n) {
    if (len < 22) return 0;
    /* The end-of-central-directory record: the last signature within 64 KiB of the end. */
    size_t lo = len > 22 + 65535 ? len - 22 - 65535 : 0, eocd = 0;
    int found = 0;
    for (size_t p = len - 22 + 1; p-- > lo;)
        if (graft__fb_load_u32(buf + p) == 0x06054b50u) {
            eocd = p;
            found = 1;
            break;
        }
    if (!found) return 0;
    uint32_t entries = graft__fb_load_u16(buf + eocd + 10);
    uint32_t cd_size = graft__fb_load_u32(buf + eocd + 12),
             cd_off = graft__fb_load_u32(buf + eocd + 16);
    if ((uint64_t)cd_size + cd_off > eocd)
        return graft__fail(GRAFT_ECORRUPT, "tflite: appended zip: central directory (%u bytes at "
                           "%u) does not fit before its end record at offset %zu", cd_size,
                           cd_off, eocd);
    size_t start = eocd - cd_size - cd_off; /* the zip's first byte in the file */
    size_t p = eocd - cd_size, name_len = strlen(name);
    for (uint32_t e = 0; e < entries; e++) {
        if (p + 46 > eocd || graft__fb_load_u32(buf + p) != 0x02014b50u)
            return graft__fail(GRAFT_ECORRUPT, "tflite: appended zip: central directory entry "
                               "%u at offset %zu is malformed", e, p);
        uint32_t method = graft__fb_load_u16(buf + p + 10);
        uint32_t csize = graft__fb_load_u32(buf + p + 20), usize = graft__fb_load_u32(buf + p + 24);
        uint32_t nlen = graft__fb_load_u16(buf + p + 28), xlen = graft__fb_load_u16(buf + p + 30),
                 clen = graft__fb_load_u16(buf + p + 32), local = graft__fb_load_u32(buf + p + 42);
        if ((uint64_t)p + 46 + nlen + xlen + clen > eocd)
            return graft__fail(GRAFT_ECORRUPT, "tflite: appended zip: entry %u runs past the "
                               "central directory", e);
        if (nlen == name_len && !memcmp(buf + p + 46, name, nlen)) {
            if (method != 0 || csize != usize) return 0; /* compressed: not read here */
            uint64_t lh = (uint64_t)start + local;
            if (lh + 30 > len || graft__fb_load_u32(buf + lh) != 0x04034b50u)
                return graft__fail(GRAFT_ECORRUPT, "tflite: appended zip: local header of '%s' "
                                   "at offset %llu is malformed", name, (unsigned long long)lh);
            uint64_t at = lh + 30 + graft__fb_load_u16(buf + lh + 26) +
                          graft__fb_load_u16(buf + lh + 28);
            if (at > len || csize > len - at)
                return graft__fail(GRAFT_ECORRUPT, "tflite: appended zip: '%s' (%u bytes at "
                                   "offset %llu) runs past the end of the file", name, csize,
                                   (unsigned long long)at);
            *data = buf + at;
            *n = csize;
            return 1;
        }
        p += 46 + nlen + xlen + clen;
    }
    return 0;
}

/* The label file the metadata names for output tensor metadata `tm`: 1 with *name set. */
static int labels_name(const graft__fb_table *tm, const char **name) {
    graft__fb_vec files;
    int err = graft__fb_vec_field(tm, TM_ASSOCIATED_FILES, 4, &files);
    if (err < 0) return err;
    for (uint32_t f = 0; f < files.n; f++) {
        graft__fb_table af;
        int8_t type;
        size_t n;
        if ((err = graft__fb_vec_table(&files, f, "AssociatedFile", &af)) ||
            (err = graft__fb_i8(&af, AF_TYPE, 0, &type)))
            return err;
        if (type != AF_TENSOR_AXIS_LABELS) continue;
        if ((err = graft__fb_string_field(&af, AF_NAME, name, &n)) < 0) return err;
        if (err == 1 && n) return 1;
    }
    return 0;
}

/*
 * Reads the "TFLITE_METADATA" buffer if the model has one: the input normalisation (for float
 * inputs; *has_norm, mean/std in pixel units, n_norm values) and the labels (into g->labels).
 */
static int read_metadata(tfl *imp, int input_pos, float *mean, float *std, int *n_norm) {
    *n_norm = 0;
    graft__fb_vec md;
    int err = graft__fb_vec_field(&imp->model, MODEL_METADATA, 4, &md);
    if (err < 0) return err;
    const uint8_t *bytes = NULL;
    size_t nbytes = 0;
    for (uint32_t k = 0; k < md.n; k++) {
        graft__fb_table m;
        const char *name;
        size_t n;
        uint32_t b;
        if ((err = graft__fb_vec_table(&md, k, "Metadata", &m)) ||
            (err = graft__fb_string_field(&m, METADATA_NAME, &name, &n)) < 0 ||
            (err = graft__fb_u32(&m, METADATA_BUFFER, 0, &b)))
            return err;
        if (strcmp(name, "TFLITE_METADATA") != 0) continue;
        if ((err = buffer_data(imp, b, &bytes, &nbytes))) return err;
        break;
    }
    if (!bytes) return 0;
    graft__fb mfb;
    graft__fb_table root, sg;
    graft__fb_vec sgs, ins, outs;
    if ((err = graft__fb_init(&mfb, bytes, nbytes, "tflite metadata")) ||
        (err = graft__fb_root(&mfb, "ModelMetadata", &root)) ||
        (err = graft__fb_vec_field(&root, MM_SUBGRAPHS, 4, &sgs)) < 0)
        return err;
    if (!sgs.n) return 0;
    if ((err = graft__fb_vec_table(&sgs, 0, "SubGraphMetadata", &sg)) ||
        (err = graft__fb_vec_field(&sg, SGM_INPUTS, 4, &ins)) < 0 ||
        (err = graft__fb_vec_field(&sg, SGM_OUTPUTS, 4, &outs)) < 0)
        return err;
    if (input_pos >= 0 && (uint32_t)input_pos < ins.n) {
        graft__fb_table tm;
        graft__fb_vec units;
        if ((err = graft__fb_vec_table(&ins, (uint32_t)input_pos, "TensorMetadata", &tm)) ||
            (err = graft__fb_vec_field(&tm, TM_PROCESS_UNITS, 4, &units)) < 0)
            return err;
        for (uint32_t u = 0; u < units.n; u++) {
            graft__fb_table pu, norm;
            uint8_t type;
            graft__fb_vec vm, vs;
            if ((err = graft__fb_vec_table(&units, u, "ProcessUnit", &pu)) ||
                (err = graft__fb_u8(&pu, PU_OPTIONS_TYPE, 0, &type)))
                return err;
            if (type != PU_NORMALIZATION) continue;
            if ((err = graft__fb_table_field(&pu, PU_OPTIONS, "NormalizationOptions", &norm)) < 0)
                return err;
            if (err == 0) continue;
            if ((err = graft__fb_vec_field(&norm, NORM_MEAN, 4, &vm)) < 0 ||
                (err = graft__fb_vec_field(&norm, NORM_STD, 4, &vs)) < 0)
                return err;
            if (!vm.n || vm.n > 3 || vs.n != vm.n)
                return graft__fail(GRAFT_ECORRUPT, "tflite metadata: NormalizationOptions has "
                                   "%u means and %u standard deviations (1 or 3 each)", vm.n,
                                   vs.n);
            for (uint32_t c = 0; c < vm.n; c++) {
                mean[c] = graft__fb_vec_f32(&vm, c);
                std[c] = graft__fb_vec_f32(&vs, c);
                if (!isfinite(mean[c]) || !isfinite(std[c]) || std[c] == 0)
                    return graft__fail(GRAFT_ECORRUPT, "tflite metadata: normalisation mean "
                                       "%g / std %g of channel %u is unusable", (double)mean[c],
                                       (double)std[c], c);
            }
            *n_norm = (int)vm.n;
            break;
        }
    }
    const char *lname = NULL;
    for (uint32_t o = 0; o < outs.n && !lname; o++) {
        graft__fb_table tm;
        if ((err = graft__fb_vec_table(&outs, o, "TensorMetadata", &tm))) return err;
        if ((err = labels_name(&tm, &lname)) < 0) return err;
        if (!err) lname = NULL;
    }
    if (!lname) return 0;
    const uint8_t *text = NULL;
    size_t tn = 0;
    if ((err = zip_find(imp->fb.buf, imp->fb.len, lname, &text, &tn)) <= 0) return err;
    imp->g->labels = malloc(tn + 1);
    if (!imp->g->labels) return graft__fail(GRAFT_ENOMEM, "tflite: out of memory for labels");
    memcpy(imp->g->labels, text, tn);
    imp->g->labels[tn] = '\0';
    return 0;
}

/* The image input's preprocessing, from its quantization or the metadata. */
static int set_preproc(tfl *imp, uint32_t ti, int input_pos) {
    const tfl_tensor *t = &imp->t[ti];
    graft_model_preproc *pp = &imp->g->preproc;
    float mean[3], std[3];
    int n_norm, err = read_metadata(imp, input_pos, mean, std, &n_norm);
    if (err) return err;
    int C = t->rank == 4 && t->shape[3] > 0 && t->shape[3] <= 4 ? (int)t->shape[3] : 3;
    pp->channels = C;
    if (t->rank == 4) {
        pp->height = t->shape[1] > 0 && t->shape[1] <= INT32_MAX ? (int)t->shape[1] : 0;
        pp->width = t->shape[2] > 0 && t->shape[2] <= INT32_MAX ? (int)t->shape[2] : 0;
    }
    if (t->type == TFL_UINT8 || t->type == TFL_INT8) {
        /* The float network sees x = (q - z) * s with q the pixel (uint8) or pixel - 128
         * (int8): torchvision's (pixel / 255 - mean) / std with the values below. */
        double s = t->scale.n ? graft__fb_vec_f32(&t->scale, 0) : 1.0;
        double z = t->zero_point.n ? (double)graft__fb_vec_i64(&t->zero_point, 0) : 0.0;
        if (t->type == TFL_INT8) z += 128;
        if (!(s > 0))
            return graft__fail(GRAFT_ECORRUPT, "tflite: input '%s' has quantization scale %g",
                               t->name, s);
        for (int c = 0; c < 3; c++) {
            pp->mean[c] = (float)(z / 255.0);
            pp->std[c] = (float)(1.0 / (255.0 * s));
        }
        pp->resize = 0; /* stretched to the input, as the Coral / TFLite tools do */
        pp->from_file = 1;
    } else if (n_norm) {
        for (int c = 0; c < 3; c++) {
            pp->mean[c] = mean[n_norm == 1 ? 0 : c] / 255.0f;
            pp->std[c] = std[n_norm == 1 ? 0 : c] / 255.0f;
        }
        pp->resize = 0;
        pp->from_file = 1;
    }
    /* Otherwise from_file stays 0 and graft_model_load() supplies torchvision's defaults. */
    return 0;
}

/* ---- the model ---------------------------------------------------------------------------- */

int graft__tflite_sniff(const void *buf, size_t len) {
    return buf && len >= 8 && memcmp((const uint8_t *)buf + 4, "TFL3", 4) == 0;
}

static int import(tfl *imp) {
    int err;
    if (!graft__fb_has_identifier(&imp->fb, "TFL3"))
        return graft__fail(GRAFT_ECORRUPT, "tflite: no \"TFL3\" file identifier at offset 4");
    if ((err = graft__fb_root(&imp->fb, "Model", &imp->model))) return err;
    uint32_t version;
    if ((err = graft__fb_u32(&imp->model, MODEL_VERSION, 0, &version))) return err;
    if (version != 3)
        return graft__fail(GRAFT_EUNSUPPORTED, "tflite: schema version %u (graft reads 3)",
                           version);
    graft__fb_vec subgraphs, tensors, ops, inputs, outputs;
    if ((err = graft__fb_vec_field(&imp->model, MODEL_OPCODES, 4, &imp->opcodes)) < 0 ||
        (err = graft__fb_vec_field(&imp->model, MODEL_BUFFERS, 4, &imp->buffers)) < 0 ||
        (err = graft__fb_vec_field(&imp->model, MODEL_SUBGRAPHS, 4, &subgraphs)) < 0)
        return err;
    if (!subgraphs.n) return graft__fail(GRAFT_ECORRUPT, "tflite: the model has no subgraph");
    if ((err = graft__fb_vec_table(&subgraphs, 0, "SubGraph", &imp->subgraph)) ||
        (err = graft__fb_vec_field(&imp->subgraph, SG_TENSORS, 4, &tensors)) < 0 ||
        (err = graft__fb_vec_field(&imp->subgraph, SG_OPERATORS, 4, &ops)) < 0 ||
        (err = graft__fb_vec_field(&imp->subgraph, SG_INPUTS, 4, &inputs)) < 0 ||
        (err = graft__fb_vec_field(&imp->subgraph, SG_OUTPUTS, 4, &outputs)) < 0)
        return err;

    const char *desc;
    size_t dn;
    if ((err = graft__fb_string_field(&imp->model, MODEL_DESCRIPTION, &desc, &dn)) < 0) return err;
    snprintf(imp->g->format, sizeof imp->g->format, "tflite");
    snprintf(imp->g->producer, sizeof imp->g->producer, "%s", desc);

    imp->n_t = tensors.n;
    imp->t = calloc(tensors.n ? tensors.n : 1, sizeof *imp->t);
    if (!imp->t)
        return graft__fail(GRAFT_ENOMEM, "tflite: out of memory for %u tensors", tensors.n);
    for (uint32_t i = 0; i < tensors.n; i++)
        if ((err = read_tensor(imp, i, &tensors))) return err;

    /* Inputs: the first 4-D one is the image. */
    int image_pos = -1;
    for (uint32_t k = 0; k < inputs.n; k++) {
        int32_t ti = graft__fb_vec_i32(&inputs, k);
        if (ti < 0 || (uint32_t)ti >= imp->n_t)
            return graft__fail(GRAFT_ECORRUPT, "tflite: subgraph input %u is tensor %d, out of "
                               "range (%u tensors)", k, ti, imp->n_t);
        if (imp->t[ti].data)
            return graft__fail(GRAFT_ECORRUPT, "tflite: subgraph input %u '%s' is a constant", k,
                               imp->t[ti].name);
        int v;
        if ((err = value_of(imp, (uint32_t)ti, &v))) return err;
        if (imp->g->values[v].is_input) continue;
        imp->g->values[v].is_input = 1;
        if (imp->t[ti].type != TFL_FLOAT32 && imp->t[ti].type != TFL_UINT8 &&
            imp->t[ti].type != TFL_INT8)
            return graft__fail(GRAFT_EUNSUPPORTED, "tflite: input '%s' has type %s (graft feeds "
                               "FLOAT32, UINT8 or INT8 images)", imp->t[ti].name,
                               type_name(imp->t[ti].type));
        if (image_pos < 0 && (imp->t[ti].rank == 4 || k + 1 == inputs.n)) {
            image_pos = (int)k;
            imp->g->input = v;
        }
    }
    if (imp->g->input < 0) return graft__fail(GRAFT_ECORRUPT, "tflite: the model has no input");
    int32_t image_ti = graft__fb_vec_i32(&inputs, (uint32_t)image_pos);
    if ((err = set_preproc(imp, (uint32_t)image_ti, image_pos))) return err;

    for (uint32_t k = 0; k < ops.n; k++) {
        tfl_op *op = malloc(sizeof *op);
        if (!op) return graft__fail(GRAFT_ENOMEM, "tflite: out of memory");
        imp->op_index = -1;
        imp->op_name = "?";
        err = read_op(imp, &ops, k, op);
        if (!err) {
            imp->op_index = (int)k;
            err = translate(imp, op);
        }
        free(op);
        if (err) return err;
    }
    imp->op_index = -1;

    if (!outputs.n) return graft__fail(GRAFT_ECORRUPT, "tflite: the model has no output");
    imp->g->outputs = malloc(sizeof(int) * outputs.n);
    if (!imp->g->outputs) return graft__fail(GRAFT_ENOMEM, "tflite: out of memory");
    for (uint32_t k = 0; k < outputs.n; k++) {
        int32_t ti = graft__fb_vec_i32(&outputs, k);
        if (ti < 0 || (uint32_t)ti >= imp->n_t)
            return graft__fail(GRAFT_ECORRUPT, "tflite: subgraph output %u is tensor %d, out of "
                               "range (%u tensors)", k, ti, imp->n_t);
        int v;
        if ((err = value_of(imp, (uint32_t)ti, &v))) return err;
        imp->g->values[v].is_output = 1;
        imp->g->outputs[imp->g->n_outputs++] = v;
    }
    return 0;
}

int graft__tflite_import(const void *buf, size_t len, const char *path, graft__graph **out) {
    tfl imp;
    memset(&imp, 0, sizeof imp);
    imp.op_index = -1;
    imp.op_name = "?";
    int err = graft__fb_init(&imp.fb, buf, len, "tflite");
    if (err) return err;
    /* Dequantized weights take at most 4x their bytes (8x for int64 axes, which are tiny);
     * beyond this a file is reusing one buffer for very many tensors. */
    imp.const_budget = len * 8 + ((size_t)64 << 20);
    imp.mapped = path != NULL;
    if ((err = graft__graph_create(&imp.g))) return err;
    err = import(&imp);
    free(imp.t);
    if (err) {
        if (path) {
            char prev[512];
            snprintf(prev, sizeof prev, "%s", graft_last_error());
            graft__fail(err, "%s: %s", path, prev);
        }
        graft__graph_destroy(imp.g);
        return err;
    }
    *out = imp.g;
    return 0;
}
