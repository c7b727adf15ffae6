// Sealed files: every HDF5 file tokengrow writes carries a whole-file CRC-32 in its
// user block, checked before HDF5 parses anything.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/sealed_file.h"
#include "test_data.h"

using namespace tg;
using tg::testing::TempDir;
namespace fs = std::filesystem;

namespace {
void fill_example(H5File& f) {
  f.set_attr("/", "format", std::string("example"));
  Tensor t({3, 5});
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = 0.25f * static_cast<float>(i);
  f.write_tensor("group/tensor", t);
  f.write_ints("ints", {1, 2, 3});
}
}  // namespace

TEST_CASE("A sealed file round-trips, shows its seal as text and leaves no temporary file", "[seal]") {
  TempDir dir("seal_round_trip");
  const std::string path = dir.file("x.h5");
  write_sealed(path, "checkpoint", fill_example);
  REQUIRE(seal_problem(path, "checkpoint").empty());
  const H5File f = open_sealed(path, "checkpoint");
  REQUIRE(f.get_attr_string("/", "format") == "example");
  REQUIRE(f.read_ints("ints") == std::vector<int64_t>{1, 2, 3});
  REQUIRE(f.read_tensor("group/tensor")[14] == 3.5f);
  const std::string head = testing::read_file(path).substr(0, 64);
  REQUIRE(head.rfind("tokengrow sealed file 1\nkind checkpoint\nbytes ", 0) == 0);
  REQUIRE(temp_files_of(path).empty());
}

TEST_CASE("Every single-byte change, truncation or extension of a sealed file is reported", "[seal]") {
  TempDir dir("seal_damage");
  const std::string good = dir.file("good.h5"), bad = dir.file("bad.h5");
  write_sealed(good, "corpus", fill_example);
  const std::string bytes = testing::read_file(good);
  REQUIRE(bytes.size() > 1000);
  // Each position changed in turn (in the seal, in HDF5 metadata, in data, in padding).
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    std::string damaged = bytes;
    damaged[pos] = static_cast<char>(damaged[pos] ^ (1 << (pos % 8)));
    testing::write_file(bad, damaged);
    INFO("byte " << pos);
    REQUIRE_FALSE(seal_problem(bad, "corpus").empty());
  }
  for (size_t len = 0; len < bytes.size(); len += 7) {
    testing::write_file(bad, bytes.substr(0, len));
    INFO("truncated to " << len);
    REQUIRE_FALSE(seal_problem(bad, "corpus").empty());
  }
  testing::write_file(bad, bytes.substr(0, bytes.size() - 100));
  REQUIRE(seal_problem(bad, "corpus").rfind("truncated: " + std::to_string(bytes.size() - 100) + " of " +
                                                std::to_string(bytes.size()) + " bytes", 0) == 0);
  testing::write_file(bad, bytes + "x");
  REQUIRE(seal_problem(bad, "corpus").find("seal says " + std::to_string(bytes.size())) != std::string::npos);
  std::string body_flip = bytes;
  body_flip[bytes.size() / 2] ^= 0x10;
  testing::write_file(bad, body_flip);
  REQUIRE(seal_problem(bad, "corpus").rfind("damaged: its contents do not match its checksum", 0) == 0);
  try {
    open_sealed(bad, "corpus");
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    REQUIRE(std::string(e.what()).rfind(bad + ": damaged", 0) == 0);
  }
}

TEST_CASE("Seal problems name what the file is and what was expected", "[seal]") {
  TempDir dir("seal_kinds");
  write_sealed(dir.file("c.h5"), "corpus", fill_example);
  REQUIRE(seal_problem(dir.file("c.h5"), "checkpoint") == "a tokengrow corpus, not a checkpoint");
  { H5File::create(dir.file("plain.h5")).write_ints("x", {1}); }
  REQUIRE(seal_problem(dir.file("plain.h5"), "checkpoint").rfind("an HDF5 file without a tokengrow seal", 0) == 0);
  testing::write_file(dir.file("empty.h5"), "");
  REQUIRE(seal_problem(dir.file("empty.h5"), "checkpoint") == "empty file; expected a tokengrow checkpoint");
  testing::write_file(dir.file("text.h5"), std::string(2000, 'a'));
  REQUIRE(seal_problem(dir.file("text.h5"), "checkpoint").find("not a tokengrow checkpoint") == 0);
  REQUIRE(seal_problem(dir.file("absent.h5"), "checkpoint") == "no such file");
  REQUIRE(seal_problem(dir.path().string(), "checkpoint") == "is a directory, not a file");
}

TEST_CASE("A failed sealed write leaves the existing file untouched and no temporary file", "[seal]") {
  TempDir dir("seal_fail");
  const std::string path = dir.file("x.h5");
  write_sealed(path, "metrics", fill_example);
  const std::string before = testing::read_file(path);
  REQUIRE_THROWS_AS(write_sealed(path, "metrics", [](H5File& f) {
                      f.write_ints("half", {1});
                      throw UserError("simulated failure");
                    }),
                    UserError);
  REQUIRE(testing::read_file(path) == before);
  REQUIRE(temp_files_of(path).empty());
  REQUIRE_THROWS_AS(write_sealed(dir.file("no_such_dir/x.h5"), "metrics", fill_example), UserError);
}

TEST_CASE("Writers of one file at once each have their own temporary file, and every published file is whole",
          "[seal][durable]") {
  TempDir dir("seal_concurrent");
  const std::string path = dir.file("x.bin");
  // Two threads rewrite the same file 40 times each, 1 MiB of one letter each time.
  // With one shared temporary name a writer truncates or renames the other's
  // half-written file: its rename fails (ENOENT) or a mixed file is published.
  auto writer = [&](char letter, std::string& error) {
    try {
      for (int i = 0; i < 40; ++i) write_file_durably(path, std::string(1 << 20, letter));
    } catch (const std::exception& e) {
      error = e.what();
    }
  };
  std::string error_a, error_b;
  std::thread a(writer, 'a', std::ref(error_a)), b(writer, 'b', std::ref(error_b));
  a.join();
  b.join();
  INFO(error_a << " | " << error_b);
  REQUIRE(error_a.empty());
  REQUIRE(error_b.empty());
  const std::string last = testing::read_file(path);
  REQUIRE((last == std::string(1 << 20, 'a') || last == std::string(1 << 20, 'b')));
  REQUIRE(temp_files_of(path).empty());
}

TEST_CASE("An exclusive publication never replaces a file, also one that appears while it is written",
          "[seal][durable]") {
  TempDir dir("seal_exclusive");
  const std::string path = dir.file("x.h5");
  write_sealed(path, "checkpoint", fill_example, Publish::Exclusive);
  REQUIRE(seal_problem(path, "checkpoint").empty());
  const std::string first = testing::read_file(path);
  try {
    write_sealed(path, "checkpoint", [](H5File& f) { f.write_ints("other", {7}); }, Publish::Exclusive);
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    REQUIRE(std::string(e.what()).find("x.h5: already exists") != std::string::npos);
  }
  REQUIRE(testing::read_file(path) == first);
  // Another writer publishes while this one is still building its file: found at
  // publication, not only by a check beforehand.
  const std::string late = dir.file("late.h5");
  try {
    write_sealed(late, "checkpoint", [&](H5File& f) {
      f.write_ints("mine", {1});
      write_file_durably(late, "the other process's file");
    }, Publish::Exclusive);
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    REQUIRE(std::string(e.what()).find("late.h5: already exists") != std::string::npos);
  }
  REQUIRE(testing::read_file(late) == "the other process's file");
  REQUIRE(temp_files_of(late).empty());
  REQUIRE(temp_files_of(path).empty());
}
