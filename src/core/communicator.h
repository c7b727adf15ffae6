#pragma once
// The processes a data-parallel run trains with, as the trainer sees them: this
// process's rank among size() ranks and the few collectives it needs. Every call is
// collective: each rank makes it, in the same order, with the same sizes.
// SoloCommunicator is one process alone (nothing to exchange); the MPI one is in
// src/dist/.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

namespace tg {

// A collective that did not complete within the peer timeout: a rank or the link to it
// is gone. The message names who stopped answering and since when; the CLI exits
// with code 4 (cli/cli.h).
class PeerLost : public std::runtime_error {
 public:
  explicit PeerLost(const std::string& message) : std::runtime_error(message) {}
};

// How long a rank waits in a collective for the others before PeerLost, unless
// --peer-timeout says otherwise: far above the longest wait a healthy job has (rank 0
// writing a checkpoint or evaluating while the others wait; docs/distributed.md).
inline constexpr double kDefaultPeerTimeoutSeconds = 300;

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // data = the element-wise sum of every rank's data (any order of addition).
  virtual void allreduce_sum(std::span<float> data) = 0;
  // all = every rank's mine, rank after rank (all.size() == size() * mine.size()).
  virtual void allgather(std::span<const float> mine, std::span<float> all) = 0;
  virtual void allgather(std::span<const double> mine, std::span<double> all) = 0;
  virtual void allgather(std::span<const uint64_t> mine, std::span<uint64_t> all) = 0;
  // text becomes rank `root`'s on every rank.
  virtual void broadcast(std::string& text, int root = 0) = 0;
  // Seconds a collective may wait for the other ranks before it throws PeerLost (0: forever).
  virtual void set_peer_timeout(double seconds) = 0;
};

class SoloCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(std::span<float>) override {}
  void allgather(std::span<const float> mine, std::span<float> all) override { copy(mine, all); }
  void allgather(std::span<const double> mine, std::span<double> all) override { copy(mine, all); }
  void allgather(std::span<const uint64_t> mine, std::span<uint64_t> all) override { copy(mine, all); }
  void broadcast(std::string&, int) override {}
  void set_peer_timeout(double) override {}

 private:
  template <typename T>
  static void copy(std::span<const T> from, std::span<T> to) {
    for (size_t i = 0; i < from.size() && i < to.size(); ++i) to[i] = from[i];
  }
};

}  // namespace tg
