#include "backends/torch/torch_backend.hpp"

#include "backends/torch/blas_info.hpp"

#include "backends/model/batch_collector.hpp"
#include "backends/model/model_inputs.hpp"
#include "backends/model/text_coalescer.hpp"
#include "backends/hf/folder_error.hpp"
#include "backends/hf/swin2sr_config.hpp"
#include "backends/model/lm_request.hpp"
#include "backends/model/encoder_request.hpp"
#include "backends/model/speech_request.hpp"
#include "backends/torch/encoder/bart_engine.hpp"
#include "backends/torch/encoder/encoder_engine.hpp"
#include "backends/torch/encoder/encoder_jobs.hpp"
#include "backends/torch/image/swin2sr_model.hpp"
#include "backends/torch/lm/lm_engine.hpp"
#include "backends/torch/whisper/whisper_engine.hpp"
#include "backends/torch/torch_model.hpp"

#include "tether/protocol/json_writer.hpp"
#include "tether/shared/log.hpp"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <span>

namespace tether::agent {

namespace {

using steady = std::chrono::steady_clock;

double ms_since(steady::time_point start) {
    return std::chrono::duration<double, std::milli>(steady::now() - start).count();
}

std::uint64_t random_seed() {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

// A model-side failure of one request (wrong output shape at run time, a
// torch error): reported as model_error, the agent keeps serving.
struct model_failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string input_stem(const job& j) {
    if (j.files.empty()) return "output";
    auto stem = std::filesystem::path(j.files.front().name).stem().string();
    return stem.empty() ? "output" : stem;
}

torch::Tensor float_tensor(const std::vector<float>& v, std::vector<std::int64_t> dims) {
    return torch::from_blob(const_cast<float*>(v.data()), dims, torch::kFloat).clone();
}

// A space's model and, when it batches, its batch collector.
struct model_slot {
    std::unique_ptr<torch_model> model;
    // Set when the space's capacity > 1 and the task batches: requests of the
    // same input shape share one forward call.
    std::unique_ptr<batch_collector<torch::Tensor, torch::Tensor>> batcher;

    // One item ([1, ...]) through the model, batched or not; returns [1, ...].
    torch::Tensor run_item(const std::string& key, torch::Tensor item) {
        if (batcher) return batcher->submit(key, std::move(item));
        return model->forward(item);
    }
};

} // namespace

// A TorchScript model (model_slot), or a Hugging Face language model with
// its engine.
struct torch_backend::served_model : model_slot {
    std::unique_ptr<lm::lm_engine> lm;
    std::unique_ptr<whisper::whisper_engine> asr;
    std::unique_ptr<encoder::encoder_engine> enc;
    std::unique_ptr<encoder::bart_engine> s2s;
    std::string lm_name; // the folder's name, announced as the model
    std::uint32_t max_audio_seconds = 3600;
    // A Hugging Face image-to-image folder (model is its native runner):
    // serves images and videos alike, told apart by the upload's bytes.
    bool image_folder = false;
};

namespace {

std::optional<at::ScalarType> dtype_option(const std::string& d) {
    if (d == "float16") return at::kHalf;
    if (d == "bfloat16") return at::kBFloat16;
    if (d == "float32") return at::kFloat;
    return std::nullopt;
}

lm::lm_load_options folder_options(torch::Device device, const torch_options& opts) {
    lm::lm_load_options lo;
    lo.device = device;
    lo.dtype = dtype_option(opts.dtype);
    return lo;
}

// Runs load() for `--model space=dir`; a bad folder (its files, its text, a
// torch error) becomes a model_load_error naming the flag.
template <class F> auto load_folder(const std::string& space, const std::string& dir, F&& load) {
    try {
        return load();
    } catch (const hf::folder_error& e) {
        throw model_load_error(fmt::format("--model {}={}: {}", space, dir, e.what()));
    } catch (const text::text_error& e) {
        throw model_load_error(fmt::format("--model {}={}: {}", space, dir, e.what()));
    } catch (const c10::Error& e) {
        throw model_load_error(fmt::format("--model {}={}: {}", space, dir, torch_error_text(e)));
    }
}

std::unique_ptr<lm::lm_engine> load_language_model(const std::string& space, const std::string& dir, torch::Device device,
                                                   const torch_options& opts, std::uint32_t slots) {
    const auto start = steady::now();
    return load_folder(space, dir, [&] {
        const auto fallback = opts.chat_templates.find(space);
        auto text = std::make_shared<const text::model_text>(text::model_text::load(
            dir, fallback == opts.chat_templates.end() ? std::filesystem::path() : std::filesystem::path(fallback->second)));
        auto model = lm::load_causal_lm(dir, folder_options(device, opts));
        lm::lm_engine_options eo;
        eo.slots = slots;
        eo.max_context = opts.max_context;
        auto engine = std::make_unique<lm::lm_engine>(std::move(model), std::move(text), eo);
        // The warm-up, and the proof the folder runs: one greedy token.
        lm_generation g;
        g.prompt = {0};
        g.max_tokens = 1;
        g.sampling.temperature = 0;
        g.ignore_eos = true;
        cancellation_token none;
        const auto warm = engine->generate(g, none, [](std::string) {});
        if (warm.finish_reason == "error") throw model_load_error(warm.error);
        log::info("model {} for space {}: {}; {} slot(s) of {} tokens, KV cache {:.1f} MiB, loaded in {:.0f} ms",
                  std::filesystem::path(dir).filename().string(), space, engine->model().describe(), slots,
                  engine->context(), static_cast<double>(engine->cache_bytes()) / (1 << 20), ms_since(start));
        return engine;
    });
}

std::unique_ptr<whisper::whisper_engine> load_speech_model(const std::string& space, const std::string& dir,
                                                           torch::Device device, const torch_options& opts, std::uint32_t cap) {
    const auto start = steady::now();
    return load_folder(space, dir, [&] {
        const auto lo = folder_options(device, opts);
        const std::size_t batch = cap > 1 ? std::min<std::size_t>(opts.max_batch, cap) : 1;
        auto engine = whisper::load_whisper(dir, lo, batch,
                                            std::chrono::duration_cast<std::chrono::microseconds>(opts.batch_wait));
        log::info("model {} for space {}: speech recognition, {}{}, loaded in {:.0f} ms",
                  std::filesystem::path(dir).filename().string(), space, engine->model().describe(),
                  batch > 1 ? fmt::format(", windows batched up to {}", batch) : "", ms_since(start));
        return engine;
    });
}

std::unique_ptr<encoder::encoder_engine> load_encoder_model(const std::string& space, const std::string& dir,
                                                           torch::Device device, const torch_options& opts, std::uint32_t cap) {
    const auto start = steady::now();
    return load_folder(space, dir, [&] {
        const auto lo = folder_options(device, opts);
        // Inputs of concurrent requests share forward calls of up to
        // --max-batch rows; one request's list is batched whatever the capacity.
        const std::size_t batch = std::max<std::size_t>(opts.max_batch, 1);
        auto engine = encoder::load_encoder(dir, lo, batch, cap > 1 ? std::chrono::duration_cast<std::chrono::microseconds>(opts.batch_wait)
                                                                    : std::chrono::microseconds(0));
        const bool image = engine->model().config().family == hf::encoder_family::vit;
        log::info("model {} for space {}: {}; {}batches up to {}, loaded in {:.0f} ms",
                  std::filesystem::path(dir).filename().string(), space, engine->model().describe(),
                  image ? std::string() : fmt::format("inputs up to {} tokens, ", engine->max_input_tokens()), batch,
                  ms_since(start));
        return engine;
    });
}

std::unique_ptr<encoder::bart_engine> load_summarizer(const std::string& space, const std::string& dir, torch::Device device,
                                                     const torch_options& opts, std::uint32_t cap) {
    const auto start = steady::now();
    return load_folder(space, dir, [&] {
        const auto lo = folder_options(device, opts);
        // Up to `cap` summaries share each decoder step.
        auto engine = encoder::load_bart(dir, lo, cap, std::chrono::duration_cast<std::chrono::microseconds>(opts.batch_wait));
        log::info("model {} for space {}: summarization, {}; inputs up to {} tokens, {} decoded together, loaded in {:.0f} ms",
                  std::filesystem::path(dir).filename().string(), space, engine->model().describe(),
                  engine->model().config().max_position, engine->slots(), ms_since(start));
        return engine;
    });
}

// An image-to-image folder (Swin2SR) as a torch_model whose forward is the
// native model's: the image and video tasks, their limits and batching as
// for a TorchScript image model.
std::unique_ptr<torch_model> load_image_folder(const std::string& space, const std::string& dir, torch::Device device,
                                               const torch_options& opts) {
    const auto start = steady::now();
    return load_folder(space, dir, [&] {
        auto sr = std::make_shared<image::swin2sr_model>(dir, folder_options(device, opts));
        model_spec spec;
        spec.name = std::filesystem::path(dir).filename().string();
        if (spec.name.empty()) spec.name = std::filesystem::path(dir).parent_path().filename().string();
        spec.task = model_task::image;
        spec.kind = input_kind::image;
        spec.scale = static_cast<std::uint32_t>(sr->config().scale());
        spec.description = sr->describe();
        auto model = std::make_unique<torch_model>(space, dir, spec, device,
                                                   [sr](const torch::Tensor& x) { return sr->forward(x); });
        model->check_against_sidecar(); // the warm-up, and the proof the folder runs
        log::info("model {} for space {}: images and videos, {}; loaded in {:.0f} ms", spec.name, space, spec.description,
                  ms_since(start));
        return model;
    });
}

std::string folder_model_type(const std::string& space, const std::string& dir) {
    return load_folder(space, dir, [&] { return hf::read_model_type(dir); });
}

// Requests of the same input shape share one forward call when the space
// takes several at once and the task batches.
void add_batcher(model_slot& slot, std::uint32_t cap, const torch_options& opts) {
    if (!slot.model->spec().batchable() || cap <= 1 || opts.max_batch <= 1) return;
    torch_model* m = slot.model.get();
    slot.batcher = std::make_unique<batch_collector<torch::Tensor, torch::Tensor>>(
        std::min<std::size_t>(opts.max_batch, cap), std::chrono::duration_cast<std::chrono::microseconds>(opts.batch_wait),
        [m](std::vector<torch::Tensor>& items) {
            auto out = m->forward(torch::cat(items, 0));
            if (out.dim() == 0 || out.size(0) != static_cast<std::int64_t>(items.size()))
                throw model_failure(fmt::format("forward on a batch of {} returned {}", items.size(), shape_text(out)));
            auto rows = out.split(1, 0);
            return std::vector<torch::Tensor>(rows.begin(), rows.end());
        });
}

} // namespace

torch_backend::torch_backend(const torch_options& opts) {
    if (opts.torch_threads > 0) at::set_num_threads(static_cast<int>(opts.torch_threads));
    const auto blas = match_blas_threads(at::get_num_threads());
    if (blas.fast) log::info("torch: {} intra-op thread(s), BLAS {}", at::get_num_threads(), blas.name);
    else log::warn("torch: {} intra-op thread(s), {}: CPU matrix products will be slow", at::get_num_threads(), blas.name);
    const auto device = resolve_device(opts.device);
    device_name_ = device.str();
    for (const auto& [space, path] : opts.models) {
        auto served = std::make_unique<served_model>();
        const auto cap = opts.capacity.count(space) ? opts.capacity.at(space) : 1U;
        std::error_code ec;
        if (std::filesystem::is_directory(path, ec)) {
            const auto type = folder_model_type(space, path);
            if (type == "whisper") {
                served->asr = load_speech_model(space, path, device, opts, cap);
                served->max_audio_seconds = opts.max_audio_seconds;
            } else if (type == "bart") {
                served->s2s = load_summarizer(space, path, device, opts, cap);
            } else if (hf::is_encoder_model_type(type)) {
                served->enc = load_encoder_model(space, path, device, opts, cap);
            } else if (hf::is_image_to_image_model_type(type)) {
                served->model = load_image_folder(space, path, device, opts);
                served->image_folder = true;
                add_batcher(*served, cap, opts);
            } else {
                served->lm = load_language_model(space, path, device, opts, cap);
            }
            served->lm_name = std::filesystem::path(path).filename().string();
            if (served->lm_name.empty()) served->lm_name = std::filesystem::path(path).parent_path().filename().string();
            served_.emplace(space, std::move(served));
            continue;
        }
        const auto start = steady::now();
        served->model = std::make_unique<torch_model>(space, path, device, opts.half);
        served->model->check_against_sidecar();
        const auto& spec = served->model->spec();
        add_batcher(*served, cap, opts);
        log::info("model {} for space {}: task {}, {} on {}{}, checked in {:.0f} ms", spec.name, space,
                  to_string(spec.task), path, device_name_, served->batcher ? fmt::format(", batches up to {}", std::min<std::size_t>(opts.max_batch, cap)) : "",
                  ms_since(start));
        served_.emplace(space, std::move(served));
    }
}

torch_backend::~torch_backend() = default;

std::vector<std::string> torch_backend::models(const std::string& space) const {
    auto it = served_.find(space);
    if (it == served_.end()) return {};
    if (it->second->lm || it->second->asr || it->second->enc || it->second->s2s) return {it->second->lm_name};
    return {it->second->model->spec().name};
}

std::optional<backend::model_card> torch_backend::card(const std::string& space) const {
    auto it = served_.find(space);
    if (it == served_.end()) return std::nullopt;
    if (it->second->asr)
        return model_card{it->second->lm_name,
                          static_cast<std::uint32_t>(it->second->asr->model().config().arch.max_target_positions), false,
                          "speech-recognition"};
    if (it->second->s2s)
        return model_card{it->second->lm_name, static_cast<std::uint32_t>(it->second->s2s->model().config().max_position), false,
                          "summarization"};
    if (it->second->enc) {
        const auto& e = *it->second->enc;
        switch (e.model().config().task) {
        case hf::encoder_task::embeddings:
            return model_card{it->second->lm_name, static_cast<std::uint32_t>(e.max_input_tokens()), false, "embeddings"};
        case hf::encoder_task::text_classification:
            return model_card{it->second->lm_name, static_cast<std::uint32_t>(e.max_input_tokens()), false, "text-classification"};
        case hf::encoder_task::image_classification: return model_card{it->second->lm_name, 0, false, "image-classification"};
        }
    }
    if (!it->second->lm) return std::nullopt;
    const auto& e = *it->second->lm;
    return model_card{it->second->lm_name, static_cast<std::uint32_t>(e.context()), e.text().chat() != nullptr, ""};
}

std::string torch_backend::device_name() const { return device_name_; }

torch_batch_stats torch_backend::batch_stats(const std::string& space) const {
    auto it = served_.find(space);
    if (it != served_.end() && it->second->asr) return {it->second->asr->batches_run(), it->second->asr->windows_run()};
    if (it != served_.end() && it->second->enc) return {it->second->enc->forward_batches(), it->second->enc->items_run()};
    if (it == served_.end() || !it->second->batcher) return {};
    return {it->second->batcher->batches_run(), it->second->batcher->items_run()};
}

namespace {

void generate(torch_model& model, const job& j, cancellation_token& cancel, result_sink& sink) {
    const auto& spec = model.spec();
    auto prep = prepare_generation(j, spec, random_seed());
    if (!prep.ok()) return sink.failed(prep.error.code, prep.error.message);
    const auto& g = *prep.value;
    token_sampler sampler(g.seed);
    text_coalescer coalescer;
    std::vector<std::int64_t> tokens = g.prompt_tokens;
    tokens.reserve(tokens.size() + g.max_tokens);
    const auto start = steady::now();
    std::uint32_t produced = 0;
    for (; produced < g.max_tokens; ++produced) {
        if (cancel.cancelled()) return; // the broker has dropped this request
        const std::size_t from = tokens.size() > spec.context ? tokens.size() - spec.context : 0;
        const auto window = static_cast<std::int64_t>(tokens.size() - from);
        auto input = torch::from_blob(tokens.data() + from, {1, window}, torch::kLong).clone();
        auto logits = model.forward(input);
        if (logits.dim() != 3 || logits.size(1) != window || logits.size(2) != spec.vocab)
            throw model_failure(fmt::format("forward({}) returned {}, expected [1, {}, {}]", shape_text(input),
                                            shape_text(logits), window, spec.vocab));
        auto last = logits[0][window - 1].contiguous();
        const auto token = sampler.sample(std::span<const float>(last.data_ptr<float>(), spec.vocab), g.sampling);
        tokens.push_back(static_cast<std::int64_t>(token));
        const char byte = static_cast<char>(token);
        if (auto delta = coalescer.push(std::string_view(&byte, 1), steady::now())) sink.delta(std::move(*delta));
    }
    if (auto rest = coalescer.flush(); !rest.empty()) sink.delta(std::move(rest));
    completion c;
    c.output = coalescer.text();
    protocol::json_writer w;
    w.begin_object().key("tokens").value(static_cast<std::uint64_t>(produced)).end_object();
    c.extra_json = w.take();
    c.inference_ms = ms_since(start);
    sink.completed(std::move(c));
}

void write_logprob(protocol::json_writer& w, const lm::lm_token_logprob& lp, bool with_top) {
    w.begin_object().key("token").value(lp.text).key("logprob").value(static_cast<double>(lp.logprob));
    w.key("bytes").begin_array();
    for (unsigned char c : lp.text) w.value(static_cast<std::uint64_t>(c));
    w.end_array();
    if (with_top) {
        w.key("top_logprobs").begin_array();
        for (const auto& t : lp.top) write_logprob(w, t, false);
        w.end_array();
    }
    w.end_object();
}

void generate_lm(lm::lm_engine& engine, const job& j, cancellation_token& cancel, result_sink& sink) {
    lm_request_limits limits;
    limits.context = static_cast<std::uint32_t>(engine.context());
    auto prep = prepare_lm_generation(j, engine.text(), limits, random_seed());
    if (!prep.ok()) return sink.failed(prep.error.code, prep.error.message);
    const auto start = steady::now();
    auto out = engine.generate(*prep.value, cancel, [&sink](std::string d) { sink.delta(std::move(d)); });
    if (out.finish_reason == "cancelled") return; // the broker has dropped the request
    if (out.finish_reason == "error") return sink.failed("model_error", out.error);
    protocol::json_writer w;
    w.begin_object().key("finish_reason").value(out.finish_reason);
    w.key("usage").begin_object()
        .key("prompt_tokens").value(static_cast<std::uint64_t>(out.prompt_tokens))
        .key("completion_tokens").value(static_cast<std::uint64_t>(out.completion_tokens))
        .key("total_tokens").value(static_cast<std::uint64_t>(out.prompt_tokens + out.completion_tokens))
        .end_object();
    w.key("metrics").begin_object()
        .key("time_to_first_token_ms").value(out.time_to_first_token_ms)
        .key("tokens_per_s").value(out.decode_tokens_per_s)
        .end_object();
    if (prep.value->logprobs) {
        w.key("logprobs").begin_array();
        for (const auto& lp : out.logprobs) write_logprob(w, lp, true);
        w.end_array();
    }
    w.end_object();
    completion c;
    c.output = std::move(out.text);
    c.extra_json = w.take();
    c.inference_ms = ms_since(start);
    sink.completed(std::move(c));
}

// Speech recognition: each segment a delta as it is final; the result has
// the text and, beside it, the language, the duration and the timed segments.
void run_speech(whisper::whisper_engine& engine, std::uint32_t max_seconds, const job& j, cancellation_token& cancel,
                result_sink& sink) {
    speech_limits limits;
    limits.max_seconds = max_seconds;
    auto prep = prepare_speech(j, engine.model().config(), limits, random_seed());
    if (!prep.ok()) return sink.failed(prep.error.code, prep.error.message);
    const auto& req = *prep.value;
    const auto prompt = engine.prompt_tokens(req.prompt);
    const auto start = steady::now();
    std::string text;
    auto t = engine.transcribe(req.audio.samples, req.options, prompt, [&](const whisper::segment& s) {
        std::string_view piece = s.text;
        if (text.empty())
            while (!piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
        if (piece.empty()) return;
        text += piece;
        sink.delta(std::string(piece));
    }, [&cancel] { return cancel.cancelled(); });
    if (cancel.cancelled()) return; // the broker has dropped the request
    const double ms = ms_since(start);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.pop_back();
    protocol::json_writer w;
    w.begin_object().key("task").value(req.options.translate ? "translate" : "transcribe");
    w.key("temperature").value(static_cast<double>(req.options.temperature));
    if (!t.language.empty()) w.key("language").value(t.language);
    w.key("duration").value(t.duration);
    w.key("segments").begin_array();
    for (const auto& s : t.segments) {
        w.begin_object().key("id").value(static_cast<std::uint64_t>(s.id)).key("seek").value(s.seek);
        w.key("start").value(s.start).key("end").value(s.end);
        w.key("text").value(s.text).key("tokens").begin_array();
        for (auto id : s.tokens) w.value(id);
        w.end_array().key("avg_logprob").value(s.avg_logprob).key("no_speech_prob").value(s.no_speech_prob);
        w.key("compression_ratio").value(whisper::compression_ratio(s.text)).end_object();
    }
    w.end_array();
    w.key("metrics").begin_object()
        .key("windows").value(static_cast<std::uint64_t>(t.windows))
        .key("windows_skipped").value(static_cast<std::uint64_t>(t.windows_skipped))
        .key("real_time_factor").value(ms > 0 ? t.duration / (ms / 1000.0) : 0.0)
        .end_object();
    w.end_object();
    completion c;
    c.output = std::move(text);
    c.extra_json = w.take();
    c.inference_ms = ms;
    sink.completed(std::move(c));
}

// The tensor a classification request becomes: [1, length] tokens, [1, samples]
// audio or [1, 3, H, W] image, with the batching key of its shape.
prepared<torch::Tensor> classification_input(const model_spec& spec, const job& j) {
    prepared<torch::Tensor> p;
    switch (spec.kind) {
    case input_kind::text: {
        auto tokens = prepare_text_tokens(j, spec);
        if (!tokens.ok()) return {std::nullopt, tokens.error};
        p.value = torch::tensor(*tokens.value, torch::kLong).unsqueeze(0);
        break;
    }
    case input_kind::audio: {
        auto clip = prepare_audio(j, spec);
        if (!clip.ok()) return {std::nullopt, clip.error};
        p.value = float_tensor(clip.value->samples, {1, static_cast<std::int64_t>(clip.value->samples.size())});
        break;
    }
    case input_kind::image: {
        auto img = prepare_image(j, spec);
        if (!img.ok()) return {std::nullopt, img.error};
        p.value = float_tensor(to_planar(*img.value, spec.mean, spec.std),
                               {1, 3, static_cast<std::int64_t>(img.value->height), static_cast<std::int64_t>(img.value->width)});
        break;
    }
    }
    return p;
}

void run_classification(model_slot& m, const job& j, result_sink& sink) {
    const auto& spec = m.model->spec();
    auto input = classification_input(spec, j);
    if (!input.ok()) return sink.failed(input.error.code, input.error.message);
    const auto start = steady::now();
    auto logits = m.run_item(shape_text(*input.value), *input.value);
    const auto labels = static_cast<std::int64_t>(spec.labels.size());
    if (logits.dim() != 2 || logits.size(0) != 1 || logits.size(1) != labels)
        throw model_failure(fmt::format("forward returned {}, expected [1, {}]", shape_text(logits), labels));
    auto probs = torch::softmax(logits[0].to(torch::kDouble), 0).contiguous();
    const double* p = probs.data_ptr<double>();
    std::vector<std::size_t> order(spec.labels.size());
    std::iota(order.begin(), order.end(), 0);
    const std::size_t top = std::min<std::size_t>(spec.top, order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                      [p](std::size_t a, std::size_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    protocol::json_writer w;
    w.begin_object().key("labels").begin_array();
    for (std::size_t i = 0; i < top; ++i)
        w.begin_object().key("label").value(spec.labels[order[i]]).key("confidence").value(p[order[i]]).end_object();
    w.end_array().end_object();
    completion c;
    c.output = spec.labels[order[0]];
    c.confidence = p[order[0]];
    c.extra_json = w.take();
    c.inference_ms = ms_since(start);
    sink.completed(std::move(c));
}

void run_audio(model_slot& m, const job& j, result_sink& sink) {
    const auto& spec = m.model->spec();
    auto format = prepare_audio_format(j);
    if (!format.ok()) return sink.failed(format.error.code, format.error.message);
    auto clip = prepare_audio(j, spec);
    if (!clip.ok()) return sink.failed(clip.error.code, clip.error.message);
    const auto start = steady::now();
    auto out = m.model->forward(float_tensor(clip.value->samples, {1, static_cast<std::int64_t>(clip.value->samples.size())}));
    if (out.dim() != 2 || out.size(0) != 1 || out.size(1) < 1)
        throw model_failure(fmt::format("forward returned {}, expected samples [1, N]", shape_text(out)));
    const double inference_ms = ms_since(start);
    std::vector<float> samples(out.data_ptr<float>(), out.data_ptr<float>() + out.size(1));
    const double seconds = static_cast<double>(samples.size()) / spec.output_sample_rate;
    auto encoded = encode_audio(samples, spec.output_sample_rate, *format.value);
    if (encoded.bytes.empty()) return sink.failed("model_error", fmt::format("encoding the output failed: {}", encoded.error));
    sink.file(output_file{fmt::format("{}-{}.{}", input_stem(j), spec.name, encoded.extension), encoded.mime,
                          std::move(encoded.bytes), {}});
    protocol::json_writer w;
    w.begin_object().key("seconds").value(seconds).key("sample_rate").value(static_cast<std::uint64_t>(spec.output_sample_rate));
    w.key("format").value(encoded.extension).end_object();
    completion c;
    c.output = fmt::format("{:.2f} s of audio at {} Hz", seconds, spec.output_sample_rate);
    c.extra_json = w.take();
    c.inference_ms = inference_ms;
    sink.completed(std::move(c));
}

void run_image(model_slot& m, const job& j, result_sink& sink) {
    const auto& spec = m.model->spec();
    auto img = prepare_image(j, spec);
    if (!img.ok()) return sink.failed(img.error.code, img.error.message);
    const auto h = static_cast<std::int64_t>(img.value->height), w = static_cast<std::int64_t>(img.value->width);
    auto input = float_tensor(to_planar(*img.value, {}, {}), {1, 3, h, w});
    const auto start = steady::now();
    auto out = m.run_item(shape_text(input), input);
    const std::int64_t s = spec.scale;
    if (out.dim() != 4 || out.size(0) != 1 || out.size(1) != 3 || out.size(2) != h * s || out.size(3) != w * s)
        throw model_failure(fmt::format("forward returned {}, expected [1, 3, {}, {}]", shape_text(out), h * s, w * s));
    const double inference_ms = ms_since(start);
    auto result = from_planar(out.data_ptr<float>(), static_cast<std::uint32_t>(w * s), static_cast<std::uint32_t>(h * s));
    sink.file(output_file{fmt::format("{}-{}.png", input_stem(j), spec.name), "image/png", encode_png(result), {}});
    protocol::json_writer jw;
    jw.begin_object().key("width").value(static_cast<std::uint64_t>(result.width)).key("height").value(static_cast<std::uint64_t>(result.height)).end_object();
    completion c;
    c.output = fmt::format("{}x{} image", result.width, result.height);
    c.extra_json = jw.take();
    c.inference_ms = inference_ms;
    sink.completed(std::move(c));
}

// Video in, video out: the frames through the model in batches of the
// sidecar's input.batch, encoded to MP4 with the source's audio; progress as
// a delta per batch ("frames 8/60"), cancellation between batches.
void run_video(model_slot& m, const job& j, cancellation_token& cancel, result_sink& sink) {
    const auto& spec = m.model->spec();
    auto bytes = first_file_bytes(j, spec.max_input_bytes);
    if (!bytes.ok()) return sink.failed(bytes.error.code, bytes.error.message);
    video_limits limits;
    limits.media.max_seconds = spec.max_seconds;
    limits.media.deadline = media_deadline(j);
    limits.max_width = spec.max_width;
    limits.max_height = spec.max_height;
    limits.max_frames = spec.max_frames;
    const std::int64_t scale = spec.scale;
    double model_ms = 0;
    const video_frame_fn through_model = [&](std::vector<image_rgb>& frames) -> std::optional<std::string> {
        const auto h = static_cast<std::int64_t>(frames.front().height), w = static_cast<std::int64_t>(frames.front().width);
        std::vector<float> planar;
        planar.reserve(frames.size() * 3 * static_cast<std::size_t>(h * w));
        for (const auto& f : frames) {
            auto p = to_planar(f, {}, {});
            planar.insert(planar.end(), p.begin(), p.end());
        }
        const auto n = static_cast<std::int64_t>(frames.size());
        const auto start = steady::now();
        torch::Tensor out;
        try {
            out = m.model->forward(float_tensor(planar, {n, 3, h, w})).contiguous();
        } catch (const std::exception& e) {
            return torch_error_text(e);
        }
        model_ms += ms_since(start);
        if (out.dim() != 4 || out.size(0) != n || out.size(1) != 3 || out.size(2) != h * scale || out.size(3) != w * scale)
            return fmt::format("forward returned {}, expected [{}, 3, {}, {}]", shape_text(out), n, h * scale, w * scale);
        out = out.to(torch::kFloat);
        const auto frame_floats = static_cast<std::size_t>(3 * h * scale * w * scale);
        for (std::size_t i = 0; i < frames.size(); ++i)
            frames[i] = from_planar(out.data_ptr<float>() + i * frame_floats, static_cast<std::uint32_t>(w * scale),
                                    static_cast<std::uint32_t>(h * scale));
        return std::nullopt;
    };
    const auto start = steady::now();
    auto r = transcode_video(*bytes.value, limits, spec.frame_batch, through_model,
                             [&](const video_progress& p) {
                                 sink.delta(p.frames_total ? fmt::format("frames {}/{}\n", p.frames_done, p.frames_total)
                                                           : fmt::format("frames {}\n", p.frames_done));
                             },
                             [&cancel] { return cancel.cancelled(); });
    if (r.cancelled || cancel.cancelled()) return; // the broker has dropped the request
    if (r.mp4.empty()) {
        const std::string& name = j.files.front().name;
        if (r.bad_input) return sink.failed("bad_input", fmt::format("{}: {}", name, r.error));
        return sink.failed("model_error", fmt::format("model {} on {}: {}", spec.name, name, r.error));
    }
    const double total_ms = ms_since(start);
    sink.file(output_file{fmt::format("{}-{}.mp4", input_stem(j), spec.name), "video/mp4", std::move(r.mp4), {}});
    protocol::json_writer w;
    w.begin_object().key("frames").value(r.frames).key("width").value(static_cast<std::uint64_t>(r.width));
    w.key("height").value(static_cast<std::uint64_t>(r.height)).key("seconds").value(r.seconds);
    w.key("video_codec").value(r.video_codec).key("audio").value(r.audio);
    w.key("metrics").begin_object().key("model_ms").value(model_ms).key("total_ms").value(total_ms);
    w.key("frames_per_second").value(total_ms > 0 ? static_cast<double>(r.frames) / (total_ms / 1000.0) : 0.0).end_object();
    w.end_object();
    completion c;
    c.output = fmt::format("{} frames, {}x{}, {:.2f} s", r.frames, r.width, r.height, r.seconds);
    c.extra_json = w.take();
    c.inference_ms = model_ms;
    sink.completed(std::move(c));
}

// Whether the request's first file is a PNG or JPEG (by its bytes, not its
// name or type); anything else goes to an image folder's video path, which
// names what it is when it is no video either.
bool is_still_image(const job& j) {
    if (j.files.empty()) return true; // prepare_image says what is missing
    const auto& f = j.files.front();
    std::string head = f.bytes.substr(0, 4);
    if (!f.path.empty()) {
        std::ifstream in(f.path, std::ios::binary);
        head.resize(4);
        in.read(head.data(), 4);
        head.resize(static_cast<std::size_t>(std::max<std::streamsize>(0, in.gcount())));
    }
    return head.starts_with("\x89PNG") || head.starts_with("\xFF\xD8\xFF");
}

void run_tensor(model_slot& m, const job& j, result_sink& sink) {
    const auto& spec = m.model->spec();
    auto value = prepare_tensor(j, spec);
    if (!value.ok()) return sink.failed(value.error.code, value.error.message);
    std::vector<std::int64_t> dims{1};
    dims.insert(dims.end(), value.value->shape.begin(), value.value->shape.end());
    auto input = torch::tensor(value.value->values, torch::kDouble).reshape(dims);
    input = input.to(spec.dtype == tensor_dtype::int64 ? torch::kLong : torch::kFloat);
    const auto start = steady::now();
    auto out = m.run_item(shape_text(input), input);
    if (!shape_matches(out, 1, spec.output_shape))
        throw model_failure(fmt::format("forward returned {}, the sidecar declares output.shape {}", shape_text(out),
                                        fmt::format("[1, {}]", fmt::join(spec.output_shape, ", "))));
    const double inference_ms = ms_since(start);
    tensor_value result;
    result.shape.assign(out.sizes().begin() + 1, out.sizes().end());
    const bool integers = !out.is_floating_point();
    auto flat = out.to(torch::kDouble).contiguous();
    result.values.assign(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
    protocol::json_writer w;
    w.begin_object().key("shape").begin_array();
    for (auto d : result.shape)
        w.value(static_cast<std::int64_t>(d));
    w.end_array().end_object();
    completion c;
    c.output = tensor_to_json(result, integers);
    c.extra_json = w.take();
    c.inference_ms = inference_ms;
    sink.completed(std::move(c));
}

} // namespace

void torch_backend::run(const job& j, cancellation_token& cancel, result_sink& sink) {
    auto it = served_.find(j.space);
    if (it == served_.end()) return sink.failed("model_error", fmt::format("no model serves space {}", j.space));
    served_model& m = *it->second;
    const std::string& name = m.model ? m.model->spec().name : m.lm_name;
    if (!m.enc && asked_task(j) == "embeddings")
        return sink.failed("bad_input", fmt::format("model {} makes no embeddings", name));
    sink.processing();
    try {
        if (m.s2s) return m.s2s->run(j, cancel, sink);
        if (m.enc) return encoder::run_encoder_job(*m.enc, m.lm_name, j, encoder::job_limits{}, sink);
        if (m.asr) return run_speech(*m.asr, m.max_audio_seconds, j, cancel, sink);
        if (m.lm) return generate_lm(*m.lm, j, cancel, sink);
        if (m.image_folder && !is_still_image(j)) return run_video(m, j, cancel, sink);
        switch (m.model->spec().task) {
        case model_task::text_generation: return generate(*m.model, j, cancel, sink);
        case model_task::classification: return run_classification(m, j, sink);
        case model_task::audio: return run_audio(m, j, sink);
        case model_task::image: return run_image(m, j, sink);
        case model_task::video: return run_video(m, j, cancel, sink);
        case model_task::tensor: return run_tensor(m, j, sink);
        }
    } catch (const std::exception& e) {
        sink.failed("model_error", fmt::format("model {}: {}", name, torch_error_text(e)));
    }
}

} // namespace tether::agent
