#pragma once
// A Hugging Face tokenizer.json, loaded and run as the `tokenizers` library
// does: added tokens split out first, then normalizer -> pre-tokenizer ->
// model -> post-processor to encode, and the decoder to decode. Every
// component or option the loader does not support is refused with the file,
// the JSON path and the component named. Torch-free and thread-safe after load.

#include "text/added_vocabulary.hpp"
#include "text/decoders.hpp"
#include "text/model.hpp"
#include "text/normalizers.hpp"
#include "text/post_processors.hpp"
#include "text/pre_tokenizers.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent::text {

struct tokenizer_limits {
    std::size_t max_file_bytes = 64U << 20;
    std::size_t max_added_tokens = 200'000;
    std::size_t max_input_bytes = 64U << 20; // one encode call
    model_limits model;
};

class tokenizer {
  public:
    // Throws text_error (file and JSON path named) on anything wrong or unsupported.
    static tokenizer from_file(const std::filesystem::path& file, const tokenizer_limits& limits = {});
    // `label` names the source in errors ("tokenizer.json").
    static tokenizer from_json(std::string_view json, const std::string& label, const tokenizer_limits& limits = {});

    // Ids of `text`; invalid UTF-8 in it is first replaced by U+FFFD, as a
    // lossy conversion would. Throws text_error for input over the size
    // limit or a word the model cannot encode (no unk token to stand for it).
    std::vector<token_id> encode(std::string_view text, bool add_special_tokens) const;
    // The same, cut as the library's truncation (right side, longest first)
    // cuts one sequence: at most `max_length` ids with the special tokens
    // (0: no limit). `untruncated`, when given, gets the length uncut.
    std::vector<token_id> encode_truncated(std::string_view text, bool add_special_tokens, std::size_t max_length,
                                           std::size_t* untruncated) const;
    // The text of `ids`; ids the vocabulary does not know are left out.
    std::string decode(std::span<const token_id> ids, bool skip_special_tokens) const;
    // Token strings as the decoder receives them (added tokens and special
    // tokens resolved; unknown ids and, when asked, special ones dropped).
    std::vector<std::string> id_strings(std::span<const token_id> ids, bool skip_special_tokens) const;
    const decoder* get_decoder() const { return decoder_.get(); }

    std::optional<token_id> token_to_id(std::string_view token) const;
    std::optional<std::string> id_to_token(token_id id) const;
    bool is_special(token_id id) const;
    // A byte token (<0xXX>) the decoder's ByteFallback joins with its neighbours.
    bool is_fallback_byte(token_id id) const;
    // decode passes the id's string to the decoder (a known id, and not a
    // special one being skipped: decided by its text, as decode does).
    bool is_shown(token_id id, bool skip_special_tokens) const;
    // Ids: the model's vocabulary plus the added tokens not in it.
    std::size_t vocab_size() const;
    // Ids the post-processor adds around one sequence.
    std::size_t special_tokens_added() const { return post_ ? post_->added_tokens() : 0; }

  private:
    tokenizer() = default;

    tokenizer_limits limits_;
    std::unique_ptr<normalizer> normalizer_;
    std::unique_ptr<pre_tokenizer> pre_tokenizer_;
    std::unique_ptr<model> model_;
    std::unique_ptr<post_processor> post_;
    std::unique_ptr<decoder> decoder_;
    std::shared_ptr<added_vocabulary> added_ = std::make_shared<added_vocabulary>();
    std::vector<token_id> fallback_bytes_; // sorted
};

} // namespace tether::agent::text
