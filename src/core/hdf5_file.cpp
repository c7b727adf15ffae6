#include "core/hdf5_file.h"

#include <filesystem>
#include <algorithm>

#include "core/error.h"

namespace tg {

namespace {
// HDF5 prints its error stack to stderr by default; our errors say it in one line.
void silence_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

// Closes an HDF5 handle at scope exit.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0) close(id);
  }
};

std::string norm_path(const std::string& p) { return p.empty() ? "/" : p; }
}  // namespace

bool H5File::is_hdf5(const std::string& path) {
  silence_hdf5();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  return H5Fis_hdf5(path.c_str()) > 0;
}

H5File H5File::create(const std::string& path) {
  silence_hdf5();
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) throw UserError(path + ": cannot create HDF5 file (check the directory exists and is writable)");
  return H5File(id, path);
}


H5File H5File::open_read(const std::string& path) {
  silence_hdf5();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw UserError(path + ": no such file");
  if (!std::filesystem::is_regular_file(path, ec)) throw UserError(path + ": not a regular file");
  if (H5Fis_hdf5(path.c_str()) <= 0) throw UserError(path + ": not an HDF5 file");
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) throw UserError(path + ": cannot open HDF5 file (damaged or truncated?)");
  return H5File(id, path);
}

H5File H5File::open_rw(const std::string& path) {
  silence_hdf5();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw UserError(path + ": no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0) throw UserError(path + ": not an HDF5 file");
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (id < 0) throw UserError(path + ": cannot open HDF5 file for writing");
  return H5File(id, path);
}

H5File::H5File(H5File&& other) noexcept : id_(other.id_), path_(std::move(other.path_)) { other.id_ = -1; }

H5File& H5File::operator=(H5File&& other) noexcept {
  if (this != &other) {
    if (id_ >= 0) H5Fclose(id_);
    id_ = other.id_;
    path_ = std::move(other.path_);
    other.id_ = -1;
  }
  return *this;
}

H5File::~H5File() {
  if (id_ >= 0) H5Fclose(id_);
}

void H5File::fail(const std::string& where, const std::string& what) const {
  throw UserError(path_ + ": " + (where.empty() ? "" : norm_path(where) + ": ") + what);
}

void H5File::flush() {
  if (H5Fflush(id_, H5F_SCOPE_LOCAL) < 0) fail("", "flush failed");
}

bool H5File::exists(const std::string& path) const {
  if (path.empty() || path == "/") return true;
  // Check every prefix: H5Lexists fails (not false) when a parent is missing.
  std::string prefix;
  size_t start = path[0] == '/' ? 1 : 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    prefix = path.substr(0, slash);
    if (H5Lexists(id_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

hid_t H5File::open_object(const std::string& path) const {
  if (!exists(path)) fail(path, "missing");
  const hid_t id = H5Oopen(id_, norm_path(path).c_str(), H5P_DEFAULT);
  if (id < 0) fail(path, "cannot open");
  return id;
}

std::vector<std::string> H5File::list(const std::string& group) const {
  Handle g{open_object(group), H5Oclose};
  std::vector<std::string> names;
  H5Literate(
      g.id, H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
        static_cast<std::vector<std::string>*>(out)->push_back(name);
        return 0;
      },
      &names);
  std::sort(names.begin(), names.end());
  return names;
}

void H5File::write_dataset(const std::string& path, hid_t mem_type, hid_t file_type, const std::vector<hsize_t>& dims,
                           const void* data) {
  if (exists(path) && H5Ldelete(id_, path.c_str(), H5P_DEFAULT) < 0) fail(path, "cannot replace dataset");
  Handle lcpl{H5Pcreate(H5P_LINK_CREATE), H5Pclose};
  H5Pset_create_intermediate_group(lcpl.id, 1);
  Handle space{H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose};
  Handle set{H5Dcreate2(id_, path.c_str(), file_type, space.id, lcpl.id, H5P_DEFAULT, H5P_DEFAULT), H5Dclose};
  if (set.id < 0) fail(path, "cannot create dataset");
  if (H5Dwrite(set.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) fail(path, "write failed (disk full?)");
}

std::vector<int64_t> H5File::shape(const std::string& path) const {
  Handle set{H5Dopen2(id_, path.c_str(), H5P_DEFAULT), H5Dclose};
  if (!exists(path) || set.id < 0) fail(path, "missing dataset");
  Handle space{H5Dget_space(set.id), H5Sclose};
  const int rank = H5Sget_simple_extent_ndims(space.id);
  std::vector<hsize_t> dims(std::max(rank, 0));
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

void H5File::read_dataset(const std::string& path, hid_t mem_type, void* data, size_t expected_elements) const {
  if (!exists(path)) fail(path, "missing dataset");
  Handle set{H5Dopen2(id_, path.c_str(), H5P_DEFAULT), H5Dclose};
  if (set.id < 0) fail(path, "not a dataset");
  Handle space{H5Dget_space(set.id), H5Sclose};
  const hssize_t n = H5Sget_simple_extent_npoints(space.id);
  if (n < 0 || static_cast<size_t>(n) != expected_elements)
    fail(path, "has " + std::to_string(n) + " elements, expected " + std::to_string(expected_elements));
  if (n > 0 && H5Dread(set.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail(path, "read failed (wrong type, or the file is damaged)");
}

void H5File::write_tensor(const std::string& path, const Tensor& t) {
  std::vector<hsize_t> dims(t.shape().begin(), t.shape().end());
  write_dataset(path, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, dims, t.data());
}

Tensor H5File::read_tensor(const std::string& path) const {
  Tensor t(shape(path));
  read_dataset(path, H5T_NATIVE_FLOAT, t.data(), static_cast<size_t>(t.numel()));
  return t;
}

void H5File::write_ints(const std::string& path, const std::vector<int64_t>& values) {
  write_dataset(path, H5T_NATIVE_INT64, H5T_STD_I64LE, {values.size()}, values.data());
}

std::vector<int64_t> H5File::read_ints(const std::string& path) const {
  const auto dims = shape(path);
  std::vector<int64_t> out(dims.empty() ? 1 : dims[0]);
  read_dataset(path, H5T_NATIVE_INT64, out.data(), out.size());
  return out;
}

void H5File::write_u8(const std::string& path, const std::vector<uint8_t>& values) {
  write_dataset(path, H5T_NATIVE_UINT8, H5T_STD_U8LE, {values.size()}, values.data());
}

std::vector<int32_t> H5File::read_tokens(const std::string& path) const {
  const auto dims = shape(path);
  if (dims.size() != 1) fail(path, "expected a 1-D token dataset");
  std::vector<int32_t> out(dims[0]);
  read_dataset(path, H5T_NATIVE_INT32, out.data(), out.size());
  return out;
}

void H5File::append_doubles(const std::string& path, const std::vector<double>& values) {
  const hsize_t n = values.size();
  if (!exists(path)) {
    Handle lcpl{H5Pcreate(H5P_LINK_CREATE), H5Pclose};
    H5Pset_create_intermediate_group(lcpl.id, 1);
    const hsize_t zero = 0, unlimited = H5S_UNLIMITED, chunk = 256;
    Handle space{H5Screate_simple(1, &zero, &unlimited), H5Sclose};
    Handle dcpl{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
    H5Pset_chunk(dcpl.id, 1, &chunk);
    Handle set{H5Dcreate2(id_, path.c_str(), H5T_IEEE_F64LE, space.id, lcpl.id, dcpl.id, H5P_DEFAULT), H5Dclose};
    if (set.id < 0) fail(path, "cannot create dataset");
  }
  Handle set{H5Dopen2(id_, path.c_str(), H5P_DEFAULT), H5Dclose};
  hsize_t old_size = 0;
  {
    Handle space{H5Dget_space(set.id), H5Sclose};
    H5Sget_simple_extent_dims(space.id, &old_size, nullptr);
  }
  const hsize_t new_size = old_size + n;
  if (H5Dset_extent(set.id, &new_size) < 0) fail(path, "cannot extend dataset");
  Handle file_space{H5Dget_space(set.id), H5Sclose};
  H5Sselect_hyperslab(file_space.id, H5S_SELECT_SET, &old_size, nullptr, &n, nullptr);
  Handle mem_space{H5Screate_simple(1, &n, nullptr), H5Sclose};
  if (H5Dwrite(set.id, H5T_NATIVE_DOUBLE, mem_space.id, file_space.id, H5P_DEFAULT, values.data()) < 0)
    fail(path, "append failed (disk full?)");
}

void H5File::resize_doubles(const std::string& path, size_t n) {
  if (!exists(path)) fail(path, "missing dataset");
  Handle set{H5Dopen2(id_, path.c_str(), H5P_DEFAULT), H5Dclose};
  const hsize_t size = n;
  if (set.id < 0 || H5Dset_extent(set.id, &size) < 0) fail(path, "cannot resize dataset");
}

std::vector<double> H5File::read_doubles(const std::string& path) const {
  const auto dims = shape(path);
  std::vector<double> out(dims.empty() ? 1 : dims[0]);
  read_dataset(path, H5T_NATIVE_DOUBLE, out.data(), out.size());
  return out;
}

void H5File::set_attr_raw(const std::string& path, const std::string& name, hid_t type, const void* data) {
  Handle obj{open_object(path), H5Oclose};
  if (H5Aexists(obj.id, name.c_str()) > 0) H5Adelete(obj.id, name.c_str());
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  Handle attr{H5Acreate2(obj.id, name.c_str(), type, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (attr.id < 0 || H5Awrite(attr.id, type, data) < 0) fail(path, "cannot write attribute " + name);
}

void H5File::set_attr(const std::string& path, const std::string& name, const std::string& value) {
  // Variable-length UTF-8 string: h5py reads it back as str, and it has no size cap
  // beyond the 64 KiB attribute limit.
  Handle type{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(type.id, H5T_VARIABLE);
  H5Tset_cset(type.id, H5T_CSET_UTF8);
  const char* ptr = value.c_str();
  set_attr_raw(path, name, type.id, &ptr);
}

void H5File::set_attr(const std::string& path, const std::string& name, double value) {
  set_attr_raw(path, name, H5T_NATIVE_DOUBLE, &value);
}

void H5File::set_attr(const std::string& path, const std::string& name, int64_t value) {
  set_attr_raw(path, name, H5T_NATIVE_INT64, &value);
}

bool H5File::has_attr(const std::string& path, const std::string& name) const {
  if (!exists(path)) return false;
  Handle obj{open_object(path), H5Oclose};
  return H5Aexists(obj.id, name.c_str()) > 0;
}

std::string H5File::get_attr_string(const std::string& path, const std::string& name) const {
  if (!has_attr(path, name)) fail(path, "missing attribute \"" + name + "\"");
  Handle obj{open_object(path), H5Oclose};
  Handle attr{H5Aopen(obj.id, name.c_str(), H5P_DEFAULT), H5Aclose};
  Handle stored{H5Aget_type(attr.id), H5Tclose};
  if (H5Tget_class(stored.id) != H5T_STRING) fail(path, "attribute \"" + name + "\" is not a string");
  if (H5Tis_variable_str(stored.id) > 0) {
    Handle type{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(type.id, H5T_VARIABLE);
    H5Tset_cset(type.id, H5Tget_cset(stored.id));
    char* ptr = nullptr;
    if (H5Aread(attr.id, type.id, &ptr) < 0 || !ptr) fail(path, "cannot read attribute " + name);
    std::string value(ptr);
    H5free_memory(ptr);
    return value;
  }
  const size_t size = H5Tget_size(stored.id);
  std::string value(size, '\0');
  if (H5Aread(attr.id, stored.id, value.data()) < 0) fail(path, "cannot read attribute " + name);
  value.resize(value.find('\0') == std::string::npos ? size : value.find('\0'));
  return value;
}

double H5File::get_attr_double(const std::string& path, const std::string& name) const {
  if (!has_attr(path, name)) fail(path, "missing attribute \"" + name + "\"");
  Handle obj{open_object(path), H5Oclose};
  Handle attr{H5Aopen(obj.id, name.c_str(), H5P_DEFAULT), H5Aclose};
  double value = 0;
  if (H5Aread(attr.id, H5T_NATIVE_DOUBLE, &value) < 0) fail(path, "attribute \"" + name + "\" is not a number");
  return value;
}

int64_t H5File::get_attr_int(const std::string& path, const std::string& name) const {
  if (!has_attr(path, name)) fail(path, "missing attribute \"" + name + "\"");
  Handle obj{open_object(path), H5Oclose};
  Handle attr{H5Aopen(obj.id, name.c_str(), H5P_DEFAULT), H5Aclose};
  int64_t value = 0;
  if (H5Aread(attr.id, H5T_NATIVE_INT64, &value) < 0) fail(path, "attribute \"" + name + "\" is not an integer");
  return value;
}

}  // namespace tg
