#include "backends/torch/encoder/encoder_jobs.hpp"

#include "backends/model/encoder_request.hpp"
#include "backends/model/image_codec.hpp"
#include "backends/model/model_inputs.hpp"
#include "text/json_view.hpp"

#include "tether/protocol/json_writer.hpp"

#include <fmt/format.h>

#include <chrono>

namespace tether::agent::encoder {
namespace {

using steady = std::chrono::steady_clock;

double ms_since(steady::time_point start) {
    return std::chrono::duration<double, std::milli>(steady::now() - start).count();
}

void write_labels(protocol::json_writer& w, const std::vector<ranked_label>& ranked, hf::label_scores scores) {
    w.key("labels").begin_array();
    for (const auto& l : ranked) {
        w.begin_object().key("label").value(l.label);
        w.key(scores == hf::label_scores::none ? "score" : "confidence").value(l.confidence);
        w.end_object();
    }
    w.end_array();
}

void complete_classification(const std::vector<ranked_label>& ranked, hf::label_scores scores, protocol::json_writer& w,
                             double ms, result_sink& sink) {
    write_labels(w, ranked, scores);
    w.end_object();
    completion c;
    c.output = ranked.front().label;
    if (scores != hf::label_scores::none) c.confidence = ranked.front().confidence;
    c.extra_json = w.take();
    c.inference_ms = ms;
    sink.completed(std::move(c));
}

void run_text(encoder_engine& engine, const job& j, const job_limits& limits, result_sink& sink) {
    const auto& cfg = engine.model().config();
    const bool embeddings = cfg.task == hf::encoder_task::embeddings;
    encoder_limits el;
    el.max_inputs = limits.max_inputs;
    auto prep = prepare_encoder_text(j, el);
    if (!prep.ok()) return sink.failed(prep.error.code, prep.error.message);
    const auto& req = *prep.value;
    if (!embeddings && req.from_input)
        return sink.failed("bad_input", "this model classifies text and makes no embeddings: send one text as the prompt");
    if (req.dimensions && (!embeddings || *req.dimensions != cfg.hidden_size))
        return sink.failed("bad_input", fmt::format("dimensions: this model's embeddings have {} dimensions and it does not "
                                                    "shorten them",
                                                    cfg.hidden_size));
    std::vector<std::vector<std::int64_t>> inputs;
    std::vector<std::size_t> cut; // indices of truncated inputs
    std::size_t tokens = 0, longest_uncut = 0;
    inputs.reserve(req.texts.size());
    for (std::size_t i = 0; i < req.texts.size(); ++i) {
        tokenized t;
        try {
            t = engine.tokenize(req.texts[i]);
        } catch (const text::text_error& e) {
            return sink.failed("bad_input", req.from_input ? fmt::format("input[{}]: {}", i, e.what()) : std::string(e.what()));
        }
        if (t.truncated()) {
            if (!req.truncate)
                return sink.failed("bad_input",
                                   fmt::format("input[{}] is {} tokens, over this model's maximum of {} (send truncate: true "
                                               "to cut long inputs)",
                                               i, t.tokens, engine.max_input_tokens()));
            cut.push_back(i);
            longest_uncut = std::max(longest_uncut, t.tokens);
        }
        tokens += t.ids.size();
        inputs.push_back(std::move(t.ids));
    }
    const auto start = steady::now();
    const auto rows = engine.run_text(std::move(inputs));
    const double ms = ms_since(start);
    protocol::json_writer w;
    w.begin_object();
    w.key("tokens").value(static_cast<std::uint64_t>(tokens));
    if (!cut.empty()) {
        w.key("truncated").value(true);
        w.key("note").value(req.texts.size() == 1
                                ? fmt::format("the input was cut to its first {} of {} tokens, the model's maximum",
                                              engine.max_input_tokens(), longest_uncut)
                                : fmt::format("{} of {} inputs were cut to the model's maximum of {} tokens", cut.size(),
                                              req.texts.size(), engine.max_input_tokens()));
    }
    if (!embeddings) {
        const auto ranked = rank_labels(rows.front(), cfg.labels, cfg.scores, req.top_k);
        return complete_classification(ranked, cfg.scores, w, ms, sink);
    }
    w.key("dimensions").value(static_cast<std::uint64_t>(cfg.hidden_size));
    completion c;
    if (req.from_input) {
        // As a file: a list's rows can be far more than a result frame holds.
        sink.file(output_file{"embeddings.f32", "application/octet-stream", float_rows_bytes(rows), {}});
        w.key("count").value(static_cast<std::uint64_t>(rows.size()));
        w.key("format").value("float32-le");
        w.key("usage").begin_object().key("prompt_tokens").value(static_cast<std::uint64_t>(tokens));
        w.key("total_tokens").value(static_cast<std::uint64_t>(tokens)).end_object();
        c.output = fmt::format("{} embedding{} of {} dimensions", rows.size(), rows.size() == 1 ? "" : "s", cfg.hidden_size);
    } else {
        w.key("embedding").begin_array();
        for (float v : rows.front()) w.value(v);
        w.end_array();
        c.output = fmt::format("an embedding of {} dimensions", cfg.hidden_size);
    }
    w.end_object();
    c.extra_json = w.take();
    c.inference_ms = ms;
    sink.completed(std::move(c));
}

// The upload as the folder's processor makes it: [3, size, size] float32.
prepared<at::Tensor> image_pixels(const hf::encoder_config& cfg, const job& j, const job_limits& limits) {
    auto bytes = first_file_bytes(j, limits.max_image_bytes);
    if (!bytes.ok()) return {std::nullopt, bytes.error};
    image_limits il;
    il.max_width = il.max_height = 16384;
    il.max_pixels = limits.max_image_pixels;
    auto decoded = decode_image(*bytes.value, il);
    if (!decoded.image) return {std::nullopt, {"bad_input", fmt::format("{}: {}", j.files.front().name, decoded.error)}};
    const auto& p = cfg.image;
    if (!p.resize && (decoded.image->width != p.width || decoded.image->height != p.height))
        return {std::nullopt, {"bad_input", fmt::format("{} is {}x{}; this model takes {}x{} images", j.files.front().name,
                                                        decoded.image->width, decoded.image->height, p.width, p.height)}};
    auto planar = preprocess_image(*decoded.image, p);
    at::Tensor t = at::from_blob(planar.data(), {3, static_cast<std::int64_t>(p.height), static_cast<std::int64_t>(p.width)},
                                 at::kFloat).clone();
    return {std::move(t), {}};
}

void run_image(encoder_engine& engine, const job& j, const job_limits& limits, result_sink& sink) {
    const auto& cfg = engine.model().config();
    auto top_k = read_top_k(j);
    if (!top_k.ok()) return sink.failed(top_k.error.code, top_k.error.message);
    auto pixels = image_pixels(cfg, j, limits);
    if (!pixels.ok()) return sink.failed(pixels.error.code, pixels.error.message);
    const auto start = steady::now();
    std::vector<at::Tensor> one{std::move(*pixels.value)};
    const auto rows = engine.run_images(std::move(one));
    const double ms = ms_since(start);
    protocol::json_writer w;
    w.begin_object().key("width").value(static_cast<std::uint64_t>(cfg.image.width));
    w.key("height").value(static_cast<std::uint64_t>(cfg.image.height));
    complete_classification(rank_labels(rows.front(), cfg.labels, cfg.scores, *top_k.value), cfg.scores, w, ms, sink);
}

} // namespace

void run_encoder_job(encoder_engine& engine, const std::string& model_name, const job& j, const job_limits& limits,
                     result_sink& sink) {
    const auto& cfg = engine.model().config();
    const auto task = asked_task(j);
    if (task == "embeddings" && cfg.task != hf::encoder_task::embeddings)
        return sink.failed("bad_input", fmt::format("model {} classifies {} and makes no embeddings", model_name,
                                                    cfg.task == hf::encoder_task::image_classification ? "images" : "text"));
    if (cfg.task == hf::encoder_task::image_classification) return run_image(engine, j, limits, sink);
    run_text(engine, j, limits, sink);
}

} // namespace tether::agent::encoder
