#include "dist/peer_watch.h"

#include <cmath>
#include <ctime>
#include <sstream>
#include <thread>

#include "core/communicator.h"

namespace tg {

namespace {
constexpr int kAnnounceTag = 7;

std::string clock_time(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M:%S", &local);
  return text;
}

// Polling: a non-blocking collective moves only while it is tested, so the first second
// is a tight loop (as a blocking MPI call would spin; sleeping between tests made a 17 MB
// all-reduce several times slower), and a longer wait (rank 0 writing a checkpoint)
// sleeps 1 ms between tests so that it costs no core.
void pause_after(PeerWatch::Clock::duration waited) {
  if (waited > std::chrono::seconds(1)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}
}  // namespace

PeerWatch::PeerWatch(int rank, int size, double timeout_seconds)
    : rank_(rank), size_(size), timeout_seconds_(timeout_seconds), hosts_(size, "?"),
      heard_(size, Heard{0, std::chrono::system_clock::now()}), inbox_(size), receives_(size, MPI_REQUEST_NULL) {
  MPI_Comm_dup(MPI_COMM_WORLD, &channel_);
  for (int peer = 0; peer < size_; ++peer)
    if (peer != rank_) post_receive(peer);
}

PeerWatch::~PeerWatch() {
  for (MPI_Request& r : receives_)
    if (r != MPI_REQUEST_NULL) {
      MPI_Cancel(&r);
      MPI_Request_free(&r);
    }
  for (PendingSend& s : sends_)
    if (s.request != MPI_REQUEST_NULL) MPI_Request_free(&s.request);  // completes on its own
  if (channel_ != MPI_COMM_NULL) MPI_Comm_free(&channel_);
}

void PeerWatch::post_receive(int peer) {
  MPI_Irecv(&inbox_[peer], 1, MPI_UINT64_T, peer, kAnnounceTag, channel_, &receives_[peer]);
}

void PeerWatch::announce() {
  ++collective_;
  for (int peer = 0; peer < size_; ++peer) {
    if (peer == rank_) continue;
    PendingSend& send = sends_.emplace_back(PendingSend{MPI_REQUEST_NULL, collective_});
    MPI_Isend(&send.collective, 1, MPI_UINT64_T, peer, kAnnounceTag, channel_, &send.request);
  }
}

void PeerWatch::poll() {
  for (int peer = 0; peer < size_; ++peer) {
    if (peer == rank_) continue;
    for (int done = 1; done;) {
      MPI_Test(&receives_[peer], &done, MPI_STATUS_IGNORE);
      if (!done) break;
      heard_[peer] = Heard{inbox_[peer], std::chrono::system_clock::now()};
      post_receive(peer);
    }
  }
  for (auto it = sends_.begin(); it != sends_.end();) {
    int done = 0;
    MPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
    it = done ? sends_.erase(it) : std::next(it);
  }
}

void PeerWatch::wait(MPI_Request& request, const std::string& what) {
  const Clock::time_point start = Clock::now();
  const auto since = std::chrono::system_clock::now();
  for (;;) {
    int done = 0;
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    poll();
    if (done) return;
    const Clock::duration waited = Clock::now() - start;
    if (timeout_seconds_ > 0 && waited > std::chrono::duration<double>(timeout_seconds_))
      throw PeerLost(lost_message(what, since));
    pause_after(waited);
  }
}

std::string PeerWatch::rank_name(int r) const {
  return "rank " + std::to_string(r) + " (host " + hosts_[r] + ")";
}

std::string PeerWatch::lost_message(const std::string& what, std::chrono::system_clock::time_point since) const {
  std::ostringstream m;
  const auto now = std::chrono::system_clock::now();
  std::vector<int> silent;
  for (int peer = 0; peer < size_; ++peer)
    if (peer != rank_ && heard_[peer].collective < collective_) silent.push_back(peer);
  for (int peer : silent) {
    const double quiet = std::chrono::duration<double>(now - heard_[peer].at).count();
    m << rank_name(peer) << " stopped answering: last heard from at " << clock_time(heard_[peer].at) << " ("
      << std::lround(quiet) << " s ago, collective " << heard_[peer].collective << "); ";
  }
  if (silent.empty())
    m << "every rank reached collective " << collective_ << ", but it did not complete: a link between them went "
      << "down or is too slow; ";
  m << rank_name(rank_) << " of " << size_ << " waited from " << clock_time(since) << " in collective "
    << collective_ << " (" << what << ") for the peer timeout of " << timeout_seconds_ << " s (--peer-timeout)";
  return m.str();
}

}  // namespace tg
