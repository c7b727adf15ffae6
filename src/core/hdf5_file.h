#pragma once
// A small RAII layer over the HDF5 C API: what checkpoints, corpora and metrics
// need, with every failure turned into a UserError of one line that names the file
// (and the object inside it): "data.h5: no such file", "ckpt.h5: /state/step: missing".
//
// Paths are slash-separated ("model/layers/0/ffn/keys"), relative to the root;
// writing a dataset or an attribute creates the missing groups on the way. "" and
// "/" mean the root group.
//
// Stored types (what h5py sees): tensors float32, ints int64, uints uint64, bytes
// uint8, doubles float64, string attributes variable-length UTF-8
// (read back by h5py as str).
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tg {

class H5File {
 public:
  // A file on disk (truncates an existing one). tokengrow itself writes files only
  // through write_sealed() (core/sealed_file.h); tests use this to make foreign files.
  static H5File create(const std::string& path);
  // A file built in memory (`name` only labels errors), to be taken out whole with
  // image(). userblock_bytes > 0 reserves that many bytes at the start that HDF5
  // never touches. Writing to disk is then the caller's, with its own error
  // handling: libhdf5 1.10 crashes at exit after a failed close of a disk file.
  static H5File create_in_memory(const std::string& name, int64_t userblock_bytes = 0);
  static H5File open_read(const std::string& path);
  // True if path is a readable HDF5 file (false for missing, unreadable or other files).
  static bool is_hdf5(const std::string& path);

  H5File(H5File&& other) noexcept;
  H5File& operator=(H5File&& other) noexcept;
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;
  ~H5File();

  const std::string& path() const { return path_; }
  // True if the object exists; false (never an error) when a parent is missing.
  bool exists(const std::string& path) const;
  // Names of a group's children, sorted.
  std::vector<std::string> list(const std::string& group) const;
  // Dimensions of a dataset (empty for a scalar).
  std::vector<int64_t> shape(const std::string& path) const;

  // Writing a dataset replaces any existing object of that name.
  void write_tensor(const std::string& path, const Tensor& t);
  // Every reader checks the dataset's declared size against the bytes the file holds
  // before allocating (a crafted shape is a UserError, never a huge allocation).
  Tensor read_tensor(const std::string& path) const;  // any numeric dataset, as float32
  void write_ints(const std::string& path, const std::vector<int64_t>& values);
  std::vector<int64_t> read_ints(const std::string& path) const;  // any integer dataset
  // uint64 datasets (no tokengrow file uses them: RNG states are stored as int64 bit
  // patterns, /state/data_rng).
  void write_uints(const std::string& path, const std::vector<uint64_t>& values);
  std::vector<uint64_t> read_uints(const std::string& path) const;
  void write_bytes_u8(const std::string& path, const std::vector<uint8_t>& values);
  // The same dataset (1-D uint8, contiguous), made with `size` bytes (zeros until
  // written) and filled piece by piece with write_bytes_u8_at: data too large to
  // hold twice is written without a second copy. A piece beyond the dataset's size is
  // refused.
  void create_bytes_u8(const std::string& path, int64_t size);
  void write_bytes_u8_at(const std::string& path, int64_t offset, const uint8_t* data, size_t count);
  std::vector<uint8_t> read_bytes_u8(const std::string& path) const;  // any 1-D integer dataset of bytes
  // Token ids in [0, vocab_size), stored as the smallest unsigned type that holds
  // every id below vocab_size (uint8 up to 256, uint16 up to 65536, else uint32).
  void write_token_ids(const std::string& path, const std::vector<int32_t>& ids, int64_t vocab_size);
  // Any 1-D integer dataset, converted by HDF5 to int32 (token ids).
  std::vector<int32_t> read_tokens(const std::string& path) const;

  void write_doubles(const std::string& path, const std::vector<double>& values);  // 1-D float64
  std::vector<double> read_doubles(const std::string& path) const;  // any numeric dataset

  // Attributes of a group or dataset; setting one replaces it (and creates a
  // missing group). Numeric getters convert between integer and float storage but
  // reject a non-integral value for get_attr_int.
  void set_attr(const std::string& path, const std::string& name, const std::string& value);
  void set_attr(const std::string& path, const std::string& name, double value);
  void set_attr(const std::string& path, const std::string& name, int64_t value);
  bool has_attr(const std::string& path, const std::string& name) const;
  std::string get_attr_string(const std::string& path, const std::string& name) const;
  double get_attr_double(const std::string& path, const std::string& name) const;
  int64_t get_attr_int(const std::string& path, const std::string& name) const;

  // The bytes of a file made by create_in_memory(), as they would be on disk after
  // its user block (which the image leaves out: the file is user block + image),
  // after `leading_bytes` zero bytes (room for the user block's contents).
  std::vector<char> image(size_t leading_bytes = 0);

 private:
  H5File(hid_t id, std::string path) : id_(id), path_(std::move(path)) {}
  [[noreturn]] void fail(const std::string& where, const std::string& what) const;
  hid_t open_object(const std::string& path) const;  // caller closes with H5Oclose
  hid_t open_dataset(const std::string& path) const;  // caller closes with H5Dclose
  hid_t open_attr(const std::string& path, const std::string& name) const;  // caller closes with H5Aclose
  // A new dataset (replacing any object of that name); caller closes with H5Dclose.
  hid_t create_dataset(const std::string& path, hid_t file_type, const std::vector<hsize_t>& dims);
  void write_dataset(const std::string& path, hid_t mem_type, hid_t file_type, const std::vector<hsize_t>& dims,
                     const void* data);
  // Reads a whole numeric dataset (integer-typed only, if asked) converted to
  // mem_type; data must hold element_count(path) values.
  void read_dataset(const std::string& path, hid_t mem_type, bool integers_only, void* data) const;
  // Values in a dataset; UserError if the file does not hold the bytes they need
  // (checked before any reader allocates for them).
  size_t element_count(const std::string& path) const;
  void set_attr_raw(const std::string& path, const std::string& name, hid_t type, const void* data);

  hid_t id_ = -1;
  std::string path_;
};

}  // namespace tg
