#include "dist/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

namespace tg {

namespace {
// MPI counts are int: a larger buffer goes in pieces of at most this many elements.
constexpr size_t kMaxCount = size_t{1} << 30;

// Seconds MPI_Abort gets to end the job before this process ends itself.
constexpr int kAbortGraceSeconds = 10;

std::string processor_name() {
  char name[MPI_MAX_PROCESSOR_NAME];
  int length = 0;
  MPI_Get_processor_name(name, &length);
  return std::string(name, static_cast<size_t>(length));
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
  std::thread([code] {
    std::this_thread::sleep_for(std::chrono::seconds(kAbortGraceSeconds));
    std::_Exit(code);
  }).detach();
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
  watch_ = std::make_unique<PeerWatch>(rank_, size_, kDefaultPeerTimeoutSeconds);
  // Host names for the watch's messages, padded to one length for the gather.
  std::string mine = processor_name();
  mine.resize(MPI_MAX_PROCESSOR_NAME, '\0');
  std::string all(mine.size() * static_cast<size_t>(size_), '\0');
  watch_->announce();
  MPI_Request request;
  MPI_Iallgather(mine.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR,
                 MPI_COMM_WORLD, &request);
  watch_->wait(request, "the exchange of host names at start-up");
  std::vector<std::string> hosts;
  for (int r = 0; r < size_; ++r) hosts.emplace_back(all.c_str() + static_cast<size_t>(r) * MPI_MAX_PROCESSOR_NAME);
  watch_->set_hosts(std::move(hosts));
}

MpiCommunicator::~MpiCommunicator() = default;

void MpiCommunicator::allreduce_sum(std::span<float> data) {
  for (size_t at = 0; at < data.size(); at += kMaxCount) {
    const int n = static_cast<int>(std::min(kMaxCount, data.size() - at));
    watch_->announce();
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, data.data() + at, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request);
    watch_->wait(request, "an all-reduce of " + std::to_string(n) + " floats");
  }
}

template <typename T>
void MpiCommunicator::allgather_as(std::span<const T> mine, std::span<T> all, MPI_Datatype type) {
  if (all.size() != mine.size() * static_cast<size_t>(size_))
    throw std::invalid_argument("allgather: the output holds " + std::to_string(all.size()) + " elements, not " +
                                std::to_string(size_) + " x " + std::to_string(mine.size()));
  if (mine.size() > kMaxCount) throw std::invalid_argument("allgather: more than 2^30 elements per rank");
  watch_->announce();
  MPI_Request request;
  MPI_Iallgather(mine.data(), static_cast<int>(mine.size()), type, all.data(), static_cast<int>(mine.size()), type,
                 MPI_COMM_WORLD, &request);
  watch_->wait(request, "an all-gather of " + std::to_string(mine.size()) + " values per rank");
}

void MpiCommunicator::allgather(std::span<const float> mine, std::span<float> all) { allgather_as(mine, all, MPI_FLOAT); }
void MpiCommunicator::allgather(std::span<const double> mine, std::span<double> all) {
  allgather_as(mine, all, MPI_DOUBLE);
}
void MpiCommunicator::allgather(std::span<const uint64_t> mine, std::span<uint64_t> all) {
  allgather_as(mine, all, MPI_UINT64_T);
}

void MpiCommunicator::broadcast(std::string& text, int root) {
  uint64_t length = text.size();
  watch_->announce();
  MPI_Request request;
  MPI_Ibcast(&length, 1, MPI_UINT64_T, root, MPI_COMM_WORLD, &request);
  watch_->wait(request, "a broadcast from rank " + std::to_string(root));
  if (length > kMaxCount) throw std::invalid_argument("broadcast: a text of more than 2^30 bytes");
  text.resize(length);
  watch_->announce();
  MPI_Ibcast(text.data(), static_cast<int>(length), MPI_CHAR, root, MPI_COMM_WORLD, &request);
  watch_->wait(request, "a broadcast of " + std::to_string(length) + " bytes from rank " + std::to_string(root));
}

}  // namespace tg
