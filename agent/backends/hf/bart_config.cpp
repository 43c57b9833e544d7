#include "backends/hf/bart_config.hpp"

#include "backends/hf/config_json.hpp"
#include "backends/hf/folder_error.hpp"
#include "text/json_view.hpp"

namespace tether::agent::hf {
namespace {

using text::json_view;

constexpr std::size_t max_config_bytes = 4U << 20;

// The generation fields of `c` (config.json or generation_config.json) over `g`.
void read_generation(const json_view& c, bart_generation& g, std::int64_t vocab) {
    auto id = [&](std::string_view key, std::int64_t fallback) { return int_field(c, key, 0, vocab - 1, fallback); };
    g.decoder_start = id("decoder_start_token_id", g.decoder_start);
    g.bos = id("bos_token_id", g.bos);
    g.eos = id("eos_token_id", g.eos);
    g.pad = id("pad_token_id", g.pad);
    if (c.member("forced_bos_token_id")) g.forced_bos = id("forced_bos_token_id", 0);
    if (c.member("forced_eos_token_id")) g.forced_eos = id("forced_eos_token_id", 0);
    g.num_beams = int_field(c, "num_beams", 1, 64, g.num_beams);
    g.max_length = int_field(c, "max_length", 2, 1 << 16, g.max_length);
    g.min_length = int_field(c, "min_length", 0, 1 << 16, g.min_length);
    g.no_repeat_ngram_size = int_field(c, "no_repeat_ngram_size", 0, 64, g.no_repeat_ngram_size);
    if (auto lp = c.member("length_penalty")) {
        g.length_penalty = lp->as_double();
        if (!(g.length_penalty > -100 && g.length_penalty < 100)) lp->fail("expected a number from -100 to 100");
    }
    if (auto es = c.member("early_stopping")) {
        if (es->is_string()) es->fail("\"never\" is not supported (true or false)");
        g.early_stopping = es->as_bool();
    }
}

} // namespace

bart_config parse_bart_config(std::string_view config_json, std::string_view generation_json) {
    bart_config cfg;
    with_json_root(config_json, "config.json", max_config_bytes, [&](const json_view& c) {
        const auto type = c.required("model_type").as_string();
        if (type != "bart") c.required("model_type").fail("\"" + type + "\" is not bart");
        cfg.vocab_size = int_field(c, "vocab_size", 4, 1 << 22);
        cfg.d_model = int_field(c, "d_model", 1, 1 << 16);
        cfg.max_position = int_field(c, "max_position_embeddings", 1, 1 << 16, 1024);
        cfg.encoder_layers = int_field(c, "encoder_layers", 1, 256);
        cfg.decoder_layers = int_field(c, "decoder_layers", 1, 256);
        cfg.encoder_heads = int_field(c, "encoder_attention_heads", 1, 1024);
        cfg.decoder_heads = int_field(c, "decoder_attention_heads", 1, 1024);
        cfg.encoder_ffn = int_field(c, "encoder_ffn_dim", 1, 1 << 20);
        cfg.decoder_ffn = int_field(c, "decoder_ffn_dim", 1, 1 << 20);
        if (cfg.d_model % cfg.encoder_heads != 0 || cfg.d_model % cfg.decoder_heads != 0)
            c.required("d_model").fail("is not divided by the attention heads");
        cfg.act = read_activation(c, "activation_function", "gelu");
        cfg.scale_embedding = c.bool_or("scale_embedding", false);
        for (const char* key : {"normalize_before", "add_final_layer_norm"})
            if (c.bool_or(key, false)) c.required(key).fail("true is not supported (BART's post-norm layers; mBART is not served)");
        if (auto d = c.member("torch_dtype"); d && d->is_string()) cfg.torch_dtype = d->as_string();
        read_generation(c, cfg.generation, cfg.vocab_size);
    });
    if (!generation_json.empty())
        with_json_root(generation_json, "generation_config.json", max_config_bytes,
                       [&](const json_view& g) { read_generation(g, cfg.generation, cfg.vocab_size); });
    auto& g = cfg.generation;
    if (g.min_length >= g.max_length)
        throw folder_error("min_length (" + std::to_string(g.min_length) + ") is not below max_length (" +
                           std::to_string(g.max_length) + ")");
    return cfg;
}

bart_config read_bart_config(const std::filesystem::path& dir) {
    const auto config = read_folder_file(dir / "config.json", max_config_bytes, true, "a Hugging Face model folder has a config.json");
    const auto generation = read_folder_file(dir / "generation_config.json", max_config_bytes, false);
    return parse_bart_config(config, generation);
}

} // namespace tether::agent::hf
