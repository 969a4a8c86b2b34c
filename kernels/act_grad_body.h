/*
 * kernels/act_grad_body.h: the activation gradients (dx += dy * f'(x)) written once for every
 * SIMD variant. An act_grad_<isa>.c file defines the vector type and operations below, then
 * includes this file, which defines ACTG_FN from them:
 *   ACTG_VEC, ACTG_LANES          the vector type and its float count
 *   ACTG_LT/LE/GT/GE/EQ(a, b)     ordered compares (false for a NaN lane, as the reference's)
 *   ACTG_OR, ACTG_AND             of two compares
 *   ACTG_SELECT(c, a, b)          a where c holds, else b
 *   ACTG_ZERO(), ACTG_SET1(x), ACTG_ADD, ACTG_SUB, ACTG_MUL, ACTG_DIV, ACTG_NEG (sign flip)
 *   ACTG_SIGMOID(v), ACTG_EXP(v), ACTG_ERF(v), ACTG_TANH(v)   SLEEF's 1-ULP functions
 *   ACTG_LOAD(p), ACTG_STORE(p, v)                          whole vectors
 *   ACTG_TAIL, ACTG_TAIL_FOR(rem), ACTG_LOAD_TAIL(p, t), ACTG_STORE_TAIL(p, t, v)
 *                                 the first rem < ACTG_LANES floats (loads fill zeros)
 * Each kind follows the scalar reference (act_grad_ref.c) operation for operation. The compiler
 * may fuse a product with the add into dx, so results agree with the reference within an ulp
 * or so, and exactly for RELU, CLIP and ABS, which only select. Tails run through the same
 * vector code. No threading, no argument checks: act_grad.c does those.
 */

/* x * h, and 0 where h is 0 (the reference's gated()). */
static inline ACTG_VEC gated(ACTG_VEC x, ACTG_VEC h) {
    return ACTG_SELECT(ACTG_EQ(h, ACTG_ZERO()), ACTG_ZERO(), ACTG_MUL(x, h));
}

/* dy * f'(x), the term added to dx. */
static inline ACTG_VEC grad(graft_unary kind, ACTG_VEC dy, ACTG_VEC x, ACTG_VEC y, ACTG_VEC a,
                            ACTG_VEC b) {
    const ACTG_VEC zero = ACTG_ZERO(), one = ACTG_SET1(1.0f), half = ACTG_SET1(0.5f);
    ACTG_VEC s, t, u;
    switch (kind) {
    case GRAFT_UNARY_RELU:
        return ACTG_SELECT(ACTG_LE(x, zero), zero, dy);
    case GRAFT_UNARY_CLIP:
        return ACTG_SELECT(ACTG_OR(ACTG_LE(x, a), ACTG_GE(x, b)), zero, dy);
    case GRAFT_UNARY_LEAKY_RELU:
        return ACTG_SELECT(ACTG_GT(x, zero), dy, ACTG_MUL(dy, a));
    case GRAFT_UNARY_SIGMOID:
        return ACTG_MUL(ACTG_MUL(dy, ACTG_SUB(one, y)), y);
    case GRAFT_UNARY_TANH:
        return ACTG_MUL(dy, ACTG_SUB(one, ACTG_MUL(y, y)));
    case GRAFT_UNARY_HARD_SIGMOID:
        t = ACTG_ADD(ACTG_MUL(a, x), b);
        return ACTG_SELECT(ACTG_AND(ACTG_GT(t, zero), ACTG_LT(t, one)), ACTG_MUL(dy, a), zero);
    case GRAFT_UNARY_HARD_SWISH:
        t = ACTG_MUL(dy, ACTG_ADD(ACTG_DIV(x, ACTG_SET1(3.0f)), half));
        t = ACTG_SELECT(ACTG_LE(x, ACTG_SET1(3.0f)), t, dy);
        return ACTG_SELECT(ACTG_LT(x, ACTG_SET1(-3.0f)), zero, t);
    case GRAFT_UNARY_SILU:
        s = ACTG_SIGMOID(x);
        return ACTG_MUL(dy, gated(ACTG_ADD(one, gated(x, ACTG_SUB(one, s))), s));
    case GRAFT_UNARY_GELU:
        s = ACTG_ERF(ACTG_MUL(x, ACTG_SET1(GRAFT__SQRT1_2)));
        s = ACTG_MUL(half, ACTG_ADD(one, s));
        t = ACTG_EXP(ACTG_MUL(ACTG_MUL(ACTG_SET1(-0.5f), x), x));
        t = ACTG_MUL(ACTG_SET1(GRAFT__INV_SQRT_2PI), t);
        return ACTG_MUL(dy, ACTG_ADD(s, gated(x, t)));
    case GRAFT_UNARY_GELU_TANH:
        u = ACTG_MUL(ACTG_MUL(ACTG_SET1(GRAFT__GELU_TANH_C1), x), x);
        t = ACTG_TANH(ACTG_MUL(x, ACTG_ADD(ACTG_SET1(GRAFT__GELU_TANH_C0), u)));
        s = ACTG_SUB(one, ACTG_MUL(t, t));
        u = ACTG_MUL(ACTG_MUL(ACTG_SET1(GRAFT__GELU_TANH_3C1), x), x);
        u = ACTG_MUL(ACTG_MUL(half, x), ACTG_ADD(ACTG_SET1(GRAFT__GELU_TANH_C0), u));
        u = gated(u, s);
        return ACTG_MUL(dy, ACTG_ADD(ACTG_MUL(half, ACTG_ADD(one, t)), u));
    case GRAFT_UNARY_EXP:
        return ACTG_MUL(dy, y);
    case GRAFT_UNARY_LOG:
        return ACTG_DIV(dy, x);
    case GRAFT_UNARY_ABS:
        t = ACTG_SELECT(ACTG_LT(x, zero), ACTG_NEG(dy), zero);
        return ACTG_SELECT(ACTG_GT(x, zero), dy, t);
    case GRAFT_UNARY_SQRT:
        return ACTG_DIV(dy, ACTG_MUL(ACTG_SET1(2.0f), y));
    case GRAFT_UNARY_SIGN:
    case GRAFT_UNARY_COUNT:
        break;
    }
    return zero;
}

/* One loop per kind, so that the switch in grad folds away; y is loaded only when read. */
#define GRAD_LOOP(KIND)                                                                        \
    do {                                                                                       \
        const int ny = graft__unary_grad_needs_y(KIND);                                        \
        for (; i + ACTG_LANES <= n; i += ACTG_LANES) {                                         \
            ACTG_VEC yv = ny ? ACTG_LOAD(y + i) : ACTG_ZERO();                                 \
            ACTG_VEC g = grad(KIND, ACTG_LOAD(dy + i), ACTG_LOAD(x + i), yv, a, b);            \
            ACTG_STORE(dx + i, ACTG_ADD(ACTG_LOAD(dx + i), g));                                \
        }                                                                                      \
        if (i < n) {                                                                           \
            ACTG_TAIL m = ACTG_TAIL_FOR(n - i);                                                \
            ACTG_VEC yv = ny ? ACTG_LOAD_TAIL(y + i, m) : ACTG_ZERO();                         \
            ACTG_VEC g = grad(KIND, ACTG_LOAD_TAIL(dy + i, m), ACTG_LOAD_TAIL(x + i, m), yv,   \
                              a, b);                                                           \
            ACTG_STORE_TAIL(dx + i, m, ACTG_ADD(ACTG_LOAD_TAIL(dx + i, m), g));                \
        }                                                                                      \
    } while (0)

void ACTG_FN(const graft_unary_op *op, float *restrict dx, const float *restrict dy,
             const float *restrict x, const float *restrict y, size_t n) {
    const ACTG_VEC a = ACTG_SET1(op->alpha), b = ACTG_SET1(op->beta);
    size_t i = 0;
    switch (op->kind) {
    case GRAFT_UNARY_RELU: GRAD_LOOP(GRAFT_UNARY_RELU); break;
    case GRAFT_UNARY_CLIP: GRAD_LOOP(GRAFT_UNARY_CLIP); break;
    case GRAFT_UNARY_LEAKY_RELU: GRAD_LOOP(GRAFT_UNARY_LEAKY_RELU); break;
    case GRAFT_UNARY_SIGMOID: GRAD_LOOP(GRAFT_UNARY_SIGMOID); break;
    case GRAFT_UNARY_TANH: GRAD_LOOP(GRAFT_UNARY_TANH); break;
    case GRAFT_UNARY_HARD_SIGMOID: GRAD_LOOP(GRAFT_UNARY_HARD_SIGMOID); break;
    case GRAFT_UNARY_HARD_SWISH: GRAD_LOOP(GRAFT_UNARY_HARD_SWISH); break;
    case GRAFT_UNARY_SILU: GRAD_LOOP(GRAFT_UNARY_SILU); break;
    case GRAFT_UNARY_GELU: GRAD_LOOP(GRAFT_UNARY_GELU); break;
    case GRAFT_UNARY_GELU_TANH: GRAD_LOOP(GRAFT_UNARY_GELU_TANH); break;
    case GRAFT_UNARY_EXP: GRAD_LOOP(GRAFT_UNARY_EXP); break;
    case GRAFT_UNARY_LOG: GRAD_LOOP(GRAFT_UNARY_LOG); break;
    case GRAFT_UNARY_ABS: GRAD_LOOP(GRAFT_UNARY_ABS); break;
    case GRAFT_UNARY_SQRT: GRAD_LOOP(GRAFT_UNARY_SQRT); break;
    case GRAFT_UNARY_SIGN: /* zero almost everywhere: nothing to add */
    case GRAFT_UNARY_COUNT: break;
    }
}
