#ifndef LUZ_CBLAS_SHIM_H
#define LUZ_CBLAS_SHIM_H
// The C interface to BLAS (OpenBLAS on Linux). On Apple platforms Luz imports Accelerate instead.
#include <cblas.h>
// OpenBLAS runs its own thread pool; Luz asks how many threads it has when splitting work.
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);
#endif
