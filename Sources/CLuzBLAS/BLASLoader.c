// Opening a BLAS library at run time. Which names are tried, and in what order, is decided in
// Swift (LuzTensor's BLASBackend); this file only opens one and checks what it exports.
#define _GNU_SOURCE
#include "CLuzBLAS.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy_string(char *destination, size_t capacity, const char *source) {
    if (capacity == 0) return;
    snprintf(destination, capacity, "%s", source ? source : "");
}

// Each library's way of choosing how many threads its products use. Luz runs the library on
// one thread: Luz splits large products across its own threads, and a library's idle workers
// spinning after each product would take the cores from Luz's elementwise threads.
static void use_one_thread(void *handle) {
    void (*openblas)(int) = (void (*)(int))dlsym(handle, "openblas_set_num_threads");
    if (openblas) { openblas(1); return; }
    void (*blis)(long) = (void (*)(long))dlsym(handle, "bli_thread_set_num_threads");
    if (blis) { blis(1); return; }
    int (*mkl)(int) = (int (*)(int))dlsym(handle, "MKL_Set_Num_Threads_Local");
    if (mkl) { mkl(1); return; }
    void (*mkl_global)(int) = (void (*)(int))dlsym(handle, "MKL_Set_Num_Threads");
    if (mkl_global) mkl_global(1);
}

// OpenBLAS starts its worker threads while it loads, as many as OPENBLAS_NUM_THREADS says (the
// cores by default), and they spin for a while before they sleep, taking the cores from Luz's
// threads although Luz never uses them. So the library is opened with one thread asked for,
// and the caller's environment is put back once it has read it.
static void *open_with_one_thread(const char *name) {
    static const char *const variables[] = {"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS"};
    enum { COUNT = sizeof variables / sizeof variables[0] };
    char *saved[COUNT];
    for (int i = 0; i < COUNT; i++) {
        const char *value = getenv(variables[i]);
        saved[i] = value ? strdup(value) : NULL;
        setenv(variables[i], "1", 1);
    }
    void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    for (int i = 0; i < COUNT; i++) {
        if (saved[i]) {
            setenv(variables[i], saved[i], 1);
            free(saved[i]);
        } else {
            unsetenv(variables[i]);
        }
    }
    return handle;
}

int luz_blas_open(const char *name, luz_blas_library *library, char *reason, size_t reason_capacity) {
    memset(library, 0, sizeof *library);
    copy_string(reason, reason_capacity, "");
    dlerror();
    void *handle = open_with_one_thread(name);
    if (!handle) {
        const char *error = dlerror();
        copy_string(reason, reason_capacity, error ? error : "cannot be opened");
        return 0;
    }
    luz_cblas_sgemm_fn sgemm = (luz_cblas_sgemm_fn)dlsym(handle, "cblas_sgemm");
    luz_cblas_dgemm_fn dgemm = (luz_cblas_dgemm_fn)dlsym(handle, "cblas_dgemm");
    if (!sgemm || !dgemm) {
        snprintf(reason, reason_capacity, "opens but has no %s (not a C BLAS interface)",
                 sgemm ? "cblas_dgemm" : "cblas_sgemm");
        dlclose(handle);
        return 0;
    }
    library->handle = handle;
    library->sgemm = sgemm;
    library->dgemm = dgemm;
    Dl_info info;
    if (dladdr((void *)sgemm, &info) && info.dli_fname) {
        copy_string(library->path, sizeof library->path, info.dli_fname);
    }
    const char *(*config)(void) = (const char *(*)(void))dlsym(handle, "openblas_get_config");
    if (config) copy_string(library->config, sizeof library->config, config());
    use_one_thread(handle);
    return 1;
}
