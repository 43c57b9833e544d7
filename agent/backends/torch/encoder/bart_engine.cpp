#include "backends/torch/encoder/bart_engine.hpp"

#include "backends/hf/folder_error.hpp"
#include "backends/model/encoder_request.hpp"
#include "text/streaming.hpp"

#include "tether/protocol/json_writer.hpp"

#include <fmt/format.h>

#include <chrono>

namespace tether::agent::encoder {

bart_engine::bart_engine(std::unique_ptr<bart_model> model, std::shared_ptr<const text::model_text> text)
    : model_(std::move(model)), text_(std::move(text)) {}

seq2seq_options bart_engine::defaults() const {
    const auto& g = model_->config().generation;
    seq2seq_options o;
    o.num_beams = g.num_beams;
    o.max_length = g.max_length;
    o.min_length = g.min_length;
    o.no_repeat_ngram_size = g.no_repeat_ngram_size;
    o.length_penalty = g.length_penalty;
    o.early_stopping = g.early_stopping;
    return o;
}

void bart_engine::run(const job& j, cancellation_token& cancel, result_sink& sink) {
    auto prep = prepare_seq2seq(j, encoder_limits{});
    if (!prep.ok()) return sink.failed(prep.error.code, prep.error.message);
    const auto& req = *prep.value;
    const auto& cfg = model_->config();
    seq2seq_options o = defaults();
    if (req.num_beams) o.num_beams = *req.num_beams;
    if (req.max_tokens) o.max_length = *req.max_tokens + 1; // transformers counts the start token
    if (req.min_length) o.min_length = *req.min_length;
    if (req.no_repeat_ngram_size) o.no_repeat_ngram_size = *req.no_repeat_ngram_size;
    if (req.length_penalty) o.length_penalty = *req.length_penalty;
    if (req.early_stopping) o.early_stopping = *req.early_stopping;
    o.max_length = std::min(o.max_length, cfg.max_position);
    if (o.min_length >= o.max_length)
        return sink.failed("bad_input", fmt::format("min_length {} leaves no room below the longest summary ({} tokens)",
                                                    o.min_length, o.max_length - 1));
    std::size_t uncut = 0;
    std::vector<text::token_id> ids;
    try {
        ids = text_->tokens().encode_truncated(req.text, true, static_cast<std::size_t>(cfg.max_position), &uncut);
    } catch (const text::text_error& e) {
        return sink.failed("bad_input", e.what());
    }
    const std::vector<std::int64_t> input(ids.begin(), ids.end());
    for (auto id : input)
        if (id < 0 || id >= cfg.vocab_size) return sink.failed("model_error", fmt::format("token id {} is not in the model's vocabulary", id));
    std::lock_guard lock(mutex_);
    if (cancel.cancelled()) return;
    const auto start = std::chrono::steady_clock::now();
    text::incremental_decoder decoder(text_->tokens(), true);
    std::string streamed;
    const bool greedy = o.num_beams == 1;
    auto out = model_->generate(
        input, o,
        [&](std::int64_t id) {
            if (!greedy) return;
            if (auto d = decoder.push(static_cast<text::token_id>(id)); !d.empty()) {
                streamed += d;
                sink.delta(std::move(d));
            }
        },
        [&cancel] { return cancel.cancelled(); });
    if (out.finish_reason == "cancelled") return;
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::string text_out;
    if (greedy) {
        if (auto rest = decoder.finish(); !rest.empty()) {
            streamed += rest;
            sink.delta(std::move(rest));
        }
        text_out = streamed;
    } else {
        const std::vector<text::token_id> t(out.tokens.begin(), out.tokens.end());
        text_out = text_->tokens().decode(t, true);
    }
    protocol::json_writer w;
    w.begin_object().key("finish_reason").value(out.finish_reason);
    w.key("num_beams").value(o.num_beams);
    w.key("usage").begin_object().key("prompt_tokens").value(static_cast<std::uint64_t>(input.size()));
    w.key("completion_tokens").value(static_cast<std::uint64_t>(out.tokens.size()));
    w.key("total_tokens").value(static_cast<std::uint64_t>(input.size() + out.tokens.size())).end_object();
    w.key("tokens").begin_array();
    for (auto t : out.tokens) w.value(t);
    w.end_array();
    if (uncut > input.size()) {
        w.key("truncated").value(true);
        w.key("note").value(fmt::format("the input was cut to its first {} of {} tokens, the model's maximum", input.size(), uncut));
    }
    w.key("metrics").begin_object().key("tokens_per_s").value(ms > 0 ? static_cast<double>(out.tokens.size()) / (ms / 1000) : 0.0);
    w.end_object().end_object();
    completion c;
    c.output = std::move(text_out);
    c.extra_json = w.take();
    c.inference_ms = ms;
    sink.completed(std::move(c));
}

std::unique_ptr<bart_engine> load_bart(const std::filesystem::path& dir, const load_options& options) {
    auto config = hf::read_bart_config(dir);
    auto text = std::make_shared<const text::model_text>(text::model_text::load(dir));
    if (text->tokens().vocab_size() > static_cast<std::size_t>(config.vocab_size))
        throw hf::folder_error("tokenizer.json has " + std::to_string(text->tokens().vocab_size()) +
                               " tokens, config.json's vocab_size is " + std::to_string(config.vocab_size));
    auto model = std::make_unique<bart_model>(dir, std::move(config), options);
    seq2seq_options warm;
    warm.max_length = 2;
    (void)model->generate({model->config().generation.bos, model->config().generation.eos}, warm, {}, {});
    return std::make_unique<bart_engine>(std::move(model), std::move(text));
}

} // namespace tether::agent::encoder
