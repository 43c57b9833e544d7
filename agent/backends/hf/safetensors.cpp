#include "backends/hf/safetensors.hpp"

#include "backends/hf/folder_error.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace tether::agent::hf {
namespace {

struct dtype_info {
    const char* name;
    dtype d;
    std::size_t size;
};

constexpr dtype_info dtypes[] = {
    {"F64", dtype::f64, 8},   {"F32", dtype::f32, 4},         {"F16", dtype::f16, 2},         {"BF16", dtype::bf16, 2},
    {"I64", dtype::i64, 8},   {"I32", dtype::i32, 4},         {"I16", dtype::i16, 2},         {"I8", dtype::i8, 1},
    {"U8", dtype::u8, 1},     {"BOOL", dtype::boolean, 1},    {"F8_E4M3", dtype::f8_e4m3, 1}, {"F8_E5M2", dtype::f8_e5m2, 1},
};

[[noreturn]] void fail(const std::string& label, const std::string& what) {
    throw folder_error(label + ": " + what);
}

std::uint64_t read_u64_le(std::string_view b) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[static_cast<std::size_t>(i)]);
    return v;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

bool safe_name(std::string_view n) {
    return !n.empty() && n.find('/') == std::string_view::npos && n.find('\\') == std::string_view::npos &&
           n != "." && n != ".." && n.find('\0') == std::string_view::npos;
}

} // namespace

std::size_t dtype_size(dtype d) {
    for (const auto& i : dtypes)
        if (i.d == d) return i.size;
    return 0;
}

const char* dtype_name(dtype d) {
    for (const auto& i : dtypes)
        if (i.d == d) return i.name;
    return "?";
}

std::size_t tensor_entry::elements() const {
    std::size_t n = 1;
    for (auto s : shape) n *= static_cast<std::size_t>(s);
    return n;
}

std::vector<tensor_entry> parse_safetensors(std::string_view bytes, const std::string& label,
                                            const safetensors_limits& limits) {
    if (bytes.size() < 8) fail(label, "too short for a safetensors file (" + std::to_string(bytes.size()) + " bytes)");
    const std::uint64_t header_size = read_u64_le(bytes.substr(0, 8));
    if (header_size > limits.max_header_bytes)
        fail(label, "the header says it is " + std::to_string(header_size) + " bytes, over the limit of " +
                        std::to_string(limits.max_header_bytes));
    if (header_size > bytes.size() - 8)
        fail(label, "the header (" + std::to_string(header_size) + " bytes) runs past the end of the file (" +
                        std::to_string(bytes.size()) + " bytes): truncated?");
    const std::string_view header = bytes.substr(8, static_cast<std::size_t>(header_size));
    const std::string_view data = bytes.substr(8 + static_cast<std::size_t>(header_size));

    simdjson::dom::parser parser;
    simdjson::dom::object root;
    const simdjson::padded_string padded(header);
    if (auto err = parser.parse(padded).get(root))
        fail(label, std::string("the header is not a JSON object (") + simdjson::error_message(err) + ")");
    if (root.size() > limits.max_tensors + 1) fail(label, "more than " + std::to_string(limits.max_tensors) + " tensors");

    std::vector<tensor_entry> out;
    std::set<std::string, std::less<>> names;
    for (auto [key, value] : root) {
        const std::string name(key);
        if (name == "__metadata__") {
            simdjson::dom::object meta;
            if (value.get(meta)) fail(label, "__metadata__ must be an object of strings");
            for (auto [k, v] : meta)
                if (!v.is_string()) fail(label, "__metadata__." + std::string(k) + " must be a string");
            continue;
        }
        const std::string where = "tensor " + name;
        if (name.empty() || name.size() > limits.max_name_bytes) fail(label, "a tensor name is empty or too long");
        if (!names.insert(name).second) fail(label, where + " appears twice");
        simdjson::dom::object t;
        if (value.get(t)) fail(label, where + ": expected {dtype, shape, data_offsets}");
        std::string_view dt;
        if (t["dtype"].get(dt)) fail(label, where + ": dtype missing or not a string");
        const auto* info = std::find_if(std::begin(dtypes), std::end(dtypes), [&](const dtype_info& i) { return dt == i.name; });
        if (info == std::end(dtypes)) fail(label, where + ": unknown dtype \"" + std::string(dt) + "\"");
        simdjson::dom::array shape, offsets;
        if (t["shape"].get(shape)) fail(label, where + ": shape missing or not an array");
        if (t["data_offsets"].get(offsets) || offsets.size() != 2)
            fail(label, where + ": data_offsets must be [begin, end]");
        if (shape.size() > limits.max_rank) fail(label, where + ": more than " + std::to_string(limits.max_rank) + " dimensions");
        tensor_entry e;
        e.name = name;
        e.dtype = info->d;
        // Elements with overflow checks: shape × dtype must equal the byte span.
        constexpr std::uint64_t max_elements = 1ULL << 40;
        std::uint64_t elements = 1;
        for (auto dim : shape) {
            std::uint64_t d = 0;
            if (dim.get(d)) fail(label, where + ": shape must hold whole numbers");
            if (d > max_elements || (d != 0 && elements > max_elements / d)) fail(label, where + ": shape too large");
            elements *= d;
            e.shape.push_back(static_cast<std::int64_t>(d));
        }
        std::uint64_t begin = 0, end = 0;
        if (offsets.at(0).get(begin) || offsets.at(1).get(end)) fail(label, where + ": data_offsets must be whole numbers");
        if (begin > end || end > data.size())
            fail(label, where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                            "] lie outside the " + std::to_string(data.size()) + " bytes of data (truncated?)");
        const std::uint64_t expected = elements * info->size; // at most 2^43: no overflow
        if (expected != end - begin)
            fail(label, where + ": " + std::string(info->name) + " of shape " + shape_string(e.shape) + " needs " +
                            std::to_string(expected) + " bytes, data_offsets give " +
                            std::to_string(end - begin));
        e.bytes = data.substr(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin));
        out.push_back(std::move(e));
    }
    // No two tensors may share bytes.
    std::vector<const tensor_entry*> order;
    for (const auto& e : out)
        if (!e.bytes.empty()) order.push_back(&e);
    std::sort(order.begin(), order.end(), [](const tensor_entry* a, const tensor_entry* b) { return a->bytes.data() < b->bytes.data(); });
    for (std::size_t i = 1; i < order.size(); ++i)
        if (order[i - 1]->bytes.data() + order[i - 1]->bytes.size() > order[i]->bytes.data())
            fail(label, "tensors " + order[i - 1]->name + " and " + order[i]->name + " overlap");
    return out;
}

weight_files weight_files::open(const std::filesystem::path& dir, const safetensors_limits& limits) {
    weight_files w;
    std::error_code ec;
    const auto single = dir / "model.safetensors";
    const auto index = dir / "model.safetensors.index.json";
    std::map<std::string, std::string> weight_map; // tensor -> shard
    std::vector<std::string> shards;
    if (std::filesystem::is_regular_file(index, ec)) {
        std::ifstream in(index, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        const std::string text = ss.str();
        if (text.size() > (64U << 20)) fail("model.safetensors.index.json", "larger than 64 MiB");
        simdjson::dom::parser p;
        simdjson::dom::object root, map;
        if (p.parse(text).get(root)) fail("model.safetensors.index.json", "not a JSON object");
        if (root["weight_map"].get(map)) fail("model.safetensors.index.json", "weight_map missing or not an object");
        for (auto [k, v] : map) {
            std::string_view shard;
            if (v.get(shard)) fail("model.safetensors.index.json", "weight_map." + std::string(k) + ": expected a file name");
            if (!safe_name(shard))
                fail("model.safetensors.index.json", "weight_map." + std::string(k) + ": \"" + std::string(shard) +
                                                         "\" is not a file name in the folder");
            weight_map.emplace(std::string(k), std::string(shard));
            if (std::find(shards.begin(), shards.end(), shard) == shards.end()) {
                shards.emplace_back(shard);
                if (shards.size() > limits.max_shards) fail("model.safetensors.index.json", "too many shards");
            }
        }
    } else if (std::filesystem::is_regular_file(single, ec)) {
        shards.push_back("model.safetensors");
    } else {
        throw folder_error(dir.string() + ": no model.safetensors or model.safetensors.index.json (weights in the "
                                          "safetensors format are needed; .bin checkpoints can be converted with "
                                          "transformers' save_pretrained(safe_serialization=True))");
    }
    for (const auto& shard : shards) {
        const auto file = mapped_file::open(dir / shard);
        auto entries = parse_safetensors(file->bytes(), shard, limits);
        for (auto& e : entries) {
            if (!weight_map.empty()) {
                auto it = weight_map.find(e.name);
                if (it == weight_map.end() || it->second != shard) continue; // the index decides where a tensor lives
            }
            e.file = file;
            w.total_bytes_ += e.bytes.size();
            const std::string name = e.name;
            if (!w.tensors_.emplace(name, std::move(e)).second) fail(shard, "tensor " + name + " is in two shards");
        }
        w.describe_ += (w.describe_.empty() ? "" : ", ") + shard;
    }
    for (const auto& [name, shard] : weight_map)
        if (!w.tensors_.count(name)) fail(shard, "tensor " + name + " is named in model.safetensors.index.json but missing");
    return w;
}

const tensor_entry* weight_files::find(std::string_view name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
}

} // namespace tether::agent::hf
