// core/hdf5_file.h: the HDF5 wrapper (datasets, attributes, groups, files built in memory)
// and sealed files read back by h5py.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/rng.h"
#include "core/sealed_file.h"
#include "test_data.h"
#include "user_error_check.h"

using namespace tg;
using namespace tg::testing;

namespace {
Tensor random_tensor(std::vector<int64_t> shape, uint64_t seed) {
  Tensor t(std::move(shape));
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(rng.normal() * std::exp(8.0 * rng.normal()));
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}
}  // namespace

TEST_CASE("H5File round-trips tensors bit-exactly, including scalars and empty tensors", "[hdf5]") {
  TempDir dir("h5_tensor");
  const std::string path = dir.file("t.h5");
  const Tensor a = random_tensor({3, 5, 7}, 1), b = random_tensor({4}, 2), scalar = random_tensor({}, 3);
  const Tensor empty(std::vector<int64_t>{0, 4});
  {
    H5File f = H5File::create(path);
    f.write_tensor("a", a);
    f.write_tensor("x/b", random_tensor({9}, 99));
    f.write_tensor("x/b", b);  // replaces, with a new shape
    f.write_tensor("scalar", scalar);
    f.write_tensor("empty", empty);
  }
  const H5File f = H5File::open_read(path);
  REQUIRE(same_bits(f.read_tensor("a"), a));
  REQUIRE(same_bits(f.read_tensor("/x/b"), b));
  REQUIRE(same_bits(f.read_tensor("scalar"), scalar));
  REQUIRE(f.read_tensor("empty").shape() == std::vector<int64_t>{0, 4});
  REQUIRE(f.shape("a") == std::vector<int64_t>{3, 5, 7});
  REQUIRE(f.shape("scalar").empty());
}

TEST_CASE("H5File round-trips integer datasets and converts tokens to int32", "[hdf5]") {
  TempDir dir("h5_ints");
  const std::string path = dir.file("i.h5");
  const std::vector<int64_t> ints = {0, -1, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), 42};
  const std::vector<uint64_t> uints = {0, 1, std::numeric_limits<uint64_t>::max(), 0x9E3779B97F4A7C15ull};
  const std::vector<uint8_t> bytes = {0, 1, 127, 128, 255};
  {
    H5File f = H5File::create(path);
    f.write_ints("ints", ints);
    f.write_uints("state/rng", uints);
    f.write_bytes_u8("bytes", bytes);
    f.write_ints("small", {3, 200, 70000});
    f.write_ints("none", {});
    f.write_tensor("floats", random_tensor({3}, 1));
  }
  const H5File f = H5File::open_read(path);
  REQUIRE(f.read_ints("ints") == ints);
  REQUIRE(f.read_uints("state/rng") == uints);
  REQUIRE(f.read_tokens("bytes") == std::vector<int32_t>{0, 1, 127, 128, 255});
  REQUIRE(f.read_tokens("small") == std::vector<int32_t>{3, 200, 70000});
  REQUIRE(f.read_ints("bytes") == std::vector<int64_t>{0, 1, 127, 128, 255});
  REQUIRE(f.read_ints("none").empty());
  REQUIRE(f.read_doubles("small") == std::vector<double>{3, 200, 70000});
  // Token ids from a float dataset would be silently truncated: refused.
  require_user_error([&] { f.read_tokens("floats"); }, {"i.h5", "/floats", "integer"});
}

TEST_CASE("H5File attributes of every type, on the root, groups and datasets", "[hdf5]") {
  TempDir dir("h5_attr");
  const std::string path = dir.file("a.h5");
  std::string big;
  for (int i = 0; big.size() < 10 * 1024; ++i) big += "{\"key_" + std::to_string(i) + "\": [1, 2, 3]}, ";
  {
    H5File f = H5File::create(path);
    f.set_attr("", "format", std::string("tokengrow-test"));
    f.set_attr("/", "config", big);
    f.set_attr("/", "unicode", std::string("caf\xC3\xA9 \xE2\x86\x92 ok"));
    f.set_attr("/", "empty", std::string());
    f.set_attr("/", "lr", 3e-4);
    f.set_attr("/", "nan", std::nan(""));
    f.set_attr("/", "steps", int64_t{-123456789012345});
    f.set_attr("/", "whole", 3.0);
    f.set_attr("/", "steps", int64_t{1} << 40);  // replaces
    f.write_tensor("model/w", random_tensor({2, 2}, 1));
    f.set_attr("model/w", "tau", 0.5);
    f.set_attr("model", "kind", std::string("group"));
    f.set_attr("new/group", "created", int64_t{1});  // a missing group is created
  }
  const H5File f = H5File::open_read(path);
  REQUIRE(f.get_attr_string("/", "format") == "tokengrow-test");
  REQUIRE(f.get_attr_string("", "config") == big);
  REQUIRE(f.get_attr_string("/", "unicode") == "caf\xC3\xA9 \xE2\x86\x92 ok");
  REQUIRE(f.get_attr_string("/", "empty").empty());
  REQUIRE(f.get_attr_double("/", "lr") == 3e-4);
  REQUIRE(std::isnan(f.get_attr_double("/", "nan")));
  REQUIRE(f.get_attr_int("/", "steps") == int64_t{1} << 40);
  REQUIRE(f.get_attr_double("/", "steps") == std::ldexp(1.0, 40));
  REQUIRE(f.get_attr_int("/", "whole") == 3);
  REQUIRE(f.get_attr_double("model/w", "tau") == 0.5);
  REQUIRE(f.get_attr_string("model", "kind") == "group");
  REQUIRE(f.get_attr_int("new/group", "created") == 1);
  REQUIRE(f.has_attr("/", "lr"));
  REQUIRE_FALSE(f.has_attr("/", "absent"));
  REQUIRE_FALSE(f.has_attr("no/such/object", "lr"));
  require_user_error([&] { f.get_attr_string("/", "absent"); }, {"a.h5", "absent"});
  require_user_error([&] { f.get_attr_int("/", "lr"); }, {"a.h5", "lr", "not an integer"});
  require_user_error([&] { f.get_attr_double("/", "format"); }, {"a.h5", "format", "not a number"});
  require_user_error([&] { f.get_attr_string("/", "lr"); }, {"a.h5", "lr", "not a string"});
}

TEST_CASE("H5File creates nested groups, and exists() and list() see them", "[hdf5]") {
  TempDir dir("h5_nested");
  H5File f = H5File::create(dir.file("n.h5"));
  f.write_tensor("model/layers/0/ffn/keys", random_tensor({2, 3}, 1));
  f.write_tensor("model/layers/0/ffn/values", random_tensor({2, 3}, 2));
  f.write_ints("/model/layers/1/steps", {1});
  for (const char* p : {"", "/", "model", "/model/layers", "model/layers/0/ffn", "model/layers/0/ffn/keys",
                        "model//layers/1/steps/"})
    REQUIRE(f.exists(p));
  for (const char* p : {"absent", "model/layers/2", "model/layers/2/ffn/keys", "model/layers/0/ffn/keys/deeper"})
    REQUIRE_FALSE(f.exists(p));
  REQUIRE(f.list("model/layers") == std::vector<std::string>{"0", "1"});
  REQUIRE(f.list("model/layers/0/ffn") == std::vector<std::string>{"keys", "values"});
  REQUIRE(f.list("") == std::vector<std::string>{"model"});
  require_user_error([&] { f.list("model/layers/0/ffn/keys"); }, {"n.h5", "/model/layers/0/ffn/keys", "not a group"});
  require_user_error([&] { f.read_tensor("model/layers/2/ffn/keys"); }, {"n.h5", "/model/layers/2/ffn/keys", "missing"});
  require_user_error([&] { f.read_tensor("model/layers"); }, {"n.h5", "/model/layers", "not a dataset"});
  // A moved-from file hands its handle over; the new owner keeps working.
  H5File g = std::move(f);
  REQUIRE(g.exists("model/layers/1/steps"));
  REQUIRE(g.path() == dir.file("n.h5"));
}

TEST_CASE("H5File reports missing, non-HDF5 and unwritable files in one line naming the file", "[hdf5]") {
  TempDir dir("h5_errors");
  const std::string missing = dir.file("missing_data.h5"), text = dir.file("notes_data.h5"),
                    empty = dir.file("empty_data.h5");
  write_file(text, "this is plain text, not HDF5\n");
  write_file(empty, "");
  require_user_error([&] { H5File::open_read(missing); }, {"missing_data.h5", "no such file"});
  require_user_error([&] { H5File::open_read(text); }, {"notes_data.h5", "not an HDF5 file"});
  require_user_error([&] { H5File::open_read(empty); }, {"empty_data.h5", "not an HDF5 file"});
  require_user_error([&] { H5File::open_read(dir.path().string()); }, {dir.path().string(), "directory"});
  require_user_error([&] { H5File::create(dir.file("no_dir/out.h5")); }, {"no_dir/out.h5", "does not exist"});
  REQUIRE_FALSE(H5File::is_hdf5(text));
  REQUIRE_FALSE(H5File::is_hdf5(missing));
  H5File::create(dir.file("real.h5"));
  REQUIRE(H5File::is_hdf5(dir.file("real.h5")));
}

TEST_CASE("H5File builds a file in memory whose image opens as the same file", "[hdf5]") {
  TempDir dir("h5_memory");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> many(1000);
  for (size_t i = 0; i < many.size(); ++i) many[i] = 0.25 * static_cast<double>(i);
  many[3] = nan;
  const Tensor t = random_tensor({3, 4}, 1);
  std::vector<char> image;
  {
    H5File f = H5File::create_in_memory("memory.h5", 512);
    f.write_doubles("logs/loss", many);
    f.write_doubles("logs/empty", {});
    f.write_tensor("t", t);
    image = f.image();
  }
  // On disk: the 512-byte user block, then the image.
  write_file(dir.file("x.h5"), std::string(512, 'u') + std::string(image.begin(), image.end()));
  const H5File f = H5File::open_read(dir.file("x.h5"));
  const auto loss = f.read_doubles("logs/loss");
  REQUIRE(loss.size() == 1000);
  REQUIRE(loss[999] == 0.25 * 999);
  REQUIRE(std::isnan(loss[3]));
  REQUIRE(f.read_doubles("logs/empty").empty());
  REQUIRE(same_bits(f.read_tensor("t"), t));
}

TEST_CASE("h5py reads sealed files, and string attributes back as str", "[hdf5][seal]") {
  // Debian's python3-h5py lives in the system interpreter, which a pyenv or venv
  // python3 earlier on PATH may hide.
  std::string python;
  for (const char* candidate : {"python3", "/usr/bin/python3"})
    if (std::system((std::string(candidate) + " -c 'import h5py' >/dev/null 2>&1").c_str()) == 0) {
      python = candidate;
      break;
    }
  if (python.empty()) {
    WARN("no python3 with h5py; skipped");
    return;
  }
  TempDir dir("h5py");
  const std::string path = dir.file("s.h5");
  write_sealed(path, "corpus", [](H5File& f) {
    f.set_attr("/", "format", std::string("tokengrow-corpus"));
    f.write_bytes_u8("train", {1, 2, 3});
  });
  const std::string script = "import h5py, sys; f = h5py.File(sys.argv[1], 'r'); a = f.attrs['format']; "
                             "sys.exit(0 if isinstance(a, str) and a == 'tokengrow-corpus' and "
                             "f['train'].dtype == 'uint8' else 1)";
  REQUIRE(std::system((python + " -c \"" + script + "\" '" + path + "'").c_str()) == 0);
}
