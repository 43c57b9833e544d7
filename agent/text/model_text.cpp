#include "text/model_text.hpp"

#include "text/jinja/value.hpp"

#include <fstream>

namespace tether::agent::text {
namespace {

constexpr std::size_t max_config_bytes = 16U << 20;
constexpr std::size_t max_template_bytes = 1U << 20;

std::optional<std::string> read_optional(const std::filesystem::path& p, std::size_t max) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec)) return std::nullopt;
    const auto size = std::filesystem::file_size(p, ec);
    if (ec) throw text_error(p.filename().string() + ": cannot read: " + ec.message());
    if (size > max) throw text_error(p.filename().string() + ": larger than " + std::to_string(max >> 10) + " KiB");
    std::ifstream in(p, std::ios::binary);
    std::string s(static_cast<std::size_t>(size), '\0');
    in.read(s.data(), static_cast<std::streamsize>(size));
    if (!in) throw text_error(p.filename().string() + ": cannot read");
    return s;
}

// A parsed JSON file kept alive with its parser.
struct json_file {
    simdjson::dom::parser parser;
    std::string text;
    std::optional<json_view> root;
    bool load(const std::filesystem::path& p) {
        auto t = read_optional(p, max_config_bytes);
        if (!t) return false;
        text = std::move(*t);
        widen_big_integers(text);
        simdjson::dom::element e;
        if (auto err = parser.parse(text).get(e))
            throw text_error(p.filename().string() + ": not valid JSON (" + simdjson::error_message(err) + ")");
        root.emplace(e, p.filename().string(), "");
        if (!root->is_object()) root->fail("expected an object");
        return true;
    }
};

// "…" or {"content": "…", …} (AddedToken, old or new style).
std::optional<std::string> token_text(const json_view& j) {
    if (j.is_null()) return std::nullopt;
    if (j.is_string()) return j.as_string();
    if (j.is_object()) return j.required("content").as_string();
    j.fail("expected a token string or {\"content\": …}");
}

void add_ids(const json_view& j, std::set<token_id>& out) {
    if (j.is_array()) {
        j.for_each(1024, [&](std::size_t, const json_view& id) { out.insert(static_cast<token_id>(id.as_uint(16'000'000))); });
    } else {
        out.insert(static_cast<token_id>(j.as_uint(16'000'000)));
    }
}

} // namespace

model_text model_text::load(const std::filesystem::path& dir, const std::filesystem::path& fallback_template) {
    model_text m;
    const auto tok_file = dir / "tokenizer.json";
    std::error_code ec;
    if (!std::filesystem::is_regular_file(tok_file, ec))
        throw text_error(dir.string() + ": no tokenizer.json (a folder with only a slow tokenizer can be converted by "
                                        "saving it with transformers' AutoTokenizer.save_pretrained)");
    m.tokenizer_ = std::make_shared<tokenizer>(tokenizer::from_file(tok_file));

    json_file cfg;
    if (cfg.load(dir / "tokenizer_config.json")) {
        const json_view& c = *cfg.root;
        for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"})
            if (auto t = c.member(key))
                if (auto s = token_text(*t)) m.special_[key] = *s;
        if (auto ml = c.member("model_max_length"); ml && !ml->raw().is_double()) {
            const auto v = ml->as_int();
            if (v > 0 && v < (std::int64_t{1} << 40)) m.model_max_length_ = static_cast<std::size_t>(v);
        }
        if (auto t = c.member("chat_template")) {
            std::optional<std::string> source;
            if (t->is_string()) {
                source = t->as_string();
            } else if (t->is_array()) {
                std::optional<std::string> first;
                t->for_each(64, [&](std::size_t, const json_view& item) {
                    const std::string name = item.required("name").as_string();
                    const std::string text = item.required("template").as_string();
                    if (!first) first = text;
                    if (name == "default") source = text;
                });
                if (!source) t->fail("a list of chat templates without one named \"default\"");
            } else {
                t->fail("expected a string or a list of {name, template}");
            }
            if (source->size() > max_template_bytes) t->fail("the chat template is larger than 1 MiB");
            m.chat_.emplace(std::move(*source), "tokenizer_config.json chat_template");
        }
    }
    if (auto jinja = read_optional(dir / "chat_template.jinja", max_template_bytes))
        m.chat_.emplace(std::move(*jinja), "chat_template.jinja");
    if (!m.chat_ && !fallback_template.empty()) {
        auto text = read_optional(fallback_template, max_template_bytes);
        if (!text) throw text_error(fallback_template.string() + ": no such file (--chat-template)");
        m.chat_.emplace(std::move(*text), fallback_template.filename().string());
    }

    // The EOS set: generation_config ∪ config ∪ the tokenizer's eos_token.
    json_file gen;
    if (gen.load(dir / "generation_config.json")) {
        const json_view& g = *gen.root;
        if (auto e = g.member("eos_token_id")) add_ids(*e, m.eos_);
        if (auto b = g.member("bos_token_id")) m.bos_ = static_cast<token_id>(b->as_uint(16'000'000));
        if (auto p = g.member("pad_token_id"); p && !p->is_array()) m.pad_ = static_cast<token_id>(p->as_uint(16'000'000));
        if (auto v = g.member("temperature")) m.defaults_.temperature = v->as_double();
        if (auto v = g.member("top_p")) m.defaults_.top_p = v->as_double();
        if (auto v = g.member("top_k")) m.defaults_.top_k = v->as_int();
        if (auto v = g.member("repetition_penalty")) m.defaults_.repetition_penalty = v->as_double();
        if (auto v = g.member("max_new_tokens")) m.defaults_.max_new_tokens = v->as_int();
        if (auto v = g.member("do_sample")) m.defaults_.do_sample = v->as_bool();
    }
    json_file conf;
    if (conf.load(dir / "config.json")) {
        const json_view& c = *conf.root;
        if (auto e = c.member("eos_token_id")) add_ids(*e, m.eos_);
        if (!m.bos_)
            if (auto b = c.member("bos_token_id"); b && !b->is_array()) m.bos_ = static_cast<token_id>(b->as_uint(16'000'000));
        if (!m.pad_)
            if (auto p = c.member("pad_token_id"); p && !p->is_array()) m.pad_ = static_cast<token_id>(p->as_uint(16'000'000));
    }
    if (auto it = m.special_.find("eos_token"); it != m.special_.end())
        if (auto id = m.tokenizer_->token_to_id(it->second)) m.eos_.insert(*id);
    if (!m.bos_)
        if (auto it = m.special_.find("bos_token"); it != m.special_.end()) m.bos_ = m.tokenizer_->token_to_id(it->second);
    if (!m.pad_)
        if (auto it = m.special_.find("pad_token"); it != m.special_.end()) m.pad_ = m.tokenizer_->token_to_id(it->second);
    return m;
}

std::string model_text::render_chat(const chat_request& request) const {
    if (!chat_) throw text_error("this model has no chat template (tokenizer_config.json chat_template or chat_template.jinja)");
    return chat_->render(request, special_);
}

std::string model_text::render_chat_json(std::string_view messages_json, bool add_generation_prompt) const {
    chat_request r;
    try {
        r.messages = jinja::from_json(messages_json);
    } catch (const jinja::template_error& e) {
        throw text_error(std::string("the messages are ") + e.what());
    }
    if (!r.messages.is_list()) throw text_error("the messages must be a JSON array of {role, content}");
    r.add_generation_prompt = add_generation_prompt;
    return render_chat(r);
}

} // namespace tether::agent::text
