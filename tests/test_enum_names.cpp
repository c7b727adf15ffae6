// core/enum_names.h: one table of {value, name} per enum, read both ways.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "core/config_reader.h"
#include "core/enum_names.h"
#include "core/error.h"
#include "growth/growth_options.h"
#include "model/block.h"
#include "model/model_config.h"

using namespace tg;

namespace {
enum class Colour { Red, Green, Blue };
constexpr EnumNames<Colour, 3> kColourNames{"colour", {{{Colour::Red, "red"}, {Colour::Green, "green"}, {Colour::Blue, "blue"}}}};

// Every value of a table prints to its own name and parses back, and no name is used twice.
template <class E, size_t N>
void require_round_trip(const EnumNames<E, N>& names) {
  std::set<std::string> seen;
  for (const auto& [value, name] : names.names) {
    INFO(names.what << ": " << name);
    REQUIRE(names.to_string(value) == name);
    REQUIRE(names.parse(name) == value);
    REQUIRE(seen.insert(name).second);
  }
}
}  // namespace

TEST_CASE("an enum's names print and parse from one table", "[enum_names]") {
  REQUIRE(kColourNames.to_string(Colour::Green) == "green");
  REQUIRE(kColourNames.parse("blue") == Colour::Blue);
  REQUIRE(kColourNames.all() == std::vector<std::string>{"red", "green", "blue"});
  REQUIRE(kColourNames.listed() == "red, green or blue");
  REQUIRE_THROWS_MATCHES(kColourNames.parse("Red"), UserError,
                         Catch::Message("unknown colour \"Red\" (expected red, green or blue)"));
}

TEST_CASE("a config key read as an enum names the file, key and accepted values", "[enum_names][config]") {
  const nlohmann::json object = {{"colour", "mauve"}};
  ConfigReader present(object, "c.json", "paint");
  REQUIRE_THROWS_WITH(present.get_enum("colour", Colour::Red, kColourNames),
                      Catch::Contains("c.json") && Catch::Contains("paint.colour") &&
                          Catch::Contains("expected one of \"red\", \"green\", \"blue\"") && Catch::Contains("mauve"));
  ConfigReader absent(nlohmann::json::object(), "c.json", "paint");
  REQUIRE(absent.get_enum("colour", Colour::Blue, kColourNames) == Colour::Blue);
}

TEST_CASE("every enum table of the project reads back its own names", "[enum_names]") {
  require_round_trip(kPrecisionNames);
  require_round_trip(kWeightFormatNames);
  require_round_trip(kPattentionNormNames);
  require_round_trip(kRecomputeNames);
  require_round_trip(kArchitectureNames);
  require_round_trip(kTauModeNames);
  require_round_trip(kKeyInitNames);
  require_round_trip(kValueInitNames);
  require_round_trip(kTauGrowthNames);
  require_round_trip(kOptimizerGrowthNames);
  require_round_trip(kDepthInitNames);
  require_round_trip(kDepthPositionNames);
}
