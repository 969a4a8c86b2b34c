/*
 * tests/kernels/check_gemm.c: SGEMM against a naive triple loop in double precision, for every
 * ISA variant (a variant the CPU lacks is reported as skipped), with 1 and 2 threads, both
 * transposes, beta in {0, 0.5, 1}, padded leading dimensions, unaligned pointers and the fused
 * epilogue; plus the bit-identity promises and every error code the GEMM API returns.
 *
 * Shapes: M, N, K from {1, 2, 3, 7, 17, 64, 100, 255, 1000}: every triple whose product is at
 * most 300k, and a fixed sample of larger ones. An element passes when
 *   |got - ref| <= 1e-6 + 4 * eps * (K + 2) * mag,   mag = sum_k |a_ik b_kj| (+ |beta c| + |bias|)
 * which is the rounding error a k-step float accumulation may carry.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "graft/graft.h"
#include "graft/kernels.h"

static const long dims[] = {1, 2, 3, 7, 17, 64, 100, 255, 1000};
#define NDIMS ((int)(sizeof dims / sizeof dims[0]))

typedef struct rng {
    uint64_t s;
} rng;
static float rng_float(rng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (float)((r->s >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

/* One GEMM problem with its operands in padded, deliberately misaligned storage. */
typedef struct problem {
    graft_trans ta, tb;
    long M, N, K, lda, ldb, ldc;
    float alpha, beta;
    float *A, *B, *C0; /* C0: C before the call */
    float *bias_row, *bias_col;
    graft_act act;
    double *ref, *mag;
} problem;

static void problem_free(problem *p) {
    /* Pointers were offset by one float to misalign them; free the allocation. */
    if (p->A) free(p->A - 1);
    if (p->B) free(p->B - 1);
    if (p->C0) free(p->C0 - 1);
    free(p->bias_row);
    free(p->bias_col);
    free(p->ref);
    free(p->mag);
    memset(p, 0, sizeof *p);
}

static float *alloc_fill(size_t n, rng *r) {
    float *x = malloc(sizeof(float) * (n + 1));
    if (!x) return NULL;
    for (size_t i = 0; i < n + 1; i++) x[i] = rng_float(r);
    return x + 1;
}

static int problem_make(problem *p, graft_trans ta, graft_trans tb, long M, long N, long K,
                        long pad, float alpha, float beta, int with_epi, uint64_t seed) {
    rng r = {seed * 0x9e3779b97f4a7c15ull + 1};
    memset(p, 0, sizeof *p);
    p->ta = ta, p->tb = tb, p->M = M, p->N = N, p->K = K, p->alpha = alpha, p->beta = beta;
    p->lda = (ta == GRAFT_TRANS_NO ? K : M) + pad;
    p->ldb = (tb == GRAFT_TRANS_NO ? N : K) + pad;
    p->ldc = N + pad;
    if (p->lda < 1) p->lda = 1;
    if (p->ldb < 1) p->ldb = 1;
    size_t a_rows = ta == GRAFT_TRANS_NO ? M : K, b_rows = tb == GRAFT_TRANS_NO ? K : N;
    p->A = alloc_fill(a_rows * p->lda, &r);
    p->B = alloc_fill(b_rows * p->ldb, &r);
    p->C0 = alloc_fill((size_t)M * p->ldc, &r);
    p->ref = malloc(sizeof(double) * M * N);
    p->mag = malloc(sizeof(double) * M * N);
    /*
     * Both biases, a column bias alone (a convolution's epilogue, which kernels may take a
     * shortcut for) or none, each with every activation.
     */
    int biases = with_epi ? 2 - graft_check_pick(seed, 40, 3) : 0;
    if (biases == 2) {
        p->bias_row = malloc(sizeof(float) * M);
        if (p->bias_row)
            for (long i = 0; i < M; i++) p->bias_row[i] = rng_float(&r);
    }
    if (biases >= 1) {
        p->bias_col = malloc(sizeof(float) * N);
        if (p->bias_col)
            for (long j = 0; j < N; j++) p->bias_col[j] = rng_float(&r);
    }
    if (with_epi) p->act = (graft_act)graft_check_pick(seed, 32, 3);
    if (!p->A || !p->B || !p->C0 || !p->ref || !p->mag || (biases == 2 && !p->bias_row) ||
        (biases >= 1 && !p->bias_col)) {
        problem_free(p);
        return -1;
    }
    for (long i = 0; i < M; i++)
        for (long j = 0; j < N; j++) {
            double s = 0, m = 0;
            for (long k = 0; k < K; k++) {
                double a = ta == GRAFT_TRANS_NO ? p->A[i * p->lda + k] : p->A[k * p->lda + i];
                double b = tb == GRAFT_TRANS_NO ? p->B[k * p->ldb + j] : p->B[j * p->ldb + k];
                s += a * b;
                m += fabs(a * b);
            }
            s *= alpha;
            m *= fabs(alpha);
            if (beta != 0.0f) {
                s += beta * (double)p->C0[i * p->ldc + j];
                m += fabs(beta * (double)p->C0[i * p->ldc + j]);
            }
            if (with_epi) {
                double br = p->bias_row ? p->bias_row[i] : 0;
                double bc = p->bias_col ? p->bias_col[j] : 0;
                s += br + bc;
                m += fabs(br) + fabs(bc);
                if (p->act != GRAFT_ACT_NONE) s = s > 0 ? s : 0;
                if (p->act == GRAFT_ACT_RELU6) s = s < 6 ? s : 6;
            }
            p->ref[i * N + j] = s;
            p->mag[i * N + j] = m;
        }
    return 0;
}

/* Runs the problem into a fresh copy of C0 (NaN-poisoned when beta == 0). Caller frees. */
static float *problem_run(const problem *p, const graft_packed_b *pb, int *err) {
    size_t n = (size_t)p->M * p->ldc;
    float *C = malloc(sizeof(float) * (n + 1));
    if (!C) {
        *err = GRAFT_ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) C[i] = p->beta == 0.0f ? NAN : p->C0[i];
    graft_epilogue epi = {p->bias_row, p->bias_col, p->act};
    const graft_epilogue *e = p->bias_row || p->bias_col || p->act ? &epi : NULL;
    if (pb)
        *err = graft_sgemm_packed(p->ta, p->M, p->alpha, p->A, p->lda, pb, p->beta, C, p->ldc, e);
    else
        *err = graft_sgemm(p->ta, p->tb, p->M, p->N, p->K, p->alpha, p->A, p->lda, p->B, p->ldb,
                           p->beta, C, p->ldc, e);
    return C;
}

/* 0 when C matches the reference and the padding columns are untouched. */
static int problem_compare(const problem *p, const float *C, char *msg, size_t len) {
    double tol_scale = 4.0 * FLT_EPSILON * (double)(p->K + 2);
    for (long i = 0; i < p->M; i++) {
        for (long j = 0; j < p->N; j++) {
            double got = C[i * p->ldc + j], want = p->ref[i * p->N + j];
            double tol = 1e-6 + tol_scale * p->mag[i * p->N + j];
            if (!(fabs(got - want) <= tol)) {
                snprintf(msg, len,
                         "M=%ld N=%ld K=%ld ta=%d tb=%d beta=%g ld+%ld act=%d: C[%ld][%ld] = %.9g,"
                         " want %.9g (tol %.3g)",
                         p->M, p->N, p->K, p->ta, p->tb, p->beta, p->ldc - p->N, p->act, i, j,
                         got, want, tol);
                return 1;
            }
        }
        for (long j = p->N; j < p->ldc; j++) {
            float want = p->beta == 0.0f ? NAN : p->C0[i * p->ldc + j];
            if (memcmp(&C[i * p->ldc + j], &want, sizeof want) != 0) {
                snprintf(msg, len, "M=%ld N=%ld K=%ld: padding C[%ld][%ld] was written", p->M,
                         p->N, p->K, i, j);
                return 1;
            }
        }
    }
    return 0;
}

static int use_isa(graft_isa isa, char *msg, size_t len) {
    if (graft_isa_set(isa) != GRAFT_OK) {
        snprintf(msg, len, "%s not available on this CPU", graft_isa_name(isa));
        return GRAFT_CHECK_SKIP;
    }
    return GRAFT_CHECK_PASS;
}

/*
 * The sweep of one variant: each shape once with 1 thread and once with 2, both compared with
 * the reference and with each other bit for bit.
 */
static int sweep(graft_isa isa, int with_epi, char *msg, size_t len) {
    int st = use_isa(isa, msg, len);
    if (st != GRAFT_CHECK_PASS) return st;
    static const float betas[] = {0.0f, 0.5f, 1.0f};
    static const long pads[] = {0, 3, 16};
    int idx = 0, checked = 0;
    for (int a = 0; a < NDIMS; a++)
        for (int b = 0; b < NDIMS; b++)
            for (int c = 0; c < NDIMS; c++, idx++) {
                long M = dims[a], N = dims[b], K = dims[c];
                double vol = (double)M * N * K;
                uint64_t h = (uint64_t)idx * 2654435761u;
                if (vol > 300000 && (h % 11 != 0 || vol > 3e7)) continue;
                if (with_epi && vol > 300000) continue;
                problem p;
                graft_trans ta = (graft_trans)(idx & 1), tb = (graft_trans)((idx >> 1) & 1);
                /*
                 * alpha, beta and the padding from a hash of the shape's seed: residues of
                 * its index tied beta = 0 to K <= 3.
                 */
                const uint64_t seed = (uint64_t)idx + 7;
                float alpha = graft_check_pick(seed, 20, 5) == 0 ? -1.5f : 1.0f;
                if (problem_make(&p, ta, tb, M, N, K, pads[graft_check_pick(seed, 28, 3)], alpha,
                                 betas[graft_check_pick(seed, 24, 3)], with_epi, seed) != 0) {
                    snprintf(msg, len, "out of memory");
                    return GRAFT_CHECK_FAIL;
                }
                int err1 = 0, err2 = 0, bad = 0;
                graft_threads_set(1);
                float *C1 = problem_run(&p, NULL, &err1);
                graft_threads_set(2);
                float *C2 = problem_run(&p, NULL, &err2);
                if (err1 || err2) {
                    snprintf(msg, len, "M=%ld N=%ld K=%ld: %s", M, N, K, graft_last_error());
                    bad = 1;
                } else if (problem_compare(&p, C1, msg, len) || problem_compare(&p, C2, msg, len)) {
                    bad = 1;
                } else if (memcmp(C1, C2, sizeof(float) * M * p.ldc) != 0) {
                    snprintf(msg, len, "M=%ld N=%ld K=%ld: 1 and 2 threads differ", M, N, K);
                    bad = 1;
                }
                free(C1);
                free(C2);
                problem_free(&p);
                if (bad) return GRAFT_CHECK_FAIL;
                checked++;
            }
    graft_isa_set(GRAFT_ISA_AUTO);
    snprintf(msg, len, "%d shapes", checked);
    return GRAFT_CHECK_PASS;
}

/* Pre-packed B gives bit-identical results to packing per call, for both transposes of B. */
static int packed(graft_isa isa, char *msg, size_t len) {
    int st = use_isa(isa, msg, len);
    if (st != GRAFT_CHECK_PASS) return st;
    static const long shapes[][3] = {{1, 1, 1},      {7, 33, 17},     {64, 100, 255},
                                     {17, 1000, 7},  {100, 64, 1000}, {255, 3, 400},
                                     {1, 1000, 255}, {300, 1, 700},   {1, 77, 1000}};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    for (int s = 0; s < nshapes; s++) {
        for (int tb = 0; tb < 2; tb++) {
            problem p;
            if (problem_make(&p, (graft_trans)(s & 1), (graft_trans)tb, shapes[s][0],
                             shapes[s][1], shapes[s][2], s, 1.0f, 0.5f, s & 1, 100 + s) != 0)
                return GRAFT_CHECK_FAIL;
            graft_packed_b *pb = NULL;
            int e0 = graft_sgemm_pack_b(p.tb, p.K, p.N, p.B, p.ldb, &pb), e1 = 0, e2 = 0;
            float *Cp = e0 ? NULL : problem_run(&p, pb, &e1);
            float *Cu = problem_run(&p, NULL, &e2);
            int bad = e0 || e1 || e2 || !Cp || !Cu;
            if (bad)
                snprintf(msg, len, "shape %d: %s", s, graft_last_error());
            else if (problem_compare(&p, Cp, msg, len))
                bad = 1;
            else if (!(p.M == 1 && p.N > 1 && tb) &&
                     memcmp(Cp, Cu, sizeof(float) * p.M * p.ldc) != 0) {
                snprintf(msg, len, "shape %d tb=%d: packed and unpacked B differ", s, tb);
                bad = 1;
            }
            free(Cp);
            free(Cu);
            graft_packed_b_destroy(pb);
            problem_free(&p);
            if (bad) return GRAFT_CHECK_FAIL;
        }
    }
    graft_isa_set(GRAFT_ISA_AUTO);
    return GRAFT_CHECK_PASS;
}

/* The first seed from `from` whose epilogue picks (problem_make) are `biases` and act. */
static uint64_t seed_with(uint64_t from, int biases, graft_act act) {
    while (2 - graft_check_pick(from, 40, 3) != biases || graft_check_pick(from, 32, 3) != (int)act)
        from++;
    return from;
}

/*
 * Pre-packed products whose C is over GRAFT__STREAM_BYTES (8 MB) with beta = 0, which the
 * kernels may write with streaming stores (AVX2: tiles whose rows are whole 64-byte lines):
 * C 64-byte aligned with a column bias (a convolution), with no bias, and 16 bytes off the
 * boundary (plain stores), on two threads. problem_run's C is never 64-byte aligned.
 */
static int streamed(graft_isa isa, char *msg, size_t len) {
    int st = use_isa(isa, msg, len);
    if (st != GRAFT_CHECK_PASS) return st;
    static const struct {
        long M, N, K, off;
        int biases;
        graft_act act;
    } cases[] = {{9001, 256, 24, 0, 1, GRAFT_ACT_RELU6},
                 {5003, 448, 17, 0, 0, GRAFT_ACT_RELU},
                 {9001, 256, 24, 4, 1, GRAFT_ACT_NONE}};
    graft_threads_set(2);
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        problem p;
        uint64_t seed = seed_with(1000 + 100 * (uint64_t)i, cases[i].biases, cases[i].act);
        if (problem_make(&p, GRAFT_TRANS_NO, GRAFT_TRANS_NO, cases[i].M, cases[i].N, cases[i].K,
                         0, 1.0f, 0.0f, 1, seed) != 0) {
            snprintf(msg, len, "out of memory");
            return GRAFT_CHECK_FAIL;
        }
        size_t n = (size_t)p.M * p.ldc, bytes = (sizeof(float) * (n + 16) + 63) & ~(size_t)63;
        float *buf = aligned_alloc(64, bytes), *C = buf ? buf + cases[i].off : NULL;
        graft_packed_b *pb = NULL;
        int bad = !buf || graft_sgemm_pack_b(p.tb, p.K, p.N, p.B, p.ldb, &pb) != GRAFT_OK;
        if (!bad) {
            for (size_t k = 0; k < n; k++) C[k] = NAN;
            graft_epilogue epi = {p.bias_row, p.bias_col, p.act};
            bad = graft_sgemm_packed(p.ta, p.M, 1.0f, p.A, p.lda, pb, 0.0f, C, p.ldc, &epi) !=
                  GRAFT_OK;
        }
        if (bad)
            snprintf(msg, len, "case %d: %s", i, graft_last_error());
        else
            bad = problem_compare(&p, C, msg, len);
        free(buf);
        graft_packed_b_destroy(pb);
        problem_free(&p);
        if (bad) return GRAFT_CHECK_FAIL;
    }
    graft_isa_set(GRAFT_ISA_AUTO);
    return GRAFT_CHECK_PASS;
}

#define VARIANT_CHECKS(name, isa)                                                             \
    static int sweep_##name(char *m, size_t l) { return sweep(isa, 0, m, l); }                 \
    static int epilogue_##name(char *m, size_t l) { return sweep(isa, 1, m, l); }              \
    static int packed_##name(char *m, size_t l) { return packed(isa, m, l); }                 \
    static int streamed_##name(char *m, size_t l) { return streamed(isa, m, l); }
VARIANT_CHECKS(scalar, GRAFT_ISA_SCALAR)
VARIANT_CHECKS(avx2, GRAFT_ISA_AVX2)
VARIANT_CHECKS(avx512, GRAFT_ISA_AVX512)
VARIANT_CHECKS(neon, GRAFT_ISA_NEON)

/* K == 0 and alpha == 0 leave beta * C plus the epilogue, and never read C when beta == 0. */
static int no_product(char *msg, size_t len) {
    float C[6], brow[2] = {1, -10}, bcol[3] = {0.5f, 0, 7};
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 6; i++) C[i] = pass ? NAN : (float)i;
        graft_epilogue epi = {brow, bcol, GRAFT_ACT_RELU6};
        float A[6] = {1, 2, 3, 4, 5, 6}, B[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
        int err = pass ? graft_sgemm(0, 0, 2, 3, 3, 0.0f, A, 3, B, 3, 0.0f, C, 3, &epi)
                       : graft_sgemm(0, 0, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 2.0f, C, 3, &epi);
        if (err) {
            snprintf(msg, len, "pass %d: %s", pass, graft_last_error());
            return GRAFT_CHECK_FAIL;
        }
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++) {
                float x = (pass ? 0.0f : 2.0f * (i * 3 + j)) + brow[i] + bcol[j];
                x = x < 0 ? 0 : x > 6 ? 6 : x;
                if (C[i * 3 + j] != x) {
                    snprintf(msg, len, "pass %d: C[%d][%d] = %g, want %g", pass, i, j,
                             C[i * 3 + j], x);
                    return GRAFT_CHECK_FAIL;
                }
            }
    }
    return GRAFT_CHECK_PASS;
}

#define EXPECT_ERR(call, code)                                                                 \
    do {                                                                                       \
        int e_ = (call);                                                                       \
        if (e_ != (code)) {                                                                    \
            snprintf(msg, len, "%s returned %s, want %s", #call, graft_err_name(e_),           \
                     graft_err_name(code));                                                    \
            return GRAFT_CHECK_FAIL;                                                           \
        }                                                                                      \
        if ((code) != GRAFT_OK && graft_last_error()[0] == '\0') {                             \
            snprintf(msg, len, "%s left no message", #call);                                   \
            return GRAFT_CHECK_FAIL;                                                           \
        }                                                                                      \
    } while (0)

/* Every error the GEMM API can return, each with a message, C untouched. */
static int rejects_bad_arguments(char *msg, size_t len) {
    float A[64] = {0}, B[64] = {0}, C[64];
    for (int i = 0; i < 64; i++) C[i] = 42.0f;
    graft_epilogue bad_act = {NULL, NULL, (graft_act)7};
    EXPECT_ERR(graft_sgemm(0, 0, -1, 2, 2, 1, A, 2, B, 2, 0, C, 2, NULL), GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm(0, 0, 2, 2, -3, 1, A, 2, B, 2, 0, C, 2, NULL), GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm(0, 0, 2, 2, 7, 1, A, 3, B, 2, 0, C, 2, NULL), GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm(1, 0, 5, 2, 2, 1, A, 4, B, 2, 0, C, 2, NULL), GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm(0, 0, 2, 5, 2, 1, A, 2, B, 4, 0, C, 5, NULL), GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm(0, 1, 2, 2, 5, 1, A, 5, B, 4, 0, C, 2, NULL), GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm(0, 0, 2, 5, 2, 1, A, 2, B, 5, 0, C, 4, NULL), GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm(0, 0, 2, 2, 2, 1, NULL, 2, B, 2, 0, C, 2, NULL), GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm(0, 0, 2, 2, 2, 1, A, 2, NULL, 2, 0, C, 2, NULL), GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm(0, 0, 2, 2, 2, 1, A, 2, B, 2, 0, NULL, 2, NULL), GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm((graft_trans)2, 0, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2, NULL),
               GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm(0, (graft_trans)-1, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2, NULL),
               GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm(0, 0, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2, &bad_act), GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm(0, 0, 3000000000L, 2, 2, 1, A, 2, B, 2, 0, C, 2, NULL),
               GRAFT_ERANGE);
    EXPECT_ERR(graft_sgemm(0, 0, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2, NULL), GRAFT_OK);
    for (int i = 4; i < 64; i++)
        if (C[i] != 42.0f) {
            snprintf(msg, len, "C[%d] was written by a failed call", i);
            return GRAFT_CHECK_FAIL;
        }
    graft_packed_b *pb = NULL;
    EXPECT_ERR(graft_sgemm_pack_b(0, 4, 4, B, 3, &pb), GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm_pack_b(0, -4, 4, B, 4, &pb), GRAFT_EINVAL);
    EXPECT_ERR(graft_sgemm_packed(0, 2, 1, A, 2, NULL, 0, C, 2, NULL), GRAFT_EINVAL);
    if (pb) {
        snprintf(msg, len, "a failed pack_b wrote its output");
        return GRAFT_CHECK_FAIL;
    }
    EXPECT_ERR(graft_isa_set((graft_isa)99), GRAFT_EINVAL);
    graft_isa missing = GRAFT_ISA_COUNT;
    for (int i = GRAFT_ISA_SCALAR; i < GRAFT_ISA_COUNT; i++)
        if (!graft_isa_available((graft_isa)i)) missing = (graft_isa)i;
    if (missing != GRAFT_ISA_COUNT) EXPECT_ERR(graft_isa_set(missing), GRAFT_EUNSUPPORTED);
    graft_isa parsed;
    EXPECT_ERR(graft_isa_parse("sse9", &parsed), GRAFT_EINVAL);
    EXPECT_ERR(graft_threads_set(0), GRAFT_EINVAL);

    /* A B packed for one variant is refused by another rather than misread. */
    if (graft_isa_set(GRAFT_ISA_SCALAR) == GRAFT_OK) {
        graft_isa other = GRAFT_ISA_COUNT;
        for (int i = GRAFT_ISA_AVX2; i < GRAFT_ISA_COUNT; i++)
            if (graft_isa_available((graft_isa)i)) other = (graft_isa)i;
        EXPECT_ERR(graft_sgemm_pack_b(0, 4, 4, B, 4, &pb), GRAFT_OK);
        if (other != GRAFT_ISA_COUNT && graft_isa_set(other) == GRAFT_OK)
            EXPECT_ERR(graft_sgemm_packed(0, 2, 1, A, 4, pb, 0, C, 4, NULL), GRAFT_EINVAL);
        graft_packed_b_destroy(pb);
        graft_isa_set(GRAFT_ISA_AUTO);
    }
    return GRAFT_CHECK_PASS;
}

const graft_check graft_checks_gemm[] = {
    {"gemm", "scalar_matches_reference", sweep_scalar},
    {"gemm", "avx2_matches_reference", sweep_avx2},
    {"gemm", "avx512_matches_reference", sweep_avx512},
    {"gemm", "neon_matches_reference", sweep_neon},
    {"gemm", "scalar_epilogue", epilogue_scalar},
    {"gemm", "avx2_epilogue", epilogue_avx2},
    {"gemm", "avx512_epilogue", epilogue_avx512},
    {"gemm", "neon_epilogue", epilogue_neon},
    {"gemm", "scalar_packed_b_identical", packed_scalar},
    {"gemm", "avx2_packed_b_identical", packed_avx2},
    {"gemm", "avx512_packed_b_identical", packed_avx512},
    {"gemm", "neon_packed_b_identical", packed_neon},
    {"gemm", "scalar_streamed_c", streamed_scalar},
    {"gemm", "avx2_streamed_c", streamed_avx2},
    {"gemm", "avx512_streamed_c", streamed_avx512},
    {"gemm", "neon_streamed_c", streamed_neon},
    {"gemm", "k0_and_alpha0_scale_c", no_product},
    {"gemm", "rejects_bad_arguments", rejects_bad_arguments},
    {NULL, NULL, NULL},
};
