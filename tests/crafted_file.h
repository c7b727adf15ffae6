#pragma once
// Files a crafter would make: a sealed file changed through the HDF5 C API and
// sealed again (the seal is a checksum, not a signature).
#include <hdf5.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/sealed_file.h"
#include "test_data.h"

namespace tg::testing {

// Changes a sealed file through the HDF5 C API and seals it again.
inline void reseal_after(const std::string& path, const std::string& kind, const std::function<void(hid_t)>& change) {
  const std::string work = path + ".work";
  write_file(work, read_file(path));
  const hid_t file = H5Fopen(work.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(file >= 0);
  change(file);
  REQUIRE(H5Fclose(file) >= 0);
  const std::string bytes = read_file(work);
  std::filesystem::remove(work);
  const std::string body = bytes.substr(kSealBytes);
  write_file(path, seal_header(kind, body) + body);
  REQUIRE(seal_problem(path, kind).empty());
}

// Replaces dataset `name` by one of type `type` and shape `dims`; `data` (if not
// null) is written, else the dataset has no storage (a shape with nothing behind it).
inline void replace_dataset(hid_t file, const std::string& name, hid_t type, const std::vector<hsize_t>& dims,
                            const void* data) {
  REQUIRE(H5Ldelete(file, name.c_str(), H5P_DEFAULT) >= 0);
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t set = H5Dcreate2(file, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(set >= 0);
  if (data) REQUIRE(H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
  H5Dclose(set);
  H5Sclose(space);
}

// Sets (or replaces) a string attribute of the root group.
inline void set_root_string(hid_t file, const std::string& name, const std::string& value) {
  if (H5Aexists(file, name.c_str()) > 0) REQUIRE(H5Adelete(file, name.c_str()) >= 0);
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(file, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  const char* text = value.c_str();
  REQUIRE(H5Awrite(attr, type, &text) >= 0);
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
}

}  // namespace tg::testing
