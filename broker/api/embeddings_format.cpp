#include "api/embeddings_format.hpp"

#include "tether/protocol/json_writer.hpp"
#include "tether/shared/base64.hpp"

#include <simdjson.h>

#include <bit>
#include <cmath>
#include <cstring>

namespace tether::broker::api {

namespace {

openai_error invalid(std::string message, std::string param) { return invalid_request(std::move(message), std::move(param)); }

} // namespace

std::optional<embeddings_request> parse_embeddings_request(std::string_view body, openai_error& error,
                                                           const embeddings_limits& limits) {
    simdjson::dom::parser parser;
    const auto body_obj = body_object(parser, body, error);
    if (!body_obj) return std::nullopt;
    simdjson::dom::object obj = *body_obj;
    embeddings_request out;
    std::string_view model;
    if (obj["model"].get_string().get(model) || model.empty()) {
        error = invalid("'model' is required: the name of a space (see GET /v1/models)", "model");
        return std::nullopt;
    }
    out.model = std::string(model);
    protocol::json_writer w;
    w.begin_object().key("task").value("embeddings").key("input").begin_array();
    simdjson::dom::element input;
    if (obj.at_key("input").get(input) || input.is_null()) {
        error = invalid("'input' is required: a string or an array of strings", "input");
        return std::nullopt;
    }
    auto token_ids = [&] {
        error = invalid("'input' as token ids is not supported: send the text as strings (LangChain: "
                        "check_embedding_ctx_length=False)",
                        "input");
    };
    std::string_view text;
    if (!input.get_string().get(text)) {
        if (text.empty()) {
            error = invalid("'input' cannot be an empty string", "input");
            return std::nullopt;
        }
        w.value(text);
        out.inputs = 1;
    } else if (input.is_array()) {
        simdjson::dom::array list = input.get_array().value_unsafe();
        if (list.size() == 0) {
            error = invalid("'input' cannot be an empty array", "input");
            return std::nullopt;
        }
        if (list.size() > limits.max_inputs) {
            error = invalid("'input' has " + std::to_string(list.size()) + " items; at most " +
                                std::to_string(limits.max_inputs) + " are taken in one request",
                            "input");
            return std::nullopt;
        }
        std::size_t i = 0;
        for (auto item : list) {
            if (item.get_string().get(text)) {
                if (item.is_array() || item.is_int64() || item.is_uint64()) token_ids();
                else error = invalid("'input[" + std::to_string(i) + "]' must be a string", "input");
                return std::nullopt;
            }
            if (text.empty()) {
                error = invalid("'input[" + std::to_string(i) + "]' cannot be an empty string", "input");
                return std::nullopt;
            }
            w.value(text);
            ++i;
        }
        out.inputs = i;
    } else {
        if (input.is_int64() || input.is_uint64()) token_ids();
        else error = invalid("'input' must be a string or an array of strings", "input");
        return std::nullopt;
    }
    w.end_array();
    simdjson::dom::element e;
    if (!obj.at_key("encoding_format").get(e) && !e.is_null()) {
        std::string_view f;
        if (e.get_string().get(f) || (f != "float" && f != "base64")) {
            error = invalid("'encoding_format' must be \"float\" or \"base64\"", "encoding_format");
            return std::nullopt;
        }
        out.base64 = f == "base64";
    }
    if (!obj.at_key("dimensions").get(e) && !e.is_null()) {
        std::int64_t d = 0;
        if (e.get_int64().get(d) || d < 1 || d > (1 << 20)) {
            error = invalid("'dimensions' must be a positive whole number", "dimensions");
            return std::nullopt;
        }
        w.key("dimensions").value(d);
    }
    if (!obj.at_key("user").get(e) && !e.is_null() && !e.is_string()) {
        error = invalid("'user' must be a string", "user");
        return std::nullopt;
    }
    w.end_object();
    out.params_json = w.take();
    return out;
}

embeddings_result read_embeddings_result(std::string_view data_json) {
    embeddings_result r;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(data_json.data(), data_json.size()).get(doc)) return r;
    simdjson::dom::object res;
    if (doc["result"].get_object().get(res)) return r;
    // The agent's numbers are bounded before anything is sized from them.
    std::uint64_t v = 0;
    if (!res["count"].get_uint64().get(v) && v <= max_embedding_rows) r.count = v;
    if (!res["dimensions"].get_uint64().get(v) && v <= max_embedding_dimensions) r.dimensions = v;
    if (!res["usage"]["prompt_tokens"].get_uint64().get(v)) r.prompt_tokens = v;
    simdjson::dom::array files;
    if (res["files"].get_array().get(files)) return r;
    for (auto f : files) {
        std::string_view name;
        if (f["name"].get_string().get(name) || name != "embeddings.f32") continue;
        if (!f["blob"].get_uint64().get(v) && v <= UINT32_MAX) {
            r.blob = static_cast<std::uint32_t>(v);
            r.has_file = true;
        }
    }
    return r;
}

std::optional<std::string> embeddings_response_json(const embeddings_result& r, std::string_view rows, std::string_view model,
                                                    bool base64) {
    if (r.count == 0 || r.count > max_embedding_rows || r.dimensions == 0 || r.dimensions > max_embedding_dimensions ||
        rows.size() != r.count * r.dimensions * sizeof(float)) return std::nullopt;
    const std::size_t row_bytes = r.dimensions * sizeof(float);
    protocol::json_writer w;
    w.begin_object().key("object").value("list").key("data").begin_array();
    for (std::uint64_t i = 0; i < r.count; ++i) {
        const std::string_view row = rows.substr(i * row_bytes, row_bytes);
        w.begin_object().key("object").value("embedding").key("index").value(i).key("embedding");
        if (base64) {
            // OpenAI's base64 is of the float32 values, little-endian: the file's bytes as they are.
            w.value(base64_encode(row));
        } else {
            w.begin_array();
            for (std::size_t k = 0; k < r.dimensions; ++k) {
                std::uint32_t bits = 0;
                std::memcpy(&bits, row.data() + k * sizeof(float), sizeof bits);
                if constexpr (std::endian::native == std::endian::big) bits = __builtin_bswap32(bits);
                w.value(std::bit_cast<float>(bits));
            }
            w.end_array();
        }
        w.end_object();
    }
    w.end_array().key("model").value(model);
    w.key("usage").begin_object().key("prompt_tokens").value(r.prompt_tokens).key("total_tokens").value(r.prompt_tokens);
    w.end_object().end_object();
    return w.take();
}

} // namespace tether::broker::api
