#pragma once
// The processes of this job (dist/README.md). Made once, in main(), before anything
// else; MPI_Init and MPI_Finalize happen here and nowhere else.
#include <memory>
#include <string>

#include "core/communicator.h"

namespace tg {

class ProcessGroup {
 public:
  // Starts MPI if mpirun launched this process (its OMPI_COMM_WORLD_SIZE is set) and
  // the binary was built with MPI; a UserError if mpirun launched it but it was not.
  ProcessGroup(int& argc, char**& argv);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  Communicator& communicator() { return *communicator_; }
  // Ends every rank of the job now with `code` (MPI_Abort), so that one rank's error
  // never leaves the others waiting in a collective. Returns only when alone.
  void abort(int code);

  static bool built_with_mpi();
  // "MPI (Open MPI 4.1.4)" or "no MPI", for --version.
  static std::string mpi_description();
  // Ranks of this job on this machine (1 when alone).
  static int local_ranks();

 private:
  std::unique_ptr<Communicator> communicator_;
  [[maybe_unused]] bool mpi_started_ = false;  // unused without MPI
};

}  // namespace tg
