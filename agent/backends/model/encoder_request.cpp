#include "backends/model/encoder_request.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>

namespace tether::agent {
namespace {

template <typename T> prepared<T> refuse(std::string message) {
    return {std::nullopt, input_error{"bad_input", std::move(message)}};
}

// params as an object, or the refusal's message.
std::optional<simdjson::dom::object> params_object(simdjson::dom::parser& parser, const std::string& json) {
    simdjson::dom::element root;
    if (parser.parse(json).get(root) || !root.is_object()) return std::nullopt;
    return root.get_object().value_unsafe();
}

bool present(simdjson::dom::object& params, std::string_view key, simdjson::dom::element& e) {
    return params.at_key(key).get(e) == simdjson::SUCCESS && !e.is_null();
}

std::optional<std::string> read_whole(simdjson::dom::element e, double lo, double hi, double& out) {
    double v = 0;
    if (e.get(v) || std::floor(v) != v || v < lo || v > hi) return fmt::format("expected a whole number from {} to {}", lo, hi);
    out = v;
    return std::nullopt;
}

std::optional<std::string> check_text(std::string_view s, const encoder_limits& limits) {
    if (s.empty()) return std::string("is empty");
    if (s.size() > limits.max_text_bytes)
        return fmt::format("is {} bytes, over the limit of {} bytes", s.size(), limits.max_text_bytes);
    return std::nullopt;
}

} // namespace

std::string asked_task(const job& j) {
    simdjson::dom::parser parser;
    auto params = params_object(parser, j.params_json);
    simdjson::dom::element e;
    std::string_view task;
    if (!params || !present(*params, "task", e) || e.get(task)) return {};
    return std::string(task);
}

prepared<encoder_text_request> prepare_encoder_text(const job& j, const encoder_limits& limits) {
    encoder_text_request r;
    simdjson::dom::parser parser;
    auto params = params_object(parser, j.params_json);
    if (!params) return refuse<encoder_text_request>("params: expected a JSON object");
    simdjson::dom::element e;
    if (present(*params, "input", e)) {
        r.from_input = true;
        r.truncate = false;
        std::string_view one;
        if (e.get(one) == simdjson::SUCCESS) {
            if (auto bad = check_text(one, limits)) return refuse<encoder_text_request>("input " + *bad);
            r.texts.emplace_back(one);
        } else if (e.is_array()) {
            simdjson::dom::array list = e.get_array().value_unsafe();
            if (list.size() == 0) return refuse<encoder_text_request>("input: the list is empty");
            if (list.size() > limits.max_inputs)
                return refuse<encoder_text_request>(
                    fmt::format("input: {} texts, over the limit of {} in one request", list.size(), limits.max_inputs));
            std::size_t i = 0;
            for (auto item : list) {
                std::string_view s;
                if (item.get(s)) {
                    const bool tokens = item.is_array() || item.is_int64() || item.is_uint64();
                    return refuse<encoder_text_request>(
                        tokens ? "input: token ids are not taken; send the texts as strings"
                               : fmt::format("input[{}]: expected a string", i));
                }
                if (auto bad = check_text(s, limits)) return refuse<encoder_text_request>(fmt::format("input[{}] {}", i, *bad));
                r.texts.emplace_back(s);
                ++i;
            }
        } else {
            return refuse<encoder_text_request>("input: expected a string or an array of strings");
        }
    } else {
        if (auto bad = check_text(j.prompt, limits)) return refuse<encoder_text_request>("the prompt " + *bad);
        r.texts.push_back(j.prompt);
    }
    if (present(*params, "truncate", e)) {
        bool b = false;
        if (e.get(b)) return refuse<encoder_text_request>("params.truncate: expected true or false");
        r.truncate = b;
    }
    if (present(*params, "top_k", e)) {
        double v = 0;
        if (auto bad = read_whole(e, 1, 1e6, v)) return refuse<encoder_text_request>("params.top_k: " + *bad);
        r.top_k = static_cast<std::size_t>(v);
    }
    if (present(*params, "dimensions", e)) {
        double v = 0;
        if (auto bad = read_whole(e, 1, 1 << 20, v)) return refuse<encoder_text_request>("params.dimensions: " + *bad);
        r.dimensions = static_cast<std::int64_t>(v);
    }
    return {std::move(r), {}};
}

prepared<seq2seq_request> prepare_seq2seq(const job& j, const encoder_limits& limits) {
    seq2seq_request r;
    simdjson::dom::parser parser;
    auto params = params_object(parser, j.params_json);
    if (!params) return refuse<seq2seq_request>("params: expected a JSON object");
    if (auto bad = check_text(j.prompt, limits)) return refuse<seq2seq_request>("the prompt " + *bad);
    r.text = j.prompt;
    simdjson::dom::element e;
    struct whole {
        const char* key;
        double lo, hi;
        std::optional<std::int64_t>* out;
    };
    const whole fields[] = {{"num_beams", 1, 16, &r.num_beams},
                            {"max_tokens", 1, 65536, &r.max_tokens},
                            {"min_length", 0, 65536, &r.min_length},
                            {"no_repeat_ngram_size", 0, 64, &r.no_repeat_ngram_size}};
    for (const auto& f : fields)
        if (present(*params, f.key, e)) {
            double v = 0;
            if (auto bad = read_whole(e, f.lo, f.hi, v)) return refuse<seq2seq_request>(std::string("params.") + f.key + ": " + *bad);
            *f.out = static_cast<std::int64_t>(v);
        }
    if (present(*params, "length_penalty", e)) {
        double v = 0;
        if (e.get(v) || !std::isfinite(v) || v < -10 || v > 10)
            return refuse<seq2seq_request>("params.length_penalty: expected a number from -10 to 10");
        r.length_penalty = v;
    }
    if (present(*params, "early_stopping", e)) {
        bool b = false;
        if (e.get(b)) return refuse<seq2seq_request>("params.early_stopping: expected true or false");
        r.early_stopping = b;
    }
    return {std::move(r), {}};
}

prepared<std::optional<std::size_t>> read_top_k(const job& j) {
    simdjson::dom::parser parser;
    auto params = params_object(parser, j.params_json);
    if (!params) return refuse<std::optional<std::size_t>>("params: expected a JSON object");
    simdjson::dom::element e;
    std::optional<std::size_t> top_k;
    if (present(*params, "top_k", e)) {
        double v = 0;
        if (auto bad = read_whole(e, 1, 1e6, v)) return refuse<std::optional<std::size_t>>("params.top_k: " + *bad);
        top_k = static_cast<std::size_t>(v);
    }
    return {top_k, {}};
}

std::vector<ranked_label> rank_labels(std::span<const float> logits, const std::vector<std::string>& labels,
                                      hf::label_scores scores, std::optional<std::size_t> top_k) {
    const std::size_t n = std::min(logits.size(), labels.size());
    std::vector<double> p(n);
    for (std::size_t i = 0; i < n; ++i) p[i] = logits[i];
    if (scores == hf::label_scores::softmax && n > 0) {
        const double top = *std::max_element(p.begin(), p.end());
        double sum = 0;
        for (auto& v : p) sum += (v = std::exp(v - top));
        for (auto& v : p) v /= sum;
    } else if (scores == hf::label_scores::sigmoid) {
        for (auto& v : p) v = 1.0 / (1.0 + std::exp(-v));
    }
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    const std::size_t k = std::min(top_k.value_or(n), n);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      [&p](std::size_t a, std::size_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    std::vector<ranked_label> out;
    out.reserve(k);
    for (std::size_t i = 0; i < k; ++i) out.push_back({labels[order[i]], p[order[i]]});
    return out;
}

std::vector<float> preprocess_image(const image_rgb& in, const hf::image_preprocess& p) {
    const image_rgb img = p.resize ? resize_pil(in, p.width, p.height, p.resample) : in;
    const auto plane = static_cast<std::size_t>(img.width) * img.height;
    std::vector<float> out(plane * 3);
    for (std::size_t c = 0; c < 3; ++c) {
        const auto mean = static_cast<float>(p.normalize ? p.mean[c] : 0.0);
        const auto std = static_cast<float>(p.normalize ? p.std[c] : 1.0);
        for (std::size_t i = 0; i < plane; ++i) {
            const double v = p.rescale ? img.pixels[i * 3 + c] * p.rescale_factor : img.pixels[i * 3 + c];
            out[c * plane + i] = (static_cast<float>(v) - mean) / std;
        }
    }
    return out;
}

std::string float_rows_bytes(const std::vector<std::vector<float>>& rows) {
    std::size_t n = 0;
    for (const auto& r : rows) n += r.size();
    std::string bytes(n * sizeof(float), '\0');
    std::size_t at = 0;
    for (const auto& r : rows)
        for (float f : r) {
            std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
            if constexpr (std::endian::native == std::endian::big) bits = __builtin_bswap32(bits);
            std::memcpy(bytes.data() + at, &bits, sizeof bits);
            at += sizeof bits;
        }
    return bytes;
}

} // namespace tether::agent
