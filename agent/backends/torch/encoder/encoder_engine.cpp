#include "backends/torch/encoder/encoder_engine.hpp"

#include "backends/hf/folder_error.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace tether::agent::encoder {
namespace {

// Attention scores one forward call may hold (batch × heads × length²): 128 MiB of float32.
constexpr std::int64_t max_score_elements = std::int64_t{1} << 25;

} // namespace

std::vector<std::vector<float>> tensor_rows(const at::Tensor& t) {
    const at::Tensor c = t.to(at::kCPU, at::kFloat).contiguous();
    const auto rows = c.size(0), cols = c.size(1);
    std::vector<std::vector<float>> out(static_cast<std::size_t>(rows));
    const float* p = c.data_ptr<float>();
    for (std::int64_t r = 0; r < rows; ++r) out[static_cast<std::size_t>(r)].assign(p + r * cols, p + (r + 1) * cols);
    return out;
}

encoder_engine::encoder_engine(std::unique_ptr<encoder_model> model, std::shared_ptr<const text::model_text> text,
                               std::size_t max_batch, std::chrono::microseconds batch_wait)
    : model_(std::move(model)), text_(std::move(text)), max_batch_(std::max<std::size_t>(max_batch, 1)),
      text_queue_(max_batch_, batch_wait, [this](std::vector<std::vector<std::int64_t>>& in) { return forward_text(in); }),
      image_queue_(max_batch_, batch_wait, [this](std::vector<at::Tensor>& in) { return forward_images(in); }) {
    const auto& c = model_->config();
    std::int64_t n = c.max_tokens();
    if (c.max_seq_length) n = std::min(n, *c.max_seq_length);
    if (text_ && text_->model_max_length()) n = std::min<std::int64_t>(n, static_cast<std::int64_t>(*text_->model_max_length()));
    max_tokens_ = static_cast<std::size_t>(std::max<std::int64_t>(n, 1));
}

tokenized encoder_engine::tokenize(std::string_view text) const {
    tokenized t;
    const auto ids = text_->tokens().encode_truncated(text, true, max_tokens_, &t.tokens);
    t.ids.assign(ids.begin(), ids.end());
    return t;
}

std::vector<std::vector<float>> encoder_engine::run_text(std::vector<std::vector<std::int64_t>> inputs) {
    const auto vocab = model_->config().vocab_size;
    for (const auto& in : inputs) {
        if (in.empty() || in.size() > max_tokens_)
            throw std::invalid_argument("an input of " + std::to_string(in.size()) + " tokens (1 to " +
                                        std::to_string(max_tokens_) + " are taken)");
        for (auto id : in)
            if (id < 0 || id >= vocab) throw std::invalid_argument("token id " + std::to_string(id) + " is not in the vocabulary");
    }
    return text_queue_.submit(std::move(inputs));
}

std::vector<std::vector<float>> encoder_engine::run_images(std::vector<at::Tensor> pixels) {
    return image_queue_.submit(std::move(pixels));
}

std::vector<std::vector<float>> encoder_engine::forward_text(std::vector<std::vector<std::int64_t>>& inputs) {
    const auto& c = model_->config();
    const bool classify = c.task == hf::encoder_task::text_classification;
    // Longest first, so each forward batch pads little.
    std::vector<std::size_t> order(inputs.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return inputs[a].size() > inputs[b].size(); });
    std::vector<std::vector<float>> out(inputs.size());
    for (std::size_t from = 0; from < order.size();) {
        const auto L = static_cast<std::int64_t>(inputs[order[from]].size());
        const std::int64_t by_scores = std::max<std::int64_t>(1, max_score_elements / (c.num_heads * L * L));
        const auto B = static_cast<std::size_t>(std::min<std::int64_t>(
            {static_cast<std::int64_t>(max_batch_), by_scores, static_cast<std::int64_t>(order.size() - from)}));
        at::Tensor ids = at::full({static_cast<std::int64_t>(B), L}, c.pad_token_id, at::kLong);
        at::Tensor mask = at::zeros({static_cast<std::int64_t>(B), L}, at::kLong);
        for (std::size_t b = 0; b < B; ++b) {
            const auto& in = inputs[order[from + b]];
            std::memcpy(ids[static_cast<std::int64_t>(b)].data_ptr<std::int64_t>(), in.data(), in.size() * sizeof(std::int64_t));
            mask[static_cast<std::int64_t>(b)].narrow(0, 0, static_cast<std::int64_t>(in.size())).fill_(1);
        }
        const at::Tensor hidden = model_->encode_text(ids, mask);
        auto rows = tensor_rows(classify ? model_->classify(hidden) : model_->pool(hidden, mask));
        for (std::size_t b = 0; b < B; ++b) out[order[from + b]] = std::move(rows[b]);
        forwards_.fetch_add(1);
        from += B;
    }
    return out;
}

std::vector<std::vector<float>> encoder_engine::forward_images(std::vector<at::Tensor>& pixels) {
    std::vector<std::vector<float>> out;
    for (std::size_t from = 0; from < pixels.size(); from += max_batch_) {
        const std::size_t n = std::min(max_batch_, pixels.size() - from);
        std::vector<at::Tensor> batch(pixels.begin() + static_cast<std::ptrdiff_t>(from),
                                      pixels.begin() + static_cast<std::ptrdiff_t>(from + n));
        auto rows = tensor_rows(model_->classify(model_->encode_image(at::stack(batch, 0))));
        for (auto& r : rows) out.push_back(std::move(r));
        forwards_.fetch_add(1);
    }
    return out;
}

std::unique_ptr<encoder_engine> load_encoder(const std::filesystem::path& dir, const load_options& options, std::size_t max_batch,
                                             std::chrono::microseconds batch_wait) {
    auto config = hf::read_encoder_config(dir);
    std::shared_ptr<const text::model_text> text;
    if (config.family != hf::encoder_family::vit) {
        text = std::make_shared<const text::model_text>(text::model_text::load(dir));
        if (text->tokens().vocab_size() > static_cast<std::size_t>(config.vocab_size))
            throw hf::folder_error("tokenizer.json has " + std::to_string(text->tokens().vocab_size()) +
                                   " tokens, config.json's vocab_size is " + std::to_string(config.vocab_size));
    }
    auto model = std::make_unique<encoder_model>(dir, std::move(config), options);
    auto engine = std::make_unique<encoder_engine>(std::move(model), std::move(text), max_batch, batch_wait);
    // The warm-up, and the proof the folder runs.
    const auto& c = engine->model().config();
    if (c.family == hf::encoder_family::vit) {
        std::vector<at::Tensor> one{at::zeros({c.num_channels, c.image_size, c.image_size}, at::kFloat)};
        (void)engine->run_images(std::move(one));
    } else {
        (void)engine->run_text({engine->tokenize("warm up").ids});
    }
    return engine;
}

} // namespace tether::agent::encoder
