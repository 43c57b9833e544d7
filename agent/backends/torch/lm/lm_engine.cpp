#include "backends/torch/lm/lm_engine.hpp"

#include "backends/model/text_coalescer.hpp"
#include "tether/shared/log.hpp"
#include "tether/shared/stop_matcher.hpp"
#include "text/streaming.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace tether::agent::lm {

using steady = std::chrono::steady_clock;

struct lm_engine::sequence {
    sequence(const lm_generation& gen, cancellation_token& c, const std::function<void(std::string)>& delta,
             const text::tokenizer& tok)
        : g(gen), cancel(c), on_delta(delta), sampler(gen.sampling, gen.seed, gen.prompt), decoder(tok, true),
          stops(gen.stop) {}

    const lm_generation& g;
    cancellation_token& cancel;
    const std::function<void(std::string)>& on_delta;
    lm_sampler sampler;
    text::incremental_decoder decoder;
    stop_matcher stops;
    text_coalescer coalescer;

    std::int32_t slot = -1;
    std::int64_t cached = 0;          // tokens whose keys and values are in the cache
    std::vector<std::int64_t> output; // generated ids
    steady::time_point submitted = steady::now(), first_token{};
    lm_outcome outcome;
    bool done = false;
    std::mutex mu; // guards done
    std::condition_variable cv;
};

lm_engine::lm_engine(std::unique_ptr<causal_lm> model, std::shared_ptr<const text::model_text> text,
                     const lm_engine_options& options)
    : model_(std::move(model)), text_(std::move(text)), options_(options) {
    if (options_.slots == 0) options_.slots = 1;
    context_ = std::min<std::int64_t>(model_->max_context(), options_.max_context > 0 ? options_.max_context : model_->max_context());
    cache_ = std::make_unique<kv_cache>(model_->make_cache(options_.slots, context_));
    for (std::int32_t i = static_cast<std::int32_t>(options_.slots) - 1; i >= 0; --i) free_slots_.push_back(i);
    thread_ = std::thread([this] { loop(); });
}

lm_engine::~lm_engine() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::uint64_t lm_engine::cache_bytes() const {
    return cache_->bytes();
}

lm_engine_stats lm_engine::stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

lm_outcome lm_engine::generate(const lm_generation& g, cancellation_token& cancel,
                               const std::function<void(std::string)>& on_delta) {
    auto s = std::make_shared<sequence>(g, cancel, on_delta, text_->tokens());
    s->outcome.prompt_tokens = g.prompt.size();
    {
        std::lock_guard lock(mu_);
        if (stopping_) {
            s->outcome.finish_reason = "cancelled";
            return s->outcome;
        }
        pending_.push_back(s);
    }
    cv_.notify_all();
    std::unique_lock lock(s->mu);
    s->cv.wait(lock, [&] { return s->done; });
    return std::move(s->outcome);
}

void lm_engine::emit(sequence& s, std::string text, bool flush) {
    if (!text.empty()) {
        s.outcome.text += text;
        if (auto d = s.coalescer.push(text, steady::now())) s.on_delta(std::move(*d));
    }
    if (flush)
        if (auto rest = s.coalescer.flush(); !rest.empty()) s.on_delta(std::move(rest));
}

void lm_engine::finish(sequence& s, std::string reason, std::string error) {
    if (reason != "cancelled" && reason != "error" && !s.stops.stopped()) {
        // What the decoder and the stop matcher still hold, unless a stop string ended it.
        std::string rest = s.stops.push(s.decoder.finish());
        if (!s.stops.stopped()) rest += s.stops.finish();
        emit(s, std::move(rest), true);
    } else if (reason == "stop" || reason == "length") {
        emit(s, {}, true);
    }
    s.outcome.finish_reason = std::move(reason);
    s.outcome.error = std::move(error);
    s.outcome.completion_tokens = s.output.size();
    if (s.output.size() > 1) {
        const double secs = std::chrono::duration<double>(steady::now() - s.first_token).count();
        if (secs > 0) s.outcome.decode_tokens_per_s = static_cast<double>(s.output.size() - 1) / secs;
    }
    if (s.slot >= 0) free_slots_.push_back(s.slot);
    s.slot = -1;
    std::lock_guard lock(s.mu);
    s.done = true;
    s.cv.notify_all();
}

void lm_engine::accept_token(sequence& s, const sampled_token& sample) {
    const auto token = static_cast<std::int64_t>(sample.token);
    if (s.output.empty()) {
        s.first_token = steady::now();
        s.outcome.time_to_first_token_ms = std::chrono::duration<double, std::milli>(s.first_token - s.submitted).count();
    }
    s.output.push_back(token);
    const auto& tok = text_->tokens();
    if (s.g.logprobs) {
        lm_token_logprob lp{token, tok.decode(std::vector<text::token_id>{sample.token}, false), sample.logprob, {}};
        for (const auto& t : sample.top)
            lp.top.push_back({t.token, tok.decode(std::vector<text::token_id>{t.token}, false), t.logprob, {}});
        s.outcome.logprobs.push_back(std::move(lp));
    }
    const bool eos = !s.g.ignore_eos && text_->eos_ids().count(static_cast<text::token_id>(token)) > 0;
    if (eos || s.g.stop_token_ids.count(token) > 0) return finish(s, "stop");
    std::string shown = s.stops.push(s.decoder.push(static_cast<text::token_id>(token)));
    if (s.stops.stopped()) {
        emit(s, std::move(shown), true);
        return finish(s, "stop");
    }
    emit(s, std::move(shown), false);
    // The next token needs a place in the cache: the context ends the answer too.
    if (s.output.size() >= s.g.max_tokens || s.cached + 1 >= context_) return finish(s, "length");
}

void lm_engine::step(std::vector<std::shared_ptr<sequence>>& active) {
    lm_step st;
    std::vector<sequence*> rows;
    std::vector<bool> samples; // the row's logits are the next token's
    std::int64_t budget = options_.prefill_chunk;
    for (const auto& sp : active) {
        sequence* s = sp.get();
        const auto prompt = static_cast<std::int64_t>(s->g.prompt.size());
        if (s->cached < prompt) {
            const std::int64_t n = std::min(prompt - s->cached, budget);
            if (n <= 0) continue;
            st.rows.push_back({s->slot, s->cached, n});
            st.tokens.insert(st.tokens.end(), s->g.prompt.begin() + s->cached, s->g.prompt.begin() + s->cached + n);
            samples.push_back(s->cached + n == prompt);
            budget -= n;
        } else {
            st.rows.push_back({s->slot, s->cached, 1});
            st.tokens.push_back(s->output.back());
            samples.push_back(true);
        }
        rows.push_back(s);
    }
    if (rows.empty()) return;
    at::Tensor logits;
    try {
        logits = model_->forward(st, *cache_);
    } catch (const std::exception& e) {
        const std::string what = e.what();
        log::error("language model step failed: {}", what.substr(0, what.find('\n')));
        for (sequence* s : rows) finish(*s, "error", "the model failed: " + what.substr(0, what.find('\n')));
        return;
    }
    {
        std::lock_guard lock(mu_);
        ++stats_.steps;
        stats_.tokens += st.tokens.size();
        stats_.widest_step = std::max<std::uint32_t>(stats_.widest_step, static_cast<std::uint32_t>(rows.size()));
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
        sequence& s = *rows[i];
        s.cached += st.rows[i].length;
        if (!samples[i]) continue;
        at::Tensor row = logits[static_cast<std::int64_t>(i)].contiguous();
        const auto sample = s.sampler.next(std::span<float>(row.data_ptr<float>(), static_cast<std::size_t>(row.numel())));
        accept_token(s, sample);
    }
}

void lm_engine::loop() {
    std::vector<std::shared_ptr<sequence>> active;
    std::deque<std::shared_ptr<sequence>> waiting;
    for (;;) {
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !pending_.empty() || !active.empty() || !waiting.empty(); });
            while (!pending_.empty()) {
                waiting.push_back(pending_.front());
                pending_.pop_front();
            }
            if (stopping_) {
                lock.unlock();
                for (auto& s : active) finish(*s, "cancelled");
                for (auto& s : waiting) finish(*s, "cancelled");
                return;
            }
        }
        // Cancelled ones leave at once, waiting or running.
        for (auto it = waiting.begin(); it != waiting.end();)
            if ((*it)->cancel.cancelled()) finish(**it, "cancelled"), it = waiting.erase(it);
            else ++it;
        for (auto& s : active)
            if (!s->done && s->cancel.cancelled()) finish(*s, "cancelled");
        std::erase_if(active, [](const auto& s) { return s->done; });
        // Join: a free slot takes the oldest waiting request.
        while (!free_slots_.empty() && !waiting.empty()) {
            auto s = waiting.front();
            waiting.pop_front();
            s->slot = free_slots_.back();
            free_slots_.pop_back();
            active.push_back(s);
        }
        step(active);
        std::erase_if(active, [](const auto& s) { return s->done; });
    }
}

} // namespace tether::agent::lm
