/*
 * kernels/act_grad_ref.c: the scalar reference of the activation gradients, written with libm.
 * It is the specification the SIMD variants (act_grad_<isa>.c, SLEEF) are tested against and
 * the variant GRAFT_ISA=scalar runs, so it stays plain. The derivatives and their values at
 * the kinks are PyTorch autograd's (threshold_backward, hardtanh_backward, leaky_relu_backward,
 * hardsigmoid_backward, hardswish_backward, sigmoid_backward, tanh_backward, silu_backward,
 * gelu_backward), with the comparisons written the way PyTorch writes them so that NaN inputs
 * take the same branch. Threading, argument checks and computing y when the caller did not
 * pass it live in act_grad.c.
 */
#include <math.h>

#include "grad.h"
#include "vmath.h"

/* As vmath_ref.c's: exp(-|x|) / (1 + exp(-|x|)) for x < 0, so exp never overflows. */
static float sigmoid(float x) {
    float e = expf(-fabsf(x));
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

/* x * h, and 0 where h is 0, so that an infinite x meeting a vanished factor gives 0. */
static float gated(float x, float h) { return h == 0.0f ? 0.0f : x * h; }

/* dy * f'(x) for one element; y = f(x) for the kinds of graft__unary_grad_needs_y. */
static float unary_grad_one(const graft_unary_op *op, float dy, float x, float y) {
    const float a = op->alpha, b = op->beta;
    float s, t, u;
    switch (op->kind) {
    case GRAFT_UNARY_RELU:
        return x <= 0.0f ? 0.0f : dy;
    case GRAFT_UNARY_CLIP:
        return x <= a || x >= b ? 0.0f : dy;
    case GRAFT_UNARY_LEAKY_RELU:
        return x > 0.0f ? dy : dy * a;
    case GRAFT_UNARY_SIGMOID:
        return dy * (1.0f - y) * y;
    case GRAFT_UNARY_TANH:
        return dy * (1.0f - y * y);
    case GRAFT_UNARY_HARD_SIGMOID:
        /* The slope where the forward's a x + b is strictly inside (0, 1). */
        t = a * x + b;
        return t > 0.0f && t < 1.0f ? dy * a : 0.0f;
    case GRAFT_UNARY_HARD_SWISH:
        if (x < -3.0f) return 0.0f;
        return x <= 3.0f ? dy * (x / 3.0f + 0.5f) : dy;
    case GRAFT_UNARY_SILU:
        s = sigmoid(x);
        return dy * gated(1.0f + gated(x, 1.0f - s), s);
    case GRAFT_UNARY_GELU:
        s = 0.5f * (1.0f + erff(x * GRAFT__SQRT1_2));
        t = GRAFT__INV_SQRT_2PI * expf(-0.5f * x * x);
        return dy * (s + gated(x, t));
    case GRAFT_UNARY_GELU_TANH:
        u = x * (GRAFT__GELU_TANH_C0 + GRAFT__GELU_TANH_C1 * x * x);
        t = tanhf(u);
        s = 1.0f - t * t;
        u = gated(0.5f * x * (GRAFT__GELU_TANH_C0 + GRAFT__GELU_TANH_3C1 * x * x), s);
        return dy * (0.5f * (1.0f + t) + u);
    case GRAFT_UNARY_EXP:
        return dy * y;
    case GRAFT_UNARY_LOG:
        return dy / x;
    case GRAFT_UNARY_ABS:
        return x > 0.0f ? dy : x < 0.0f ? -dy : 0.0f;
    case GRAFT_UNARY_SQRT:
        return dy / (2.0f * y);
    case GRAFT_UNARY_SIGN:
    case GRAFT_UNARY_COUNT:
        break;
    }
    return 0.0f;
}

void graft__unary_grad_ref(const graft_unary_op *op, float *restrict dx, const float *restrict dy,
                           const float *restrict x, const float *restrict y, size_t n) {
    if (op->kind == GRAFT_UNARY_SIGN) return; /* zero almost everywhere: nothing to add */
    int needs_y = graft__unary_grad_needs_y(op->kind);
    for (size_t i = 0; i < n; i++)
        dx[i] += unary_grad_one(op, dy[i], x[i], needs_y ? y[i] : 0.0f);
}
