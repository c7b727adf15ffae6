#include "core/hdf5_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <new>
#include <iomanip>
#include <sstream>

#include "core/error.h"
#include "core/file_status.h"

namespace tg {

namespace {
// HDF5 prints its whole error stack to stderr by default; our UserErrors say what
// went wrong in one line. The setting is per thread in thread-safe builds (Debian's
// is one), so it is applied on every open rather than once per process.
void silence_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// Whether the call that just failed ran out of memory: HDF5 records "resource
// unavailable" errors on its error stack (which each API call clears first). The
// files tokengrow writes are built in memory (create_in_memory), so a write that
// fails this way is memory, not a full disk.
bool hdf5_out_of_memory() {
  bool out_of_memory = false;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD,
           [](unsigned, const H5E_error2_t* e, void* found) -> herr_t {
             if (e->maj_num == H5E_RESOURCE && (e->min_num == H5E_NOSPACE || e->min_num == H5E_CANTALLOC))
               *static_cast<bool*>(found) = true;
             return 0;
           },
           &out_of_memory);
  return out_of_memory;
}

// Closes an HDF5 handle at scope exit.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id >= 0) close_(id);
  }
  const hid_t id;

 private:
  herr_t (*close_)(hid_t);
};

// "/a//b/" -> "a/b"; the root ("", "/") -> "".
std::string clean(const std::string& path) {
  std::string out;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) out += (out.empty() ? "" : "/") + path.substr(start, end - start);
    start = end + 1;
  }
  return out;
}

// The name HDF5 calls take (relative to the root group).
std::string h5_name(const std::string& path) {
  const std::string c = clean(path);
  return c.empty() ? "/" : c;
}

// Link creation property list that makes HDF5 create missing parent groups.
hid_t intermediate_groups() {
  const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  return lcpl;
}

// Why `path` cannot be opened as an HDF5 file, or "" if it can.
std::string open_problem(const std::string& path) {
  if (std::string problem = regular_file_problem(path); !problem.empty()) return problem;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open: ") + std::strerror(errno);
  ::close(fd);
  const htri_t is_h5 = H5Fis_hdf5(path.c_str());
  if (is_h5 < 0) return "cannot read the file";
  if (is_h5 == 0) return "not an HDF5 file";
  return "";
}

}  // namespace

bool H5File::is_hdf5(const std::string& path) {
  silence_hdf5();
  return open_problem(path).empty();
}

H5File H5File::create(const std::string& path) {
  silence_hdf5();
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    throw UserError(path + ": cannot create file: directory " + parent.string() + " does not exist");
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) throw UserError(path + ": cannot create HDF5 file (directory not writable, or the file is open?)");
  return H5File(id, path);
}

H5File H5File::create_in_memory(const std::string& name, int64_t userblock_bytes) {
  silence_hdf5();
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  if (userblock_bytes > 0) H5Pset_userblock(fcpl.id, static_cast<hsize_t>(userblock_bytes));
  // The core driver without a backing store: the file lives in memory, grown in
  // 4 MiB steps, and never touches the disk.
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_core(fapl.id, 4 << 20, 0);
  const hid_t id = H5Fcreate(name.c_str(), H5F_ACC_TRUNC, fcpl.id, fapl.id);
  if (id < 0 && hdf5_out_of_memory()) throw std::bad_alloc();
  if (id < 0) throw UserError(name + ": cannot create the HDF5 file in memory");
  return H5File(id, name);
}

std::vector<char> H5File::image(size_t leading_bytes) {
  if (H5Fflush(id_, H5F_SCOPE_LOCAL) < 0) fail("", "cannot finish the file in memory");
  const ssize_t size = H5Fget_file_image(id_, nullptr, 0);
  if (size < 0) fail("", "cannot get the file image");
  std::vector<char> bytes(leading_bytes + static_cast<size_t>(size));
  if (H5Fget_file_image(id_, bytes.data() + leading_bytes, static_cast<size_t>(size)) != size)
    fail("", "cannot copy the file image");
  return bytes;
}

H5File H5File::open_read(const std::string& path) {
  silence_hdf5();
  if (const std::string problem = open_problem(path); !problem.empty()) throw UserError(path + ": " + problem);
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) throw UserError(path + ": cannot open HDF5 file (damaged, or being written by another process?)");
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
  if (hdf5_out_of_memory()) throw std::bad_alloc();  // "out of memory" (cli), not the symptom below
  const std::string object = clean(where);
  throw UserError(path_ + ": " + (object.empty() ? "" : "/" + object + ": ") + what);
}


// ---- groups and datasets -------------------------------------------------------

bool H5File::exists(const std::string& path) const {
  // H5Lexists fails (rather than returning false) when a parent is missing, so
  // every prefix is checked in turn.
  const std::string target = clean(path);
  size_t end = 0;
  while (end < target.size()) {
    end = std::min(target.find('/', end + 1), target.size());
    if (H5Lexists(id_, target.substr(0, end).c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

hid_t H5File::open_object(const std::string& path) const {
  if (!exists(path)) fail(path, "missing");
  const hid_t id = H5Oopen(id_, h5_name(path).c_str(), H5P_DEFAULT);
  if (id < 0) fail(path, "cannot open");
  return id;
}

hid_t H5File::open_dataset(const std::string& path) const {
  if (!exists(path)) fail(path, "missing dataset");
  const hid_t id = H5Dopen2(id_, h5_name(path).c_str(), H5P_DEFAULT);
  if (id < 0) fail(path, "not a dataset");
  return id;
}

std::vector<std::string> H5File::list(const std::string& group) const {
  Handle g(open_object(group), H5Oclose);
  if (H5Iget_type(g.id) != H5I_GROUP) fail(group, "not a group");
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

std::vector<int64_t> H5File::shape(const std::string& path) const {
  Handle set(open_dataset(path), H5Dclose);
  Handle space(H5Dget_space(set.id), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.id);
  if (rank < 0) fail(path, "cannot read the dataset's shape");
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

size_t H5File::element_count(const std::string& path) const {
  Handle set(open_dataset(path), H5Dclose);
  Handle space(H5Dget_space(set.id), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.id);
  if (n < 0) fail(path, "cannot read the dataset's size");
  // A dataspace is only a declaration: a crafted file can declare 2^40 values with
  // nothing behind them, which a reader would allocate before HDF5 noticed. The
  // bytes the values need must be stored in the file (contiguous and compact
  // layouts store them as they are; a chunked dataset's filters expand at most
  // ~1032x, deflate's bound).
  Handle type(H5Dget_type(set.id), H5Tclose);
  Handle create(H5Dget_create_plist(set.id), H5Pclose);
  const double needed = static_cast<double>(n) * static_cast<double>(H5Tget_size(type.id));
  const double stored = static_cast<double>(H5Dget_storage_size(set.id));
  hsize_t file_size = 0;
  H5Fget_filesize(id_, &file_size);
  const bool chunked = H5Pget_layout(create.id) == H5D_CHUNKED;
  const double available = chunked ? 1032.0 * static_cast<double>(file_size) : std::min(stored, static_cast<double>(file_size));
  if (needed > available) {
    std::ostringstream what;
    what << std::fixed << std::setprecision(0) << "declares " << n << " values (" << needed << " bytes) but the file holds " << available
         << " of them (damaged or crafted file)";
    fail(path, what.str());
  }
  return static_cast<size_t>(n);
}

hid_t H5File::create_dataset(const std::string& path, hid_t file_type, const std::vector<hsize_t>& dims) {
  const std::string name = h5_name(path);
  if (clean(path).empty()) fail(path, "cannot write a dataset at the root");
  if (exists(path) && H5Ldelete(id_, name.c_str(), H5P_DEFAULT) < 0) fail(path, "cannot replace the existing object");
  Handle lcpl(intermediate_groups(), H5Pclose);
  // Contiguous layout: these datasets are written once, whole, so chunking would
  // only add overhead (contiguous datasets have no 4 GiB chunk limit either).
  Handle space(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
               H5Sclose);
  const hid_t set = H5Dcreate2(id_, name.c_str(), file_type, space.id, lcpl.id, H5P_DEFAULT, H5P_DEFAULT);
  if (set < 0) fail(path, "cannot create dataset (is a parent a dataset?)");
  return set;
}

void H5File::write_dataset(const std::string& path, hid_t mem_type, hid_t file_type, const std::vector<hsize_t>& dims,
                           const void* data) {
  Handle set(create_dataset(path, file_type, dims), H5Dclose);
  hsize_t n = 1;
  for (hsize_t d : dims) n *= d;
  if (n > 0 && H5Dwrite(set.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail(path, "write failed (disk full?)");
}

void H5File::read_dataset(const std::string& path, hid_t mem_type, bool integers_only, void* data) const {
  Handle set(open_dataset(path), H5Dclose);
  Handle type(H5Dget_type(set.id), H5Tclose);
  const H5T_class_t cls = H5Tget_class(type.id);
  if (integers_only && cls != H5T_INTEGER) fail(path, "expected an integer dataset");
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) fail(path, "expected a numeric dataset");
  Handle space(H5Dget_space(set.id), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.id) > 0 && H5Dread(set.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail(path, "read failed (the file may be damaged)");
}

void H5File::write_tensor(const std::string& path, const Tensor& t) {
  const std::vector<hsize_t> dims(t.shape().begin(), t.shape().end());
  write_dataset(path, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, dims, t.data());
}

Tensor H5File::read_tensor(const std::string& path) const {
  element_count(path);  // the declared size is stored in the file: never a crafted allocation
  Tensor t(shape(path));
  read_dataset(path, H5T_NATIVE_FLOAT, false, t.data());
  return t;
}

void H5File::write_ints(const std::string& path, const std::vector<int64_t>& values) {
  write_dataset(path, H5T_NATIVE_INT64, H5T_STD_I64LE, {values.size()}, values.data());
}

std::vector<int64_t> H5File::read_ints(const std::string& path) const {
  std::vector<int64_t> out(element_count(path));
  read_dataset(path, H5T_NATIVE_INT64, true, out.data());
  return out;
}

void H5File::write_uints(const std::string& path, const std::vector<uint64_t>& values) {
  write_dataset(path, H5T_NATIVE_UINT64, H5T_STD_U64LE, {values.size()}, values.data());
}

std::vector<uint64_t> H5File::read_uints(const std::string& path) const {
  std::vector<uint64_t> out(element_count(path));
  read_dataset(path, H5T_NATIVE_UINT64, true, out.data());
  return out;
}

void H5File::write_bytes_u8(const std::string& path, const std::vector<uint8_t>& values) {
  write_dataset(path, H5T_NATIVE_UINT8, H5T_STD_U8LE, {values.size()}, values.data());
}

void H5File::create_bytes_u8(const std::string& path, int64_t size) {
  if (size < 0) fail(path, "negative dataset size " + std::to_string(size));
  Handle set(create_dataset(path, H5T_STD_U8LE, {static_cast<hsize_t>(size)}), H5Dclose);
}

void H5File::write_bytes_u8_at(const std::string& path, int64_t offset, const uint8_t* data, size_t count) {
  if (count == 0) return;
  Handle set(open_dataset(path), H5Dclose);
  Handle file_space(H5Dget_space(set.id), H5Sclose);
  hsize_t size = 0;
  if (H5Sget_simple_extent_ndims(file_space.id) != 1 || H5Sget_simple_extent_dims(file_space.id, &size, nullptr) < 0)
    fail(path, "expected a 1-D dataset");
  if (offset < 0 || static_cast<hsize_t>(offset) > size || count > size - static_cast<hsize_t>(offset))
    fail(path, "bytes [" + std::to_string(offset) + ", " + std::to_string(offset + static_cast<int64_t>(count)) +
                   ") beyond the dataset's " + std::to_string(size));
  const hsize_t start = static_cast<hsize_t>(offset), n = count;
  H5Sselect_hyperslab(file_space.id, H5S_SELECT_SET, &start, nullptr, &n, nullptr);
  Handle mem_space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  if (H5Dwrite(set.id, H5T_NATIVE_UINT8, mem_space.id, file_space.id, H5P_DEFAULT, data) < 0)
    fail(path, "write failed (disk full?)");
}

std::vector<uint8_t> H5File::read_bytes_u8(const std::string& path) const {
  if (shape(path).size() != 1) fail(path, "expected a 1-D byte dataset");
  std::vector<uint8_t> out(element_count(path));
  read_dataset(path, H5T_NATIVE_UINT8, true, out.data());
  return out;
}

void H5File::write_token_ids(const std::string& path, const std::vector<int32_t>& ids, int64_t vocab_size) {
  const hid_t file_type = vocab_size <= 256 ? H5T_STD_U8LE : vocab_size <= 65536 ? H5T_STD_U16LE : H5T_STD_U32LE;
  for (int32_t id : ids)
    if (id < 0 || id >= vocab_size)
      fail(path, "token id " + std::to_string(id) + " outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
  write_dataset(path, H5T_NATIVE_INT32, file_type, {ids.size()}, ids.data());
}

std::vector<int32_t> H5File::read_tokens(const std::string& path) const {
  if (shape(path).size() != 1) fail(path, "expected a 1-D token dataset");
  std::vector<int32_t> out(element_count(path));
  read_dataset(path, H5T_NATIVE_INT32, true, out.data());
  return out;
}

std::vector<double> H5File::read_doubles(const std::string& path) const {
  std::vector<double> out(element_count(path));
  read_dataset(path, H5T_NATIVE_DOUBLE, false, out.data());
  return out;
}

void H5File::write_doubles(const std::string& path, const std::vector<double>& values) {
  write_dataset(path, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, {values.size()}, values.data());
}

// ---- attributes ------------------------------------------------------------------

hid_t H5File::open_attr(const std::string& path, const std::string& name) const {
  if (!has_attr(path, name)) fail(path, "missing attribute \"" + name + "\"");
  Handle obj(open_object(path), H5Oclose);
  const hid_t attr = H5Aopen(obj.id, name.c_str(), H5P_DEFAULT);
  if (attr < 0) fail(path, "cannot open attribute \"" + name + "\"");
  // Every attribute we read is a single value; an array would overrun the buffer.
  Handle space(H5Aget_space(attr), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.id) != 1) {
    H5Aclose(attr);
    fail(path, "attribute \"" + name + "\" is not a single value");
  }
  return attr;
}

void H5File::set_attr_raw(const std::string& path, const std::string& name, hid_t type, const void* data) {
  if (!exists(path)) {
    Handle lcpl(intermediate_groups(), H5Pclose);
    Handle group(H5Gcreate2(id_, h5_name(path).c_str(), lcpl.id, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (group.id < 0) fail(path, "cannot create group");
  }
  Handle obj(open_object(path), H5Oclose);
  if (H5Aexists(obj.id, name.c_str()) > 0 && H5Adelete(obj.id, name.c_str()) < 0)
    fail(path, "cannot replace attribute \"" + name + "\"");
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(obj.id, name.c_str(), type, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (attr.id < 0 || H5Awrite(attr.id, type, data) < 0) fail(path, "cannot write attribute \"" + name + "\"");
}

void H5File::set_attr(const std::string& path, const std::string& name, const std::string& value) {
  // Variable-length UTF-8: h5py reads it back as str, and the text lives in the
  // global heap, so long values (a JSON config) are not bound by the 64 KiB
  // object-header limit.
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
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
  Handle obj(open_object(path), H5Oclose);
  return H5Aexists(obj.id, name.c_str()) > 0;
}

std::string H5File::get_attr_string(const std::string& path, const std::string& name) const {
  Handle attr(open_attr(path, name), H5Aclose);
  Handle stored(H5Aget_type(attr.id), H5Tclose);
  if (H5Tget_class(stored.id) != H5T_STRING) fail(path, "attribute \"" + name + "\" is not a string");
  if (H5Tis_variable_str(stored.id) > 0) {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.id, H5T_VARIABLE);
    H5Tset_cset(type.id, H5Tget_cset(stored.id));
    char* ptr = nullptr;
    if (H5Aread(attr.id, type.id, &ptr) < 0) fail(path, "cannot read attribute \"" + name + "\"");
    std::string value = ptr ? ptr : "";
    H5free_memory(ptr);
    return value;
  }
  // Fixed-length (as other tools may write): NUL-padded or space-padded.
  const size_t size = H5Tget_size(stored.id);
  std::string value(size, '\0');
  if (H5Aread(attr.id, stored.id, value.data()) < 0) fail(path, "cannot read attribute \"" + name + "\"");
  value.resize(std::min(value.find('\0'), size));
  if (H5Tget_strpad(stored.id) == H5T_STR_SPACEPAD) value.erase(value.find_last_not_of(' ') + 1);
  return value;
}

double H5File::get_attr_double(const std::string& path, const std::string& name) const {
  Handle attr(open_attr(path, name), H5Aclose);
  Handle stored(H5Aget_type(attr.id), H5Tclose);
  const H5T_class_t cls = H5Tget_class(stored.id);
  double value = 0;
  if ((cls != H5T_INTEGER && cls != H5T_FLOAT) || H5Aread(attr.id, H5T_NATIVE_DOUBLE, &value) < 0)
    fail(path, "attribute \"" + name + "\" is not a number");
  return value;
}

int64_t H5File::get_attr_int(const std::string& path, const std::string& name) const {
  Handle attr(open_attr(path, name), H5Aclose);
  Handle stored(H5Aget_type(attr.id), H5Tclose);
  const H5T_class_t cls = H5Tget_class(stored.id);
  if (cls == H5T_INTEGER) {
    int64_t value = 0;
    if (H5Aread(attr.id, H5T_NATIVE_INT64, &value) < 0) fail(path, "cannot read attribute \"" + name + "\"");
    return value;
  }
  // A float holding a whole number (e.g. written by a tool that stores all numbers
  // as float64) is accepted; anything else would silently truncate.
  double value = 0;
  if (cls != H5T_FLOAT || H5Aread(attr.id, H5T_NATIVE_DOUBLE, &value) < 0 || value != std::floor(value) ||
      std::abs(value) > 9.0e18)
    fail(path, "attribute \"" + name + "\" is not an integer");
  return static_cast<int64_t>(value);
}

}  // namespace tg
