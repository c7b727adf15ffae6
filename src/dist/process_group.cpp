#include "dist/process_group.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/error.h"
#ifdef TOKENGROW_WITH_MPI
#include "dist/mpi_communicator.h"
#endif

namespace tg {

namespace {
int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}
bool launched_by_mpirun() { return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE"); }
}  // namespace

ProcessGroup::ProcessGroup(int& argc, char**& argv) {
#ifdef TOKENGROW_WITH_MPI
  if (launched_by_mpirun()) {
    start_mpi(argc, argv);
    mpi_started_ = true;
    communicator_ = std::make_unique<MpiCommunicator>();
    return;
  }
#else
  (void)argc;
  (void)argv;
  if (launched_by_mpirun() && env_int("OMPI_COMM_WORLD_SIZE", 1) > 1)
    throw UserError("tokengrow was built without MPI, but mpirun started it as one of " +
                    std::to_string(env_int("OMPI_COMM_WORLD_SIZE", 1)) +
                    " ranks: install libopenmpi-dev and rebuild (scripts/build.sh), or run it alone");
#endif
  communicator_ = std::make_unique<SoloCommunicator>();
}

ProcessGroup::~ProcessGroup() {
#ifdef TOKENGROW_WITH_MPI
  communicator_.reset();
  if (mpi_started_) stop_mpi();
#endif
}

void ProcessGroup::abort(int code) {
#ifdef TOKENGROW_WITH_MPI
  if (mpi_started_ && communicator_->size() > 1) abort_mpi(code);
#endif
  (void)code;
}

bool ProcessGroup::built_with_mpi() {
#ifdef TOKENGROW_WITH_MPI
  return true;
#else
  return false;
#endif
}

std::string ProcessGroup::mpi_description() {
#ifdef TOKENGROW_WITH_MPI
  return "MPI (" + mpi_library_version() + ")";
#else
  return "no MPI";
#endif
}

int ProcessGroup::local_ranks() { return std::max(1, env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1)); }

}  // namespace tg
