#pragma once
// The Communicator over MPI_COMM_WORLD (compiled only with MPI). Errors in MPI end
// the job (MPI_ERRORS_ARE_FATAL, MPI's default): mpirun then stops every rank. Every
// collective is non-blocking underneath, waited for with a deadline (dist/peer_watch.h).
#include <memory>
#include <string>

#include "core/communicator.h"
#include "dist/peer_watch.h"

namespace tg {

void start_mpi(int& argc, char**& argv);
void stop_mpi();
// MPI_Abort; should it not end this process within a few seconds (its mpirun is out of
// reach behind a dead link), the process exits by itself.
[[noreturn]] void abort_mpi(int code);
std::string mpi_library_version();  // "Open MPI v4.1.4" (the first line MPI reports)

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator();
  ~MpiCommunicator() override;
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(std::span<float> data) override;
  void allgather(std::span<const float> mine, std::span<float> all) override;
  void allgather(std::span<const double> mine, std::span<double> all) override;
  void allgather(std::span<const uint64_t> mine, std::span<uint64_t> all) override;
  void broadcast(std::string& text, int root) override;
  void set_peer_timeout(double seconds) override { watch_->set_timeout(seconds); }

 private:
  template <typename T>
  void allgather_as(std::span<const T> mine, std::span<T> all, MPI_Datatype type);

  int rank_ = 0, size_ = 1;
  std::unique_ptr<PeerWatch> watch_;
};

}  // namespace tg
