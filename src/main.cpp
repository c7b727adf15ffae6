#include <cstdlib>
#include <iostream>

#include "cli/cli.h"
#include "core/error.h"
#include "dist/process_group.h"

// One process, or one rank of an mpirun job (dist/process_group.h): a rank that fails
// ends the whole job at once, so no other rank waits for it in a collective.
int main(int argc, char** argv) {
  try {
    tg::ProcessGroup group(argc, argv);
    const int code = tg::run_cli(argc, argv, std::cout, std::cerr, group.communicator());
    if (code != 0) group.abort(code);
    return code;
  } catch (const tg::UserError& e) {  // the process group could not start
    std::cerr << std::string("error: ") + e.what() + "\n";  // one write: ranks' lines never interleave
    return 2;
  } catch (const tg::PeerLost& e) {  // the ranks lost each other while starting
    std::cerr << std::string("error: ") + e.what() + "\n";
    std::_Exit(tg::kExitPeerLost);  // MPI is up, but its peers are out of reach: no MPI_Finalize
  }
}
