/*
 * tests/install/consumer.c: a program built only from what `make install` puts under PREFIX,
 * found through pkg-config, as a user's project would be. Checks one small product.
 */
#include <graft/kernels.h>
#include <stdio.h>

int main(void) {
    const float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1};
    float C[4];
    int err = graft_sgemm(GRAFT_TRANS_NO, GRAFT_TRANS_NO, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2,
                          NULL);
    int ok = !err && C[0] == 4 && C[1] == 5 && C[2] == 10 && C[3] == 11;
    printf("installed graft %s: %s\n", graft_version(), ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
