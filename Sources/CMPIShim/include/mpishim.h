#ifndef VQA_MPISHIM_H
#define VQA_MPISHIM_H
#include <mpi.h>
// OpenMPI's predefined handles are cast macros ((MPI_Comm)&ompi_mpi_comm_world): Swift cannot import them.
MPI_Comm     mpishim_comm_world(void);
MPI_Comm     mpishim_comm_null(void);
MPI_Datatype mpishim_float(void);
MPI_Datatype mpishim_double(void);
MPI_Datatype mpishim_int(void);
MPI_Datatype mpishim_int64(void);
MPI_Datatype mpishim_byte(void);
MPI_Op       mpishim_sum(void);
MPI_Op       mpishim_max(void);
MPI_Op       mpishim_min(void);
void        *mpishim_in_place(void);
MPI_Status  *mpishim_status_ignore(void);
MPI_Request  mpishim_request_null(void);
MPI_Errhandler mpishim_errors_return(void);
#endif
