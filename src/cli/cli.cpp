#include "cli/cli.h"

#include <cstring>
#include <iostream>
#include <string>

#include <cxxopts.hpp>
#include <oneapi/dnnl/dnnl.hpp>

#include "core/engine.h"
#include "core/error.h"
#include "core/log.h"
#include "core/thread_count.h"
#include "dist/process_group.h"

namespace tg {

namespace {
const char* kUsage =
    "tokengrow: grow TokenFormer language models on CPU\n"
    "\n"
    "usage: tokengrow <command> [options]   (tokengrow <command> --help for each; tokengrow --version)\n"
    "       mpirun -np N tokengrow train ...   (data-parallel training, docs/distributed.md)\n"
    "\n"
    "commands:\n"
    "  prepare   tokenize text files into an HDF5 corpus with train/val splits\n"
    "  train     train a model from a config file, logging metrics and checkpoints\n"
    "  eval      loss and perplexity of a checkpoint (or packed model) on a corpus split or a text file\n"
    "  sample    generate text from a checkpoint (or packed model)\n"
    "  inspect   print a checkpoint's config, state and parameters per layer\n"
    "  grow      append parameter tokens to every Pattention layer of a checkpoint\n"
    "  experiment  run growth recipes against from-scratch baselines from one config\n"
    "  tokenize  text to a checkpoint's or corpus's token ids (JSON), or back with --decode\n"
    "  export    a checkpoint as a PyTorch state_dict (GPT-NeoX TokenFormer key names) and JSON config,\n"
    "            or a ternary/binary model as a packed inference file (--format packed)\n"
    "  import    a PyTorch state_dict and its JSON config into a checkpoint\n"
    "  bench     time training steps on synthetic tokens: tokens/s, GFLOP/s, MFU, memory, breakdown;\n"
    "            --inference: training vs packed int8 forward of a ternary/binary model\n";
}  // namespace

std::string version_text() {
  const dnnl_version_t* dnnl = dnnl_version();
  return line("tokengrow: oneDNN ", dnnl->major, ".", dnnl->minor, ".", dnnl->patch, "; built ",
              ProcessGroup::built_with_mpi() ? "with " + ProcessGroup::mpi_description() : std::string("without MPI"),
              "; bf16 matmuls ",
              Engine(1).supports_bf16() ? "available on this CPU" : "not available on this CPU (oneDNN needs AVX-512)",
              "\n");
}

int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  SoloCommunicator alone;
  return run_cli(argc, argv, out, err, alone);
}

int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err, Communicator& comm) {
  if (argc >= 2 && !std::strcmp(argv[1], "--version")) {
    out << version_text();
    return 0;
  }
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
    (argc < 2 ? err : out) << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  // The command's log: the terminal, and the log files a run or an experiment adds.
  spdlog::logger log = make_logger(out, err);
  try {
    // Before anything runs on the OpenMP threads: an unbounded OMP_NUM_THREADS crashes libgomp.
    if (const std::string bounded = bound_default_threads(); !bounded.empty()) log.warn(bounded);
    if (comm.size() > 1 && command != "train" && command != "bench" && command != "experiment")
      throw UserError("tokengrow " + shown(command) + ": under mpirun (" + std::to_string(comm.size()) +
                      " ranks) only `train`, `experiment` and `bench` run, data-parallel; run `" + shown(command) +
                      "` as one process");
    if (command == "prepare") return cmd_prepare(argc - 1, argv + 1, out, log);
    if (command == "train") return cmd_train(argc - 1, argv + 1, out, log, comm);
    if (command == "eval") return cmd_eval(argc - 1, argv + 1, out, log);
    if (command == "sample") return cmd_sample(argc - 1, argv + 1, out, log);
    if (command == "inspect") return cmd_inspect(argc - 1, argv + 1, out, log);
    if (command == "grow") return cmd_grow(argc - 1, argv + 1, out, log);
    if (command == "experiment") return cmd_experiment(argc - 1, argv + 1, out, log, comm);
    if (command == "bench") return cmd_bench(argc - 1, argv + 1, out, log, comm);
    if (command == "tokenize") return cmd_tokenize(argc - 1, argv + 1, out, log);
    if (command == "export") return cmd_export(argc - 1, argv + 1, out, log);
    if (command == "import") return cmd_import(argc - 1, argv + 1, out, log);
    err << "error: unknown command \"" << shown(command) << "\"\n\n" << kUsage;
    return 2;
  } catch (const UserError& e) {
    log.error(e.what());
    return 2;
  } catch (const PeerLost& e) {
    log.error(e.what());
    return kExitPeerLost;
  } catch (const std::bad_alloc&) {  // not a bug, and never the symptom it caused (a failed write)
    log.error("out of memory: an allocation failed (the memory this process may use is exhausted: the machine's, a "
              "cgroup limit or ulimit -v); free memory, or lower train.batch_size or the model's size");
    return 2;
  } catch (const dnnl::error& e) {
    log.critical(line("(oneDNN) ", e.what()));
    return 1;
  } catch (const std::exception& e) {
    log.critical(e.what());
    return 1;
  }
}

}  // namespace tg
