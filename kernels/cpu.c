/*
 * kernels/cpu.c: the feature probe. Asks the processor (cpuid) and the operating system
 * (xgetbv: does the kernel save the wider register state on context switches?) what may run,
 * and sysfs for the cache sizes that size the GEMM blocks. Runs once; never fails: anything it
 * cannot learn is reported as absent or 0.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kernels.h"

#if defined(__x86_64__)
#include <cpuid.h>

static unsigned long long read_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static void probe_x86(graft_cpu_info *ci) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    unsigned int max_leaf = a;
    memcpy(ci->vendor + 0, &b, 4);
    memcpy(ci->vendor + 4, &d, 4);
    memcpy(ci->vendor + 8, &c, 4);
    ci->vendor[12] = '\0';

    __get_cpuid(1, &a, &b, &c, &d);
    int has_fma = (c >> 12) & 1, has_osxsave = (c >> 27) & 1, has_avx = (c >> 28) & 1;
    unsigned long long xcr0 = has_osxsave ? read_xcr0() : 0;
    /* XMM|YMM state (bits 1,2) for AVX; opmask, ZMM_Hi256, Hi16_ZMM (bits 5,6,7) for AVX-512. */
    int os_ymm = (xcr0 & 0x6) == 0x6, os_zmm = (xcr0 & 0xe6) == 0xe6;

    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        int avx2 = (b >> 5) & 1;
        int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
        ci->has_avx2_fma = has_avx && avx2 && has_fma && os_ymm;
        ci->has_avx512 = ci->has_avx2_fma && f && dq && bw && vl && os_zmm;
    }

    unsigned int brand[12];
    __get_cpuid(0x80000000, &a, &b, &c, &d);
    if (a >= 0x80000004) {
        for (unsigned int i = 0; i < 3; i++)
            __get_cpuid(0x80000002 + i, &brand[4 * i], &brand[4 * i + 1], &brand[4 * i + 2],
                        &brand[4 * i + 3]);
        char *s = (char *)brand;
        s[47] = '\0';
        while (*s == ' ') s++;
        snprintf(ci->model_name, sizeof ci->model_name, "%s", s);
        size_t len = strlen(ci->model_name);
        while (len && ci->model_name[len - 1] == ' ') ci->model_name[--len] = '\0';
    }
}
#endif

/* Parses sysfs sizes such as "48K" or "1024K" or "32M". */
static size_t read_cache_size(int index, int *level, char *type, size_t typelen) {
    char path[128], buf[64];
    size_t size = 0;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", index);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    if (fgets(buf, sizeof buf, f)) {
        char unit = 0;
        unsigned long v = 0;
        if (sscanf(buf, "%lu%c", &v, &unit) >= 1)
            size = v * (unit == 'K' ? 1024ul : unit == 'M' ? 1024ul * 1024 : 1);
    }
    fclose(f);
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", index);
    f = fopen(path, "r");
    if (!f || fscanf(f, "%d", level) != 1) *level = 0;
    if (f) fclose(f);
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", index);
    f = fopen(path, "r");
    type[0] = '\0';
    if (f) {
        if (fgets(type, (int)typelen, f)) type[strcspn(type, "\n")] = '\0';
        fclose(f);
    }
    return size;
}

static graft_cpu_info cpu_info;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void probe(void) {
    graft_cpu_info *ci = &cpu_info;
    struct utsname u;
    if (uname(&u) == 0) snprintf(ci->arch, sizeof ci->arch, "%.15s", u.machine);
#if defined(__x86_64__)
    /* The binary's architecture decides which kernels exist, whatever uname says. */
    snprintf(ci->arch, sizeof ci->arch, "x86_64");
    probe_x86(ci);
#elif defined(__aarch64__)
    snprintf(ci->arch, sizeof ci->arch, "aarch64");
    ci->has_neon = 1; /* Advanced SIMD is mandatory in ARMv8-A */
#endif
    for (int i = 0; i < 8; i++) {
        int level;
        char type[32];
        size_t s = read_cache_size(i, &level, type, sizeof type);
        if (!s) continue;
        if (level == 1 && strcmp(type, "Instruction") != 0) ci->l1d_bytes = s;
        if (level == 2) ci->l2_bytes = s;
        if (level == 3) ci->l3_bytes = s;
    }
#if defined(_SC_LEVEL1_DCACHE_SIZE)
    /* Virtual machines often hide sysfs cache nodes; glibc then answers from cpuid. */
    long v;
    if (!ci->l1d_bytes && (v = sysconf(_SC_LEVEL1_DCACHE_SIZE)) > 0) ci->l1d_bytes = (size_t)v;
    if (!ci->l2_bytes && (v = sysconf(_SC_LEVEL2_CACHE_SIZE)) > 0) ci->l2_bytes = (size_t)v;
    if (!ci->l3_bytes && (v = sysconf(_SC_LEVEL3_CACHE_SIZE)) > 0) ci->l3_bytes = (size_t)v;
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    ci->cores = n > 0 ? (int)n : 1;
}

const graft_cpu_info *graft__cpu(void) {
    pthread_once(&cpu_once, probe);
    return &cpu_info;
}

void graft_cpu_get_info(graft_cpu_info *out) { *out = *graft__cpu(); }

int graft_isa_available(graft_isa isa) {
    const graft_cpu_info *ci = graft__cpu();
    switch (isa) {
    case GRAFT_ISA_AUTO:
    case GRAFT_ISA_SCALAR: return 1;
    case GRAFT_ISA_AVX2: return ci->has_avx2_fma;
    case GRAFT_ISA_AVX512: return ci->has_avx512;
    case GRAFT_ISA_NEON: return ci->has_neon;
    default: return 0;
    }
}
