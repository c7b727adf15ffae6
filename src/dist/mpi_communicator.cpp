#include "dist/mpi_communicator.h"

#include <mpi.h>

#include <climits>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace tg {

namespace {
// MPI counts are int: a larger buffer goes in pieces of at most this many elements.
constexpr size_t kMaxCount = size_t{1} << 30;

template <typename T>
void allgather_as(std::span<const T> mine, std::span<T> all, MPI_Datatype type, int size) {
  if (all.size() != mine.size() * static_cast<size_t>(size))
    throw std::invalid_argument("allgather: the output holds " + std::to_string(all.size()) + " elements, not " +
                                std::to_string(size) + " x " + std::to_string(mine.size()));
  if (mine.size() > kMaxCount) throw std::invalid_argument("allgather: more than 2^30 elements per rank");
  MPI_Allgather(mine.data(), static_cast<int>(mine.size()), type, all.data(), static_cast<int>(mine.size()), type,
                MPI_COMM_WORLD);
}
}  // namespace

void start_mpi(int& argc, char**& argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);  // only the main thread calls MPI
  if (provided < MPI_THREAD_FUNNELED) {
    std::fprintf(stderr, "error: this MPI library offers no MPI_THREAD_FUNNELED (OpenMP threads beside MPI)\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
}

void stop_mpi() { MPI_Finalize(); }

void abort_mpi(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string version(text, static_cast<size_t>(length));
  const size_t end = version.find_first_of(",\n");
  return end == std::string::npos ? version : version.substr(0, end);
}

MpiCommunicator::MpiCommunicator() {
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

void MpiCommunicator::allreduce_sum(std::span<float> data) {
  for (size_t at = 0; at < data.size(); at += kMaxCount) {
    const int n = static_cast<int>(std::min(kMaxCount, data.size() - at));
    MPI_Allreduce(MPI_IN_PLACE, data.data() + at, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
}

void MpiCommunicator::allgather(std::span<const float> mine, std::span<float> all) {
  allgather_as(mine, all, MPI_FLOAT, size_);
}
void MpiCommunicator::allgather(std::span<const double> mine, std::span<double> all) {
  allgather_as(mine, all, MPI_DOUBLE, size_);
}
void MpiCommunicator::allgather(std::span<const uint64_t> mine, std::span<uint64_t> all) {
  allgather_as(mine, all, MPI_UINT64_T, size_);
}

void MpiCommunicator::broadcast(std::string& text, int root) {
  uint64_t length = text.size();
  MPI_Bcast(&length, 1, MPI_UINT64_T, root, MPI_COMM_WORLD);
  if (length > kMaxCount) throw std::invalid_argument("broadcast: a text of more than 2^30 bytes");
  text.resize(length);
  MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, root, MPI_COMM_WORLD);
}

}  // namespace tg
