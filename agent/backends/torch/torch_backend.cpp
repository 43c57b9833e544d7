#include "backends/torch/torch_backend.hpp"

#include "backends/model/batch_collector.hpp"
#include "backends/model/model_inputs.hpp"
#include "backends/model/text_coalescer.hpp"
#include "backends/torch/torch_model.hpp"

#include "tether/protocol/json_writer.hpp"
#include "tether/shared/log.hpp"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
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

struct torch_backend::served_model : model_slot {};

torch_backend::torch_backend(const torch_options& opts) {
    if (opts.torch_threads > 0) at::set_num_threads(static_cast<int>(opts.torch_threads));
    const auto device = resolve_device(opts.device);
    device_name_ = device.str();
    for (const auto& [space, path] : opts.models) {
        auto served = std::make_unique<served_model>();
        const auto start = steady::now();
        served->model = std::make_unique<torch_model>(space, path, device, opts.half);
        served->model->check_against_sidecar();
        const auto& spec = served->model->spec();
        const auto cap = opts.capacity.count(space) ? opts.capacity.at(space) : 1U;
        if (spec.batchable() && cap > 1 && opts.max_batch > 1) {
            torch_model* m = served->model.get();
            served->batcher = std::make_unique<batch_collector<torch::Tensor, torch::Tensor>>(
                std::min<std::size_t>(opts.max_batch, cap), std::chrono::duration_cast<std::chrono::microseconds>(opts.batch_wait),
                [m](std::vector<torch::Tensor>& items) {
                    auto out = m->forward(torch::cat(items, 0));
                    if (out.dim() == 0 || out.size(0) != static_cast<std::int64_t>(items.size()))
                        throw model_failure(fmt::format("forward on a batch of {} returned {}", items.size(),
                                                        shape_text(out)));
                    auto rows = out.split(1, 0);
                    return std::vector<torch::Tensor>(rows.begin(), rows.end());
                });
        }
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
    return {it->second->model->spec().name};
}

std::string torch_backend::device_name() const { return device_name_; }

torch_batch_stats torch_backend::batch_stats(const std::string& space) const {
    auto it = served_.find(space);
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
    auto clip = prepare_audio(j, spec);
    if (!clip.ok()) return sink.failed(clip.error.code, clip.error.message);
    const auto start = steady::now();
    auto out = m.model->forward(float_tensor(clip.value->samples, {1, static_cast<std::int64_t>(clip.value->samples.size())}));
    if (out.dim() != 2 || out.size(0) != 1 || out.size(1) < 1)
        throw model_failure(fmt::format("forward returned {}, expected samples [1, N]", shape_text(out)));
    const double inference_ms = ms_since(start);
    std::vector<float> samples(out.data_ptr<float>(), out.data_ptr<float>() + out.size(1));
    const double seconds = static_cast<double>(samples.size()) / spec.output_sample_rate;
    sink.file(output_file{fmt::format("{}-{}.wav", input_stem(j), spec.name), "audio/wav",
                          encode_wav_pcm16(samples, spec.output_sample_rate), {}});
    protocol::json_writer w;
    w.begin_object().key("seconds").value(seconds).key("sample_rate").value(static_cast<std::uint64_t>(spec.output_sample_rate)).end_object();
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
    const auto& spec = m.model->spec();
    sink.processing();
    try {
        switch (spec.task) {
        case model_task::text_generation: return generate(*m.model, j, cancel, sink);
        case model_task::classification: return run_classification(m, j, sink);
        case model_task::audio: return run_audio(m, j, sink);
        case model_task::image: return run_image(m, j, sink);
        case model_task::tensor: return run_tensor(m, j, sink);
        }
    } catch (const std::exception& e) {
        sink.failed("model_error", fmt::format("model {}: {}", spec.name, torch_error_text(e)));
    }
}

} // namespace tether::agent
