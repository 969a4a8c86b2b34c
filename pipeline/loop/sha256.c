/*
 * pipeline/loop/sha256.c: the SHA-256 of a model file, the identity a cache records. OpenSSL's
 * EVP digest does the work (SHA-NI where the CPU has it); the file is read in 1 MiB chunks so
 * a 500 MB model costs no extra memory.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graft/pipeline.h"
#include "kernels.h"

int graft_file_sha256(const char *path, char hex[65]) {
    if (!path || !hex) return graft__fail(GRAFT_EINVAL, "sha256: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return graft__fail(GRAFT_EIO, "%s: %s", path, strerror(errno));
    int rc = GRAFT_OK;
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!buf || !ctx) {
        rc = graft__fail(GRAFT_ENOMEM, "sha256: out of memory");
        goto done;
    }
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = graft__fail(GRAFT_EIO, "sha256: OpenSSL refused to start a digest");
        goto done;
    }
    size_t n;
    while ((n = fread(buf, 1, CHUNK, f)) > 0) EVP_DigestUpdate(ctx, buf, n);
    if (ferror(f)) {
        rc = graft__fail(GRAFT_EIO, "%s: read error", path);
        goto done;
    }
    unsigned char md[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
done:
    EVP_MD_CTX_free(ctx);
    free(buf);
    fclose(f);
    return rc;
}
