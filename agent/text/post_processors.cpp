#include "text/post_processors.hpp"

#include <map>

namespace tether::agent::text {
namespace {

constexpr std::size_t max_sequence = 64;
constexpr std::size_t max_template = 64;

// cls + ids + sep (Roberta and Bert are the same for one sequence).
class around final : public post_processor {
  public:
    around(token_id cls, token_id sep) : cls_(cls), sep_(sep) {}
    void process(std::vector<token_id>& ids, bool add) const override {
        if (!add) return;
        ids.insert(ids.begin(), cls_);
        ids.push_back(sep_);
    }
    std::size_t added_tokens() const override { return 2; }

  private:
    token_id cls_, sep_;
};

class nothing final : public post_processor {
  public:
    void process(std::vector<token_id>&, bool) const override {}
    std::size_t added_tokens() const override { return 0; }
};

class template_processing final : public post_processor {
  public:
    // One entry per template piece: the special token's ids, or nullopt for the sequence.
    explicit template_processing(std::vector<std::optional<std::vector<token_id>>> single) : single_(std::move(single)) {}
    void process(std::vector<token_id>& ids, bool add) const override {
        if (!add) return;
        std::vector<token_id> out;
        out.reserve(ids.size() + 8);
        for (const auto& piece : single_) {
            if (piece) out.insert(out.end(), piece->begin(), piece->end());
            else out.insert(out.end(), ids.begin(), ids.end());
        }
        ids = std::move(out);
    }
    std::size_t added_tokens() const override {
        std::size_t n = 0;
        for (const auto& p : single_)
            if (p) n += p->size();
        return n;
    }

  private:
    std::vector<std::optional<std::vector<token_id>>> single_;
};

class sequence final : public post_processor {
  public:
    explicit sequence(std::vector<std::unique_ptr<post_processor>> parts) : parts_(std::move(parts)) {}
    void process(std::vector<token_id>& ids, bool add) const override {
        for (const auto& p : parts_) p->process(ids, add);
    }
    std::size_t added_tokens() const override {
        std::size_t n = 0;
        for (const auto& p : parts_) n += p->added_tokens();
        return n;
    }

  private:
    std::vector<std::unique_ptr<post_processor>> parts_;
};

// ["<s>", 0]
token_id read_token_pair(const json_view& j) {
    if (!j.is_array() || j.array_size() != 2) j.fail("expected [token, id]");
    token_id id = 0;
    j.for_each(2, [&](std::size_t k, const json_view& part) {
        if (k == 0) (void)part.as_string();
        else id = static_cast<token_id>(part.as_uint(16'000'000));
    });
    return id;
}

std::unique_ptr<post_processor> make_template(const json_view& j) {
    std::map<std::string, std::vector<token_id>, std::less<>> specials;
    if (auto st = j.member("special_tokens")) {
        st->for_each_member(100'000, [&](std::string_view key, const json_view& value) {
            std::vector<token_id> ids;
            value.required("ids").for_each(max_template, [&](std::size_t, const json_view& id) {
                ids.push_back(static_cast<token_id>(id.as_uint(16'000'000)));
            });
            specials[std::string(key)] = std::move(ids);
        });
    }
    std::vector<std::optional<std::vector<token_id>>> single;
    j.required("single").for_each(max_template, [&](std::size_t, const json_view& piece) {
        if (auto s = piece.member("Sequence")) {
            const std::string id = s->required("id").as_string();
            if (id != "A") s->required("id").fail("a single-sequence template can only hold sequence A");
            single.emplace_back(std::nullopt);
        } else if (auto t = piece.member("SpecialToken")) {
            const std::string id = t->required("id").as_string();
            auto it = specials.find(id);
            if (it == specials.end()) t->required("id").fail("\"" + id + "\" is not in special_tokens");
            single.emplace_back(it->second);
        } else {
            piece.fail("expected {\"Sequence\": …} or {\"SpecialToken\": …}");
        }
    });
    return std::make_unique<template_processing>(std::move(single));
}

} // namespace

std::unique_ptr<post_processor> make_post_processor(const json_view& j) {
    if (j.is_null()) return nullptr;
    const std::string type = j.type();
    if (type == "TemplateProcessing") return make_template(j);
    if (type == "RobertaProcessing" || type == "BertProcessing")
        return std::make_unique<around>(read_token_pair(j.required("cls")), read_token_pair(j.required("sep")));
    if (type == "ByteLevel") return std::make_unique<nothing>();
    if (type == "Sequence") {
        std::vector<std::unique_ptr<post_processor>> parts;
        j.required("processors").for_each(max_sequence, [&](std::size_t, const json_view& item) {
            if (auto p = make_post_processor(item)) parts.push_back(std::move(p));
        });
        return std::make_unique<sequence>(std::move(parts));
    }
    j.required("type").fail("unsupported post-processor \"" + type + "\"");
}

} // namespace tether::agent::text
