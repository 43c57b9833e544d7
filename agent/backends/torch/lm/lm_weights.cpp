#include "backends/torch/lm/lm_weights.hpp"

#include "backends/hf/folder_error.hpp"

#include <map>

namespace tether::agent::lm {
namespace {

std::string shape_text(const std::vector<std::int64_t>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

at::ScalarType scalar_of(const hf::tensor_entry& e) {
    switch (e.dtype) {
    case hf::dtype::f32: return at::kFloat;
    case hf::dtype::f16: return at::kHalf;
    case hf::dtype::bf16: return at::kBFloat16;
    default:
        throw hf::folder_error(e.file->path().filename().string() + ": tensor " + e.name + " is " +
                               hf::dtype_name(e.dtype) + "; weights must be F32, F16 or BF16");
    }
}

} // namespace

lm_weights::lm_weights(const std::filesystem::path& dir, at::Device device, at::ScalarType compute)
    : files_(hf::weight_files::open(dir)), device_(device), compute_(compute) {}

at::Tensor lm_weights::take(const std::string& name, const std::vector<std::int64_t>& shape) {
    const hf::tensor_entry* e = files_.find(name);
    if (e == nullptr)
        throw hf::folder_error(files_.describe() + ": tensor " + name + " is missing (expected " + shape_text(shape) + ")");
    if (e->shape != shape)
        throw hf::folder_error(e->file->path().filename().string() + ": tensor " + name + " has shape " +
                               shape_text(e->shape) + ", expected " + shape_text(shape) + " from config.json");
    const at::ScalarType stored = scalar_of(*e);
    taken_.insert(name);
    const auto* data = e->bytes.data();
    const auto element = at::elementSize(stored);
    at::Tensor t;
    if (reinterpret_cast<std::uintptr_t>(data) % element == 0) {
        // A view of the mapping (read-only: weights are never written); the
        // deleter keeps the mapping alive as long as the view.
        auto keep = new std::shared_ptr<const hf::mapped_file>(e->file);
        t = at::from_blob(const_cast<char*>(data), shape, [keep](void*) { delete keep; }, at::TensorOptions().dtype(stored));
    } else {
        t = at::empty(shape, at::TensorOptions().dtype(stored));
        std::memcpy(t.data_ptr(), data, e->bytes.size());
    }
    if (stored == compute_ && device_.is_cpu()) return t;
    return t.to(device_, compute_).contiguous();
}

std::string lm_weights::first_of(std::initializer_list<std::string> names) const {
    for (const auto& n : names)
        if (has(n)) return n;
    return {};
}

std::vector<std::string> lm_weights::unused() const {
    std::vector<std::string> out;
    for (const auto& [name, e] : files_.tensors()) {
        if (taken_.count(name)) continue;
        if (name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias") || name.ends_with("rotary_emb.inv_freq"))
            continue;
        out.push_back(name);
    }
    return out;
}

std::string lm_weights::stored_dtype() const {
    std::map<std::string, std::uint64_t> bytes;
    for (const auto& [name, e] : files_.tensors()) bytes[hf::dtype_name(e.dtype)] += e.bytes.size();
    std::string best;
    std::uint64_t most = 0;
    for (const auto& [d, b] : bytes)
        if (b > most) most = b, best = d;
    return best;
}

} // namespace tether::agent::lm
