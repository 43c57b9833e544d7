#include "backends/torch/whisper/whisper_engine.hpp"

#include "backends/hf/folder_error.hpp"

#include <algorithm>
#include <optional>

namespace tether::agent::whisper {

whisper_engine::whisper_engine(std::unique_ptr<whisper_model> model, std::shared_ptr<const text::model_text> text,
                               std::size_t max_batch, std::chrono::microseconds batch_wait)
    : model_(std::move(model)), text_(std::move(text)), max_batch_(std::max<std::size_t>(max_batch, 1)),
      queue_(max_batch_, batch_wait, [this](std::vector<window_job>& jobs) { return model_->decode(jobs); }) {}

window_output whisper_engine::decode(window_job job) { return queue_.submit_one(std::move(job)); }

std::vector<std::int64_t> whisper_engine::prompt_tokens(std::string_view prompt) const {
    while (!prompt.empty() && (prompt.front() == ' ' || prompt.front() == '\n' || prompt.front() == '\t')) prompt.remove_prefix(1);
    while (!prompt.empty() && (prompt.back() == ' ' || prompt.back() == '\n' || prompt.back() == '\t')) prompt.remove_suffix(1);
    if (prompt.empty()) return {};
    const auto ids = text_->tokens().encode(" " + std::string(prompt), false);
    std::vector<std::int64_t> out;
    for (auto id : ids)
        if (static_cast<std::int64_t>(id) < model_->config().tokens.eot) out.push_back(id); // text only
    return out;
}

std::string whisper_engine::detokenize(std::span<const std::int64_t> ids) const {
    std::vector<text::token_id> t(ids.begin(), ids.end());
    return text_->tokens().decode(t, true);
}

transcript whisper_engine::transcribe(std::span<const float> samples, const decode_options& options,
                                      std::span<const std::int64_t> prompt, const std::function<void(const segment&)>& on_segment,
                                      const std::function<bool()>& cancelled) {
    transcribe_hooks hooks;
    hooks.decode = [this](window_job j) { return decode(std::move(j)); };
    hooks.detokenize = [this](std::span<const std::int64_t> ids) { return detokenize(ids); };
    hooks.on_segment = on_segment;
    hooks.cancelled = cancelled;
    return whisper::transcribe(samples, model_->config(), options, prompt, hooks);
}

std::unique_ptr<whisper_engine> load_whisper(const std::filesystem::path& dir, const load_options& options,
                                             std::size_t max_batch, std::chrono::microseconds batch_wait) {
    auto text = std::make_shared<const text::model_text>(text::model_text::load(dir));
    const auto& tok = text->tokens();
    auto config = hf::read_whisper_config(dir, [&tok](std::string_view name) -> std::optional<std::int64_t> {
        if (auto id = tok.token_to_id(name)) return static_cast<std::int64_t>(*id);
        return std::nullopt;
    });
    if (tok.vocab_size() > static_cast<std::size_t>(config.arch.vocab_size))
        throw hf::folder_error("tokenizer.json has " + std::to_string(tok.vocab_size()) + " tokens, config.json's vocab_size is " +
                               std::to_string(config.arch.vocab_size));
    auto model = std::make_unique<whisper_model>(dir, std::move(config), options);
    auto engine = std::make_unique<whisper_engine>(std::move(model), std::move(text), max_batch, batch_wait);
    // The warm-up, and the proof the folder runs: one window of noise, one token.
    window_job warm;
    const auto& a = engine->model().config().arch;
    warm.mel.assign(static_cast<std::size_t>(a.num_mel_bins * 2 * a.max_source_positions), 0.0F);
    warm.options.language = engine->model().config().tokens.language_ids.empty()
                                ? std::nullopt
                                : std::optional<std::int64_t>(engine->model().config().tokens.language_ids.front());
    warm.options.timestamps = false;
    warm.options.max_tokens = 1;
    std::vector<window_job> one;
    one.push_back(std::move(warm));
    (void)engine->model().decode(one);
    return engine;
}

} // namespace tether::agent::whisper
