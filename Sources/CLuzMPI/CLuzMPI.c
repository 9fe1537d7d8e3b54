#include "CLuzMPI.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#ifdef LUZ_MPI
#include <mpi.h>

static MPI_Request requests[LUZ_MPI_MAX_REQUESTS];

int luz_mpi_is_built(void) { return 1; }

int luz_mpi_initialize(int *rank, int *size) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        int provided = 0;
        int status = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (status != MPI_SUCCESS) return status;
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        for (int i = 0; i < LUZ_MPI_MAX_REQUESTS; i++) requests[i] = MPI_REQUEST_NULL;
    }
    int status = MPI_Comm_rank(MPI_COMM_WORLD, rank);
    if (status != MPI_SUCCESS) return status;
    return MPI_Comm_size(MPI_COMM_WORLD, size);
}

int luz_mpi_finalize(void) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized) return 0;
    return MPI_Finalize();
}

int luz_mpi_allreduce_sum_float(float *values, long count) {
    if (count < 0 || count > INT_MAX) return LUZ_MPI_BAD_ARGUMENT;
    return MPI_Allreduce(MPI_IN_PLACE, values, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

int luz_mpi_allreduce_sum_double(double *values, long count) {
    if (count < 0 || count > INT_MAX) return LUZ_MPI_BAD_ARGUMENT;
    return MPI_Allreduce(MPI_IN_PLACE, values, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

int luz_mpi_start_allreduce_sum_float(float *values, long count, int slot) {
    if (count < 0 || count > INT_MAX || slot < 0 || slot >= LUZ_MPI_MAX_REQUESTS) return LUZ_MPI_BAD_ARGUMENT;
    return MPI_Iallreduce(MPI_IN_PLACE, values, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &requests[slot]);
}

int luz_mpi_start_allreduce_sum_double(double *values, long count, int slot) {
    if (count < 0 || count > INT_MAX || slot < 0 || slot >= LUZ_MPI_MAX_REQUESTS) return LUZ_MPI_BAD_ARGUMENT;
    return MPI_Iallreduce(MPI_IN_PLACE, values, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &requests[slot]);
}

int luz_mpi_wait(int slot) {
    if (slot < 0 || slot >= LUZ_MPI_MAX_REQUESTS) return LUZ_MPI_BAD_ARGUMENT;
    return MPI_Wait(&requests[slot], MPI_STATUS_IGNORE);
}

int luz_mpi_test(int slot, int *done) {
    if (slot < 0 || slot >= LUZ_MPI_MAX_REQUESTS) return LUZ_MPI_BAD_ARGUMENT;
    return MPI_Test(&requests[slot], done, MPI_STATUS_IGNORE);
}

int luz_mpi_broadcast(void *bytes, long count, int root) {
    char *cursor = bytes;
    while (count > 0) {  // MPI counts are int: large buffers go in pieces
        int piece = count > INT_MAX ? INT_MAX : (int)count;
        int status = MPI_Bcast(cursor, piece, MPI_BYTE, root, MPI_COMM_WORLD);
        if (status != MPI_SUCCESS) return status;
        cursor += piece;
        count -= piece;
    }
    return 0;
}

int luz_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

int luz_mpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }

void luz_mpi_error_text(int code, char *buffer, int capacity) {
    if (capacity <= 0) return;
    if (code == LUZ_MPI_BAD_ARGUMENT) {
        snprintf(buffer, (size_t)capacity, "a count or request slot out of range");
        return;
    }
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) snprintf(text, sizeof text, "MPI error %d", code);
    snprintf(buffer, (size_t)capacity, "%s", text);
}

#else

int luz_mpi_is_built(void) { return 0; }
int luz_mpi_initialize(int *rank, int *size) { *rank = 0; *size = 1; return LUZ_MPI_UNAVAILABLE; }
int luz_mpi_finalize(void) { return 0; }
int luz_mpi_allreduce_sum_float(float *values, long count) { (void)values; (void)count; return LUZ_MPI_UNAVAILABLE; }
int luz_mpi_allreduce_sum_double(double *values, long count) { (void)values; (void)count; return LUZ_MPI_UNAVAILABLE; }
int luz_mpi_start_allreduce_sum_float(float *values, long count, int slot) { (void)values; (void)count; (void)slot; return LUZ_MPI_UNAVAILABLE; }
int luz_mpi_start_allreduce_sum_double(double *values, long count, int slot) { (void)values; (void)count; (void)slot; return LUZ_MPI_UNAVAILABLE; }
int luz_mpi_wait(int slot) { (void)slot; return LUZ_MPI_UNAVAILABLE; }
int luz_mpi_test(int slot, int *done) { (void)slot; *done = 1; return LUZ_MPI_UNAVAILABLE; }
int luz_mpi_broadcast(void *bytes, long count, int root) { (void)bytes; (void)count; (void)root; return LUZ_MPI_UNAVAILABLE; }
int luz_mpi_barrier(void) { return LUZ_MPI_UNAVAILABLE; }
int luz_mpi_abort(int code) { (void)code; return LUZ_MPI_UNAVAILABLE; }
void luz_mpi_error_text(int code, char *buffer, int capacity) {
    if (capacity > 0) snprintf(buffer, (size_t)capacity, "Luz was built without MPI (error %d): build with `swift build --traits MPI`", code);
}

#endif
