// Open MPI's C interface, found through pkg-config (`ompi-c`); used only with the MPI trait.
#include <mpi.h>
