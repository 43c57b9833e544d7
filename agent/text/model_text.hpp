#pragma once
// The text side of a Hugging Face model folder, loaded once: tokenizer.json,
// tokenizer_config.json (chat template, special tokens), chat_template.jinja,
// generation_config.json and config.json (the EOS set — Llama 3's
// <|eot_id|> is only in generation_config — BOS, pad, default sampling).
// Torch-free; what the engine, the CLI and the tests share.

#include "text/chat_template.hpp"
#include "text/tokenizer.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace tether::agent::text {

// Defaults a model folder suggests for sampling (generation_config.json).
struct generation_defaults {
    std::optional<double> temperature;
    std::optional<double> top_p;
    std::optional<std::int64_t> top_k;
    std::optional<double> repetition_penalty;
    std::optional<std::int64_t> max_new_tokens;
    std::optional<bool> do_sample;
};

class model_text {
  public:
    // Throws text_error naming the file and the JSON path. `fallback_template`:
    // a Jinja file used when the folder has no chat template of its own
    // (the operator's --chat-template).
    static model_text load(const std::filesystem::path& dir, const std::filesystem::path& fallback_template = {});

    const tokenizer& tokens() const { return *tokenizer_; }
    const chat_template* chat() const { return chat_ ? &*chat_ : nullptr; }
    // bos_token, eos_token, unk_token, pad_token, … as strings (for templates).
    const std::map<std::string, std::string>& special_tokens() const { return special_; }
    const std::set<token_id>& eos_ids() const { return eos_; }
    std::optional<token_id> bos_id() const { return bos_; }
    std::optional<token_id> pad_id() const { return pad_; }
    const generation_defaults& defaults() const { return defaults_; }
    std::optional<std::size_t> model_max_length() const { return model_max_length_; }

    // Renders a JSON array of messages (what `tokenize --chat` reads).
    std::string render_chat_json(std::string_view messages_json, bool add_generation_prompt) const;
    // Renders `request`; text_error when the folder has no chat template.
    std::string render_chat(const chat_request& request) const;

  private:
    std::shared_ptr<tokenizer> tokenizer_;
    std::optional<chat_template> chat_;
    std::map<std::string, std::string> special_;
    std::set<token_id> eos_;
    std::optional<token_id> bos_;
    std::optional<token_id> pad_;
    generation_defaults defaults_;
    std::optional<std::size_t> model_max_length_;
};

} // namespace tether::agent::text
