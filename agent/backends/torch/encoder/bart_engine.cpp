#include "backends/torch/encoder/bart_engine.hpp"

#include "backends/hf/folder_error.hpp"
#include "backends/model/encoder_request.hpp"
#include "text/streaming.hpp"

#include "tether/protocol/json_writer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace tether::agent::encoder {

namespace {

seq2seq_output cancelled_output() {
    seq2seq_output out;
    out.finish_reason = "cancelled";
    return out;
}

seq2seq_output error_output() {
    seq2seq_output out;
    out.finish_reason = "error";
    return out;
}

} // namespace

// One request, shared by the generate() call that waits for it and the
// engine's thread.
struct bart_engine::request {
    request(std::vector<std::int64_t> in, const seq2seq_options& o, cancellation_token& c, std::function<void(std::int64_t)> t)
        : input(std::move(in)), options(o), cancel(c), on_token(std::move(t)) {}

    std::vector<std::int64_t> input;
    seq2seq_options options;
    cancellation_token& cancel;
    std::function<void(std::int64_t)> on_token;
    std::unique_ptr<bart_sequence> sequence; // the engine thread's, once it joined

    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    outcome result;
};

bart_engine::bart_engine(std::unique_ptr<bart_model> model, std::shared_ptr<const text::model_text> text, std::uint32_t slots,
                         std::chrono::microseconds wait)
    : model_(std::move(model)), text_(std::move(text)), slots_(std::max<std::uint32_t>(slots, 1)),
      wait_(std::clamp<std::chrono::microseconds>(wait, std::chrono::microseconds::zero(), std::chrono::seconds(1))) {
    thread_ = std::thread([this] { loop(); });
}

bart_engine::~bart_engine() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

bart_engine_stats bart_engine::stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

void bart_engine::finish(request& r, seq2seq_output out, std::string error) {
    std::lock_guard lock(r.mu);
    r.result.out = std::move(out);
    r.result.error = std::move(error);
    r.done = true;
    r.cv.notify_all();
}

bart_engine::outcome bart_engine::generate(std::vector<std::int64_t> input, const seq2seq_options& options,
                                           cancellation_token& cancel, std::function<void(std::int64_t)> on_token) {
    auto r = std::make_shared<request>(std::move(input), options, cancel, std::move(on_token));
    {
        std::lock_guard lock(mu_);
        if (stopping_) return {cancelled_output(), {}};
        pending_.push_back(r);
    }
    cv_.notify_all();
    std::unique_lock lock(r->mu);
    r->cv.wait(lock, [&] { return r->done; });
    return std::move(r->result);
}

// Encodes the joining requests in one call and moves those with something to
// make into `active`.
void bart_engine::admit(std::vector<std::shared_ptr<request>>& joining, std::vector<std::shared_ptr<request>>& active) {
    std::vector<std::vector<std::int64_t>> inputs;
    std::vector<seq2seq_options> options;
    for (const auto& r : joining) {
        inputs.push_back(r->input);
        options.push_back(r->options);
    }
    std::vector<std::unique_ptr<bart_sequence>> started;
    try {
        started = model_->start(inputs, options);
    } catch (const std::exception& e) {
        for (const auto& r : joining) finish(*r, error_output(), e.what());
        return;
    }
    {
        std::lock_guard lock(mu_);
        ++stats_.encoder_calls;
    }
    for (std::size_t i = 0; i < joining.size(); ++i) {
        auto& r = joining[i];
        r->sequence = std::move(started[i]);
        if (r->sequence->done()) finish(*r, r->sequence->result());
        else active.push_back(std::move(r));
    }
}

void bart_engine::loop() {
    std::vector<std::shared_ptr<request>> active;
    for (;;) {
        std::vector<std::shared_ptr<request>> joining;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !pending_.empty() || !active.empty(); });
            if (!stopping_ && active.empty() && pending_.size() < slots_ && wait_.count() > 0)
                cv_.wait_for(lock, wait_, [&] { return stopping_ || pending_.size() >= slots_; });
            if (stopping_) {
                for (auto& r : pending_) finish(*r, cancelled_output());
                pending_.clear();
                for (auto& r : active) finish(*r, cancelled_output());
                return;
            }
            // Cancelled ones leave at once, waiting or running.
            for (auto it = pending_.begin(); it != pending_.end();)
                if ((*it)->cancel.cancelled()) finish(**it, cancelled_output()), it = pending_.erase(it);
                else ++it;
            while (!pending_.empty() && active.size() + joining.size() < slots_) {
                joining.push_back(std::move(pending_.front()));
                pending_.pop_front();
            }
        }
        std::erase_if(active, [](const auto& r) {
            if (!r->cancel.cancelled()) return false;
            finish(*r, cancelled_output());
            return true;
        });
        if (!joining.empty()) admit(joining, active);
        if (active.empty()) continue;
        std::vector<bart_sequence*> step;
        std::uint32_t rows = 0;
        for (const auto& r : active) {
            step.push_back(r->sequence.get());
            rows += static_cast<std::uint32_t>(r->sequence->rows());
        }
        try {
            model_->step(step);
        } catch (const std::exception& e) {
            for (auto& r : active) finish(*r, error_output(), e.what());
            active.clear();
            continue;
        }
        {
            std::lock_guard lock(mu_);
            ++stats_.steps;
            stats_.widest_step = std::max(stats_.widest_step, static_cast<std::uint32_t>(active.size()));
            stats_.widest_rows = std::max(stats_.widest_rows, rows);
        }
        std::erase_if(active, [](const auto& r) {
            if (r->on_token && r->sequence->chosen()) r->on_token(*r->sequence->chosen());
            if (!r->sequence->done()) return false;
            finish(*r, r->sequence->result());
            return true;
        });
    }
}

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
    if (cancel.cancelled()) return;
    const auto start = std::chrono::steady_clock::now();
    text::incremental_decoder decoder(text_->tokens(), true);
    std::string streamed;
    const bool greedy = o.num_beams == 1;
    auto [out, error] = generate(input, o, cancel, [&](std::int64_t id) {
        if (!greedy) return;
        if (auto d = decoder.push(static_cast<text::token_id>(id)); !d.empty()) {
            streamed += d;
            sink.delta(std::move(d));
        }
    });
    if (out.finish_reason == "cancelled") return;
    if (out.finish_reason == "error") return sink.failed("model_error", error);
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

std::unique_ptr<bart_engine> load_bart(const std::filesystem::path& dir, const load_options& options, std::uint32_t slots,
                                       std::chrono::microseconds wait) {
    auto config = hf::read_bart_config(dir);
    auto text = std::make_shared<const text::model_text>(text::model_text::load(dir));
    if (text->tokens().vocab_size() > static_cast<std::size_t>(config.vocab_size))
        throw hf::folder_error("tokenizer.json has " + std::to_string(text->tokens().vocab_size()) +
                               " tokens, config.json's vocab_size is " + std::to_string(config.vocab_size));
    auto model = std::make_unique<bart_model>(dir, std::move(config), options);
    seq2seq_options warm;
    warm.max_length = 2;
    (void)model->generate({model->config().generation.bos, model->config().generation.eos}, warm, {}, {});
    return std::make_unique<bart_engine>(std::move(model), std::move(text), slots, wait);
}

} // namespace tether::agent::encoder
