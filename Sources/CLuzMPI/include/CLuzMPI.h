#ifndef CLUZMPI_H
#define CLUZMPI_H
// The few MPI calls Luz's data-parallel training needs, as plain C functions: MPI's handles
// (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM) are macros that Swift cannot see. Built against Open MPI
// when the package's MPI trait is on; without it every call reports that MPI is absent
// (LUZ_MPI_UNAVAILABLE), so the default build needs no MPI.
//
// Every call returns 0 on success or an MPI error code (errors are returned, not fatal: the
// world communicator's error handler is MPI_ERRORS_RETURN); luz_mpi_error_text describes one.

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Returned by every call of a build without the MPI trait.
#define LUZ_MPI_UNAVAILABLE (-1)
/// Returned for a request slot out of range or a count too large for one MPI call.
#define LUZ_MPI_BAD_ARGUMENT (-2)
/// The number of reductions that may be in flight at once.
#define LUZ_MPI_MAX_REQUESTS 256

/// 1 when built with MPI, 0 otherwise.
int luz_mpi_is_built(void);
/// Initializes MPI once (MPI_THREAD_FUNNELED: only the initializing thread calls MPI) and
/// gives this process's rank and the number of processes.
int luz_mpi_initialize(int *rank, int *size);
/// Finalizes MPI if it was initialized and not yet finalized.
int luz_mpi_finalize(void);
/// Sums `count` floats (or doubles) in place across all processes.
int luz_mpi_allreduce_sum_float(float *values, long count);
int luz_mpi_allreduce_sum_double(double *values, long count);
/// Starts such a sum without waiting (MPI_Iallreduce), in request slot `slot`.
int luz_mpi_start_allreduce_sum_float(float *values, long count, int slot);
int luz_mpi_start_allreduce_sum_double(double *values, long count, int slot);
/// Waits for the reduction in `slot`.
int luz_mpi_wait(int slot);
/// Lets MPI progress the reduction in `slot` without waiting (MPI_Test); `*done` is set to 1
/// once it has completed (the slot is then free, and luz_mpi_wait returns at once).
int luz_mpi_test(int slot, int *done);
/// Replaces `count` bytes on every process by those of `root`.
int luz_mpi_broadcast(void *bytes, long count, int root);
/// Returns once every process has called it.
int luz_mpi_barrier(void);
/// Ends every process of the job with `code` (MPI_Abort); returns only without MPI.
int luz_mpi_abort(int code);
/// The text of an MPI error code, into `buffer` of `capacity` bytes.
void luz_mpi_error_text(int code, char *buffer, int capacity);

#ifdef __cplusplus
}
#endif

#endif
