#pragma once
// A dense, row-major float32 tensor with 64-byte aligned storage.
//
// Storage grows but never shrinks on resize(), so the activation buffers of a
// training step are allocated on the first step and reused afterwards.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace tg {

// "(3 x 5)"; "()" for a scalar.
inline std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? " x " : "") + std::to_string(shape[i]);
  return s + ")";
}

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::vector<int64_t> shape) { resize(std::move(shape)); zero(); }
  Tensor(std::initializer_list<int64_t> shape) : Tensor(std::vector<int64_t>(shape)) {}

  Tensor(const Tensor& other) { *this = other; }
  Tensor& operator=(const Tensor& other) {
    if (this != &other) {
      resize(other.shape_);
      if (numel_ > 0) std::memcpy(data_.get(), other.data_.get(), bytes());
    }
    return *this;
  }
  // A moved-from tensor is empty (no shape, no elements, no storage), like a
  // default-constructed one: its capacity must not outlive its storage.
  Tensor(Tensor&& other) noexcept { *this = std::move(other); }
  Tensor& operator=(Tensor&& other) noexcept {
    if (this != &other) {
      shape_ = std::move(other.shape_);
      numel_ = std::exchange(other.numel_, 0);
      capacity_ = std::exchange(other.capacity_, 0);
      data_ = std::move(other.data_);
      other.shape_.clear();
    }
    return *this;
  }

  // Sets the shape; contents are unspecified unless the tensor was this size before.
  void resize(std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    if (n > capacity_) {
      data_.reset(static_cast<float*>(::operator new[](sizeof(float) * n, std::align_val_t(64))));
      capacity_ = n;
    }
    shape_ = std::move(shape);
    numel_ = n;
  }
  void resize(std::initializer_list<int64_t> shape) { resize(std::vector<int64_t>(shape)); }

  // Frees the storage; the tensor is then empty, as if default-constructed (a packed model
  // drops the float copies of its quantised weights).
  void release() { *this = Tensor(); }
  void zero() { if (numel_ > 0) std::memset(data_.get(), 0, bytes()); }
  void fill(float v) { for (int64_t i = 0; i < numel_; ++i) data_[i] = v; }

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }

  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_.at(i); }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return numel_; }
  size_t bytes() const { return sizeof(float) * static_cast<size_t>(numel_); }
  // Matrix view: all leading dimensions are rows, the last one is columns.
  int64_t cols() const { return shape_.empty() ? 1 : shape_.back(); }
  int64_t rows() const { return cols() == 0 ? 0 : numel_ / cols(); }

  std::string shape_string() const { return tg::shape_string(shape_); }

 private:
  struct AlignedDelete {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::vector<int64_t> shape_;
  int64_t numel_ = 0;
  int64_t capacity_ = 0;
  std::unique_ptr<float[], AlignedDelete> data_;
};

}  // namespace tg
