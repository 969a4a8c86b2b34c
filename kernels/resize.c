/*
 * kernels/resize.c: which resize micro-kernels (kernels/resize.h) run, from graft's ISA
 * selection (dispatch.c: GRAFT_ISA=scalar|avx2|avx512|neon forces one). The loops over rows
 * and the plans are in pipeline/decode/resize.c; this file only picks.
 */
#include "resize.h"

static const graft__resize_kernels resize_table[] = {
    {GRAFT_ISA_SCALAR, graft__resize_h_ref, graft__resize_v_ref},
#if defined(__x86_64__)
    {GRAFT_ISA_AVX2, graft__resize_h_avx2, graft__resize_v_avx2},
    {GRAFT_ISA_AVX512, graft__resize_h_avx512, graft__resize_v_avx512},
#endif
#if defined(__aarch64__)
    {GRAFT_ISA_NEON, graft__resize_h_neon, graft__resize_v_neon},
#endif
};

const graft__resize_kernels *graft__resize_kernels_for(graft_isa isa) {
    for (size_t i = 0; i < sizeof resize_table / sizeof resize_table[0]; i++)
        if (resize_table[i].isa == isa) return &resize_table[i];
    return NULL;
}

int graft__resize_kernels_current(const graft__resize_kernels **out) {
    graft_isa isa;
    int err = graft_isa_current(&isa);
    if (err) return err;
    const graft__resize_kernels *k = graft__resize_kernels_for(isa);
    if (!k)
        return graft__fail(GRAFT_EUNSUPPORTED, "resize: no %s kernel in this build",
                           graft_isa_name(isa));
    *out = k;
    return GRAFT_OK;
}
