#pragma once
// Reading model-folder JSON (tokenizer.json, tokenizer_config.json,
// generation_config.json) with errors that name the file and the JSON path:
// `tokenizer.json: pre_tokenizer.pretokenizers[1].type: unsupported "X"`.
// A thin layer over simdjson's DOM; every accessor checks the type it reads.

#include <simdjson.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tether::agent::text {

// A model folder's text files are wrong or use something not supported; the
// message names the file, the JSON path and what is wrong.
struct text_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A chat template refused a conversation (raise_exception in the template,
// e.g. roles that do not alternate): the client's mistake, not the model's.
struct chat_refused : text_error {
    using text_error::text_error;
};

// Python's json writes integers of any size (transformers' "unlimited"
// model_max_length is 1e30 as an integer); simdjson refuses those above
// 64 bits. Rewrites such literals, outside strings, as floats.
void widen_big_integers(std::string& json);

class json_view {
  public:
    json_view(simdjson::dom::element e, std::string file, std::string path)
        : e_(e), file_(std::move(file)), path_(std::move(path)) {}

    const std::string& path() const { return path_; }
    const std::string& file() const { return file_; }
    simdjson::dom::element raw() const { return e_; }

    [[noreturn]] void fail(const std::string& message) const;

    bool is_null() const { return e_.is_null(); }
    bool is_object() const { return e_.is_object(); }
    bool is_array() const { return e_.is_array(); }
    bool is_string() const { return e_.is_string(); }

    // Object members: absent (or null, when `null_is_absent`) gives nullopt.
    std::optional<json_view> member(std::string_view key, bool null_is_absent = true) const;
    json_view required(std::string_view key) const;

    std::string as_string() const;
    bool as_bool() const;
    std::int64_t as_int() const;
    std::uint64_t as_uint(std::uint64_t max) const;
    double as_double() const;

    std::string string_or(std::string_view key, std::string fallback) const;
    bool bool_or(std::string_view key, bool fallback) const;
    std::optional<std::string> optional_string(std::string_view key) const;

    // Arrays: calls f(index, element); checks it is an array of at most `max`.
    void for_each(std::size_t max, const std::function<void(std::size_t, const json_view&)>& f) const;
    std::size_t array_size() const;
    // Objects: f(key, value) in document order; at most `max` members.
    void for_each_member(std::size_t max,
                         const std::function<void(std::string_view, const json_view&)>& f) const;

    // The `type` field, for tagged components.
    std::string type() const { return required("type").as_string(); }

  private:
    simdjson::dom::element e_;
    std::string file_;
    std::string path_;
};

} // namespace tether::agent::text
