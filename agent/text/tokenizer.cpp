#include "text/tokenizer.hpp"

#include "text/unicode.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace tether::agent::text {

tokenizer tokenizer::from_file(const std::filesystem::path& file, const tokenizer_limits& limits) {
    const std::string label = file.filename().string();
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    if (ec) throw text_error(file.string() + ": cannot read: " + ec.message());
    if (size > limits.max_file_bytes)
        throw text_error(file.string() + ": larger than " + std::to_string(limits.max_file_bytes >> 20) + " MiB");
    std::ifstream in(file, std::ios::binary);
    if (!in) throw text_error(file.string() + ": cannot open");
    std::string json(static_cast<std::size_t>(size), '\0');
    in.read(json.data(), static_cast<std::streamsize>(size));
    if (!in) throw text_error(file.string() + ": cannot read");
    return from_json(json, label, limits);
}

tokenizer tokenizer::from_json(std::string_view json, const std::string& label, const tokenizer_limits& limits) {
    if (json.size() > limits.max_file_bytes)
        throw text_error(label + ": larger than " + std::to_string(limits.max_file_bytes >> 20) + " MiB");
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (auto err = parser.parse(json.data(), json.size()).get(root))
        throw text_error(label + ": not valid JSON (" + std::string(simdjson::error_message(err)) + ")");
    const json_view top(root, label, "");
    if (!top.is_object()) top.fail("expected an object");
    if (auto v = top.member("version"); v && v->as_string() != "1.0")
        v->fail("unknown tokenizer version \"" + v->as_string() + "\"");

    tokenizer t;
    t.limits_ = limits;
    if (auto n = top.member("normalizer")) t.normalizer_ = make_normalizer(*n);
    if (auto p = top.member("pre_tokenizer")) t.pre_tokenizer_ = make_pre_tokenizer(*p);
    t.model_ = make_model(top.required("model"), limits.model);
    if (auto p = top.member("post_processor")) t.post_ = make_post_processor(*p);
    if (auto d = top.member("decoder")) t.decoder_ = make_decoder(*d);

    std::vector<added_token> added;
    if (auto list = top.member("added_tokens")) {
        list->for_each(limits.max_added_tokens, [&](std::size_t, const json_view& item) {
            added_token a;
            a.content = item.required("content").as_string();
            if (a.content.size() > limits.model.max_token_bytes) item.fail("added token too long");
            a.single_word = item.bool_or("single_word", false);
            a.lstrip = item.bool_or("lstrip", false);
            a.rstrip = item.bool_or("rstrip", false);
            a.special = item.bool_or("special", false);
            a.normalized = item.bool_or("normalized", !a.special);
            added.push_back(std::move(a));
        });
    }
    t.added_->add(added, *t.model_, t.normalizer_.get());
    if (t.decoder_ && t.decoder_->groups_byte_tokens()) {
        // Every id whose string the ByteFallback step takes for a byte,
        // whatever else the vocabulary calls it (an added token "<0x25>", a
        // lowercase "<0xe4>", a string a Replace step turns into one).
        std::size_t n = t.model_->id_bound();
        if (auto top = t.added_->max_id(); top && *top + 1 > n) n = *top + 1;
        for (std::size_t id = 0; id < n; ++id)
            if (auto s = t.id_to_token(static_cast<token_id>(id)); s && t.decoder_->reaches_as_byte(*s))
                t.fallback_bytes_.push_back(static_cast<token_id>(id));
    }
    return t;
}

std::vector<token_id> tokenizer::encode(std::string_view text, bool add_special_tokens) const {
    return encode_truncated(text, add_special_tokens, 0, nullptr);
}

std::vector<token_id> tokenizer::encode_truncated(std::string_view text, bool add_special_tokens, std::size_t max_length,
                                                  std::size_t* untruncated) const {
    if (text.size() > limits_.max_input_bytes)
        throw text_error("the text is larger than " + std::to_string(limits_.max_input_bytes >> 20) +
                         " MiB, the most one encode takes");
    const std::string valid = to_valid_utf8(text);
    std::vector<piece> pieces = added_->extract_and_normalize(valid, normalizer_.get());
    if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(pieces);
    std::vector<token_id> ids;
    ids.reserve(valid.size() / 3 + 4);
    for (const auto& p : pieces) {
        if (p.token) ids.push_back(*p.token);
        else if (!p.text.empty()) model_->tokenize(p.text, ids);
    }
    const std::size_t added = post_ && add_special_tokens ? post_->added_tokens() : 0;
    if (untruncated) *untruncated = ids.size() + added;
    if (max_length > 0 && ids.size() + added > max_length) ids.resize(max_length > added ? max_length - added : 0);
    if (post_) post_->process(ids, add_special_tokens);
    return ids;
}

std::vector<std::string> tokenizer::id_strings(std::span<const token_id> ids, bool skip_special_tokens) const {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (const token_id id : ids) {
        std::optional<std::string> s = added_->text_of(id);
        if (!s) {
            auto m = model_->id_to_token(id);
            if (!m) continue;
            s = std::string(*m);
        }
        if (skip_special_tokens && added_->is_special_text(*s)) continue;
        tokens.push_back(std::move(*s));
    }
    return tokens;
}

std::string tokenizer::decode(std::span<const token_id> ids, bool skip_special_tokens) const {
    auto tokens = id_strings(ids, skip_special_tokens);
    if (decoder_) return decoder_->decode(std::move(tokens));
    std::string out;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        if (i > 0) out += ' ';
        out += tokens[i];
    }
    return out;
}

std::optional<token_id> tokenizer::token_to_id(std::string_view token) const {
    if (auto id = added_->find(token)) return id;
    return model_->token_to_id(token);
}

std::optional<std::string> tokenizer::id_to_token(token_id id) const {
    if (const auto* t = added_->token(id)) return t->content;
    if (auto m = model_->id_to_token(id)) return std::string(*m);
    return std::nullopt;
}

bool tokenizer::is_fallback_byte(token_id id) const {
    return std::binary_search(fallback_bytes_.begin(), fallback_bytes_.end(), id);
}

bool tokenizer::is_shown(token_id id, bool skip_special_tokens) const {
    return !id_strings(std::span<const token_id>(&id, 1), skip_special_tokens).empty();
}

bool tokenizer::is_special(token_id id) const {
    return added_->is_special(id);
}

std::size_t tokenizer::vocab_size() const {
    std::size_t n = model_->vocab_size();
    if (auto top = added_->max_id(); top && *top + 1 > n) n = *top + 1;
    return n;
}

} // namespace tether::agent::text
