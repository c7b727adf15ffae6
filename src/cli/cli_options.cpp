#include "cli/cli_options.h"

#include "core/error.h"

namespace tg {

bool parse_options(cxxopts::Options& options, int argc, const char* const* argv, cxxopts::ParseResult& result,
                   std::ostream& out) {
  options.add_options()("h,help", "Show this help");
  try {
    result = options.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    throw UserError(options.program() + ": " + e.what() + " (see --help)");
  }
  if (result.count("help")) {
    out << options.help() << "\n";
    return false;
  }
  if (!result.unmatched().empty())
    throw UserError(options.program() + ": unexpected argument \"" + result.unmatched().front() + "\" (see --help)");
  return true;
}

void require_flag(const cxxopts::ParseResult& result, const std::string& command, const std::string& flag) {
  if (!result.count(flag)) throw UserError("tokengrow " + command + ": --" + flag + " is required (see --help)");
}

}  // namespace tg
