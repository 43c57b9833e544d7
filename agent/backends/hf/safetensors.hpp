#pragma once
// Weights in the safetensors format, single file or sharded
// (model.safetensors.index.json), memory-mapped. Every header is checked
// before any tensor is used: its size is bounded, it is JSON of the expected
// shape, each tensor's dtype is known, its byte size is its shape times its
// dtype, and its offsets lie in the file without overlapping another's.
// Torch-free: the torch backend turns entries into tensors.

#include "backends/hf/mapped_file.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent::hf {

enum class dtype { f64, f32, f16, bf16, i64, i32, i16, i8, u8, boolean, f8_e4m3, f8_e5m2 };
std::size_t dtype_size(dtype d);
const char* dtype_name(dtype d); // as the format writes it: "F32", "BF16", …

struct tensor_entry {
    std::string name;
    hf::dtype dtype = dtype::f32;
    std::vector<std::int64_t> shape;
    std::string_view bytes;                   // inside the mapping
    std::shared_ptr<const mapped_file> file;  // keeps the mapping
    std::size_t elements() const;
};

struct safetensors_limits {
    std::uint64_t max_header_bytes = 100ULL << 20; // as the reference library
    std::size_t max_tensors = 200'000;
    std::size_t max_rank = 8;
    std::size_t max_name_bytes = 1024;
    std::size_t max_shards = 1024;
};

// Parses and checks the header of one file's bytes; `label` names it in
// errors. Throws folder_error ("model.safetensors: tensor x: …").
std::vector<tensor_entry> parse_safetensors(std::string_view bytes, const std::string& label,
                                            const safetensors_limits& limits = {});

// All the weights of a model folder: model.safetensors, or the shards that
// model.safetensors.index.json names (each mapped once; every tensor the
// index names must be in its shard).
class weight_files {
  public:
    static weight_files open(const std::filesystem::path& dir, const safetensors_limits& limits = {});

    // nullptr when absent.
    const tensor_entry* find(std::string_view name) const;
    const std::map<std::string, tensor_entry, std::less<>>& tensors() const { return tensors_; }
    std::uint64_t total_bytes() const { return total_bytes_; }
    // "model.safetensors" or "model-00001-of-00002.safetensors, …", for messages.
    const std::string& describe() const { return describe_; }

  private:
    std::map<std::string, tensor_entry, std::less<>> tensors_;
    std::uint64_t total_bytes_ = 0;
    std::string describe_;
};

} // namespace tether::agent::hf
