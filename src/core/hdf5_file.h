#pragma once
// A small RAII layer over the HDF5 C API: what checkpoints, corpora and metrics
// need, with every failure turned into a UserError that names the file and path.
//
// Paths are slash-separated ("model/layers/0/ffn/keys"); writing creates the
// intermediate groups. Attribute paths "" and "/" mean the root group.
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tg {

class H5File {
 public:
  static H5File create(const std::string& path);     // truncates
  static H5File open_read(const std::string& path);
  static H5File open_rw(const std::string& path);
  // True if path is an HDF5 file (false for missing, unreadable or other files).
  static bool is_hdf5(const std::string& path);

  H5File(H5File&& other) noexcept;
  H5File& operator=(H5File&& other) noexcept;
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;
  ~H5File();

  const std::string& path() const { return path_; }
  bool exists(const std::string& path) const;
  std::vector<std::string> list(const std::string& group) const;  // child names, sorted

  void write_tensor(const std::string& path, const Tensor& t);
  Tensor read_tensor(const std::string& path) const;
  void write_ints(const std::string& path, const std::vector<int64_t>& values);
  std::vector<int64_t> read_ints(const std::string& path) const;
  void write_u8(const std::string& path, const std::vector<uint8_t>& values);
  // Any integer dataset, converted by HDF5 to int32.
  std::vector<int32_t> read_tokens(const std::string& path) const;
  // Shape of a dataset.
  std::vector<int64_t> shape(const std::string& path) const;

  // Appends to an extendible 1-D float64 dataset, creating it on first use.
  void append_doubles(const std::string& path, const std::vector<double>& values);
  std::vector<double> read_doubles(const std::string& path) const;
  // Shrinks (or grows, zero-filled) an extendible 1-D dataset to n elements.
  void resize_doubles(const std::string& path, size_t n);

  void set_attr(const std::string& path, const std::string& name, const std::string& value);
  void set_attr(const std::string& path, const std::string& name, double value);
  void set_attr(const std::string& path, const std::string& name, int64_t value);
  bool has_attr(const std::string& path, const std::string& name) const;
  std::string get_attr_string(const std::string& path, const std::string& name) const;
  double get_attr_double(const std::string& path, const std::string& name) const;
  int64_t get_attr_int(const std::string& path, const std::string& name) const;

  void flush();

 private:
  H5File(hid_t id, std::string path) : id_(id), path_(std::move(path)) {}
  [[noreturn]] void fail(const std::string& where, const std::string& what) const;
  hid_t open_object(const std::string& path) const;  // caller closes with H5Oclose
  void write_dataset(const std::string& path, hid_t mem_type, hid_t file_type, const std::vector<hsize_t>& dims,
                     const void* data);
  void read_dataset(const std::string& path, hid_t mem_type, void* data, size_t expected_elements) const;
  void set_attr_raw(const std::string& path, const std::string& name, hid_t type, const void* data);

  hid_t id_ = -1;
  std::string path_;
};

}  // namespace tg
