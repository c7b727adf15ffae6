#pragma once
// Collectives that end in bounded time, and say who stopped answering (compiled only
// with MPI). A rank entering collective k first announces k to every other rank: one
// small message each, on a communicator of its own. While it waits for the collective,
// it notes when each peer's latest announcement came. A collective that has not
// completed `timeout` seconds after it began throws PeerLost naming the ranks (and
// hosts) that never announced k and when each was last heard from, or, when all did,
// that the transfer itself stalled. Why announcements: a blocked MPI collective tells
// nothing of which peer it waits for, and a silent partition (no reset, no error)
// leaves TCP retrying for a quarter of an hour.
#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <list>
#include <string>
#include <vector>

namespace tg {

class PeerWatch {
 public:
  using Clock = std::chrono::steady_clock;
  PeerWatch(int rank, int size, double timeout_seconds);
  ~PeerWatch();
  PeerWatch(const PeerWatch&) = delete;
  PeerWatch& operator=(const PeerWatch&) = delete;

  void set_timeout(double seconds) { timeout_seconds_ = seconds; }
  double timeout() const { return timeout_seconds_; }
  // The ranks' host names, for messages (gathered once the communicator is up).
  void set_hosts(std::vector<std::string> hosts) { hosts_ = std::move(hosts); }

  // Announces the next collective to every peer; call before starting it.
  void announce();
  // Drives `request` (a non-blocking collective of MPI_COMM_WORLD) to completion, or
  // throws PeerLost after the timeout. `what` describes it ("an all-reduce of 14400 floats").
  void wait(MPI_Request& request, const std::string& what);

 private:
  struct Heard {
    uint64_t collective = 0;  // the latest collective the peer announced (0: none yet)
    std::chrono::system_clock::time_point at;
  };
  struct PendingSend {
    MPI_Request request = MPI_REQUEST_NULL;
    uint64_t collective = 0;  // the buffer MPI reads until the send completes
  };
  void post_receive(int peer);
  void poll();
  std::string lost_message(const std::string& what, std::chrono::system_clock::time_point since) const;
  std::string rank_name(int r) const;

  int rank_, size_;
  double timeout_seconds_;
  MPI_Comm channel_ = MPI_COMM_NULL;  // a duplicate of MPI_COMM_WORLD for announcements only
  uint64_t collective_ = 0;           // this rank's latest announced collective
  std::vector<std::string> hosts_;
  std::vector<Heard> heard_;
  std::vector<uint64_t> inbox_;       // one posted receive per peer
  std::vector<MPI_Request> receives_;
  std::list<PendingSend> sends_;      // a list: MPI holds pointers into its nodes
};

}  // namespace tg
