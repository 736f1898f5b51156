#include "mpishim.h"
MPI_Comm     mpishim_comm_world(void)    { return MPI_COMM_WORLD; }
MPI_Comm     mpishim_comm_null(void)     { return MPI_COMM_NULL; }
MPI_Datatype mpishim_float(void)         { return MPI_FLOAT; }
MPI_Datatype mpishim_double(void)        { return MPI_DOUBLE; }
MPI_Datatype mpishim_int(void)           { return MPI_INT; }
MPI_Datatype mpishim_int64(void)         { return MPI_INT64_T; }
MPI_Datatype mpishim_byte(void)          { return MPI_BYTE; }
MPI_Op       mpishim_sum(void)           { return MPI_SUM; }
MPI_Op       mpishim_max(void)           { return MPI_MAX; }
MPI_Op       mpishim_min(void)           { return MPI_MIN; }
void        *mpishim_in_place(void)      { return MPI_IN_PLACE; }
MPI_Status  *mpishim_status_ignore(void) { return MPI_STATUS_IGNORE; }
MPI_Request  mpishim_request_null(void)  { return MPI_REQUEST_NULL; }
MPI_Errhandler mpishim_errors_return(void) { return MPI_ERRORS_RETURN; }
