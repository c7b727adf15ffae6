#pragma once
// The Communicator over MPI_COMM_WORLD (compiled only with MPI). Errors in MPI end
// the job (MPI_ERRORS_ARE_FATAL, MPI's default): mpirun then stops every rank.
#include <string>

#include "core/communicator.h"

namespace tg {

void start_mpi(int& argc, char**& argv);
void stop_mpi();
[[noreturn]] void abort_mpi(int code);
std::string mpi_library_version();  // "Open MPI v4.1.4" (the first line MPI reports)

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator();
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(std::span<float> data) override;
  void allgather(std::span<const float> mine, std::span<float> all) override;
  void allgather(std::span<const double> mine, std::span<double> all) override;
  void allgather(std::span<const uint64_t> mine, std::span<uint64_t> all) override;
  void broadcast(std::string& text, int root) override;

 private:
  int rank_ = 0, size_ = 1;
};

}  // namespace tg
