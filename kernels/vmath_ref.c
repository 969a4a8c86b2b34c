/*
 * kernels/vmath_ref.c: the scalar reference of the activations, softmax rows and LRN, written
 * with libm. It is the specification the SIMD variants (vmath_<isa>.c, SLEEF) are tested
 * against and the variant GRAFT_ISA=scalar runs, so it stays plain: no blocking, no tricks.
 * The formulas are the ones the SIMD files vectorise operation for operation; where a form
 * differs from the textbook one, the comment says why. Threading and argument checks live in
 * vmath.c.
 */
#include <math.h>

#include "vmath.h"

/*
 * sigmoid as exp(-|x|) / (1 + exp(-|x|)) for x < 0: the textbook 1 / (1 + exp(-x)) overflows
 * exp for x < -88.7 and returns 0 where the true value is still a (subnormal) float.
 */
static float sigmoid(float x) {
    float e = expf(-fabsf(x));
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

/* x * h for the gated kinds, 0 where the gate is 0, so that -inf * 0 does not become NaN. */
static float gated(float x, float h) { return h == 0.0f ? 0.0f : x * h; }

static float unary_one(const graft_unary_op *op, float x) {
    const float a = op->alpha, b = op->beta;
    float t;
    switch (op->kind) {
    case GRAFT_UNARY_RELU:
        return x < 0.0f ? 0.0f : x;
    case GRAFT_UNARY_CLIP:
        t = x < a ? a : x;
        return t > b ? b : t;
    case GRAFT_UNARY_LEAKY_RELU:
        return x < 0.0f ? a * x : x;
    case GRAFT_UNARY_SIGMOID:
        return sigmoid(x);
    case GRAFT_UNARY_TANH:
        return tanhf(x);
    case GRAFT_UNARY_HARD_SIGMOID:
        t = a * x + b;
        t = t > 1.0f ? 1.0f : t;
        return t < 0.0f ? 0.0f : t;
    case GRAFT_UNARY_HARD_SWISH:
        t = x * (1.0f / 6.0f) + 0.5f;
        t = t > 1.0f ? 1.0f : t;
        return gated(x, t < 0.0f ? 0.0f : t);
    case GRAFT_UNARY_SILU:
        return gated(x, sigmoid(x));
    case GRAFT_UNARY_GELU:
        return gated(x, 0.5f * (1.0f + erff(x * GRAFT__SQRT1_2)));
    case GRAFT_UNARY_GELU_TANH:
        t = x * (GRAFT__GELU_TANH_C0 + GRAFT__GELU_TANH_C1 * x * x);
        return gated(x, 0.5f * (1.0f + tanhf(t)));
    case GRAFT_UNARY_EXP:
        return expf(x);
    case GRAFT_UNARY_LOG:
        return logf(x); /* C99 Annex F gives ONNX's values: -inf at +-0, NaN below 0 */
    case GRAFT_UNARY_ABS:
        return fabsf(x);
    case GRAFT_UNARY_SQRT:
        return sqrtf(x);
    case GRAFT_UNARY_SIGN:
        return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x == 0.0f ? 0.0f : x;
    case GRAFT_UNARY_COUNT:
        break;
    }
    return NAN; /* unreachable: vmath.c checked the kind */
}

void graft_vmath_unary_ref(const graft_unary_op *op, float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = unary_one(op, x[i]);
}

float graft_vmath_row_max_ref(const float *x, size_t D) {
    float m = x[0];
    for (size_t i = 1; i < D; i++) m = x[i] > m ? x[i] : m;
    return m;
}

void graft_vmath_softmax_row_ref(float *y, const float *x, size_t D, float max,
                                 int log_softmax) {
    float sum = 0.0f;
    if (log_softmax) {
        /* x is read twice and y written once, so y == x is fine. */
        for (size_t i = 0; i < D; i++) sum += expf(x[i] - max);
        float log_sum = logf(sum);
        for (size_t i = 0; i < D; i++) y[i] = (x[i] - max) - log_sum;
        return;
    }
    for (size_t i = 0; i < D; i++) {
        y[i] = expf(x[i] - max);
        sum += y[i];
    }
    for (size_t i = 0; i < D; i++) y[i] = y[i] / sum;
}

/*
 * The squares go to scratch first so that y may overwrite x: a channel's window reaches
 * channels already written. Each window is summed from 0 in increasing channel order, the
 * order every variant uses.
 */
void graft_vmath_lrn_ref(float *y, const float *x, size_t pixels, size_t C,
                         const graft__lrn_args *a, float *sq) {
    for (size_t p = 0; p < pixels; p++, x += C, y += C) {
        for (size_t c = 0; c < C; c++) sq[c] = x[c] * x[c];
        for (size_t c = 0; c < C; c++) {
            size_t first = c > a->lo ? c - a->lo : 0;
            size_t last = c + a->hi < C ? c + a->hi : C - 1;
            float sum = 0.0f;
            for (size_t j = first; j <= last; j++) sum += sq[j];
            y[c] = x[c] / powf(a->bias + a->scale * sum, a->beta);
        }
    }
}
