#include "backends/hf/lm_config.hpp"

#include "backends/hf/config_json.hpp"
#include "backends/hf/folder_error.hpp"
#include "text/json_view.hpp"

#include <simdjson.h>

#include <cmath>

namespace tether::agent::hf {
namespace {

using text::json_view;

constexpr const char* file_name = "config.json";
constexpr std::size_t max_config_bytes = 4U << 20;

std::string read_config(const std::filesystem::path& dir) {
    return read_folder_file(dir / file_name, max_config_bytes, true, "a Hugging Face model folder has a config.json");
}


void read_rope(const json_view& c, lm_config& cfg) {
    cfg.rope.theta = number_field(c, "rope_theta", 0, 1e12, 10000.0);
    if (auto p = c.member("partial_rotary_factor"); p && p->as_double() != 1.0)
        p->fail("a partial rotary embedding is not supported");
    auto s = c.member("rope_scaling");
    if (!s) return;
    std::string type;
    if (auto t = s->member("rope_type")) type = t->as_string();
    else if (auto t2 = s->member("type")) type = t2->as_string();
    else s->fail("expected rope_type");
    if (type == "default") return;
    cfg.rope.factor = number_field(*s, "factor", 0, 1e4, 1.0);
    if (type == "linear") {
        cfg.rope.kind = rope_kind::linear;
    } else if (type == "llama3") {
        cfg.rope.kind = rope_kind::llama3;
        cfg.rope.low_freq_factor = number_field(*s, "low_freq_factor", 0, 1e4, 1.0);
        cfg.rope.high_freq_factor = number_field(*s, "high_freq_factor", 0, 1e4, 4.0);
        if (!(cfg.rope.high_freq_factor > cfg.rope.low_freq_factor))
            s->required("high_freq_factor").fail("must be above low_freq_factor");
        cfg.rope.original_max_position = int_field(*s, "original_max_position_embeddings", 1, 1 << 24, 8192);
    } else {
        s->fail("rope scaling \"" + type + "\" is not supported (linear, llama3)");
    }
}

lm_config parse_llama_family(const json_view& c, const std::string& type) {
    lm_config cfg;
    cfg.model_type = type;
    cfg.family = lm_family::llama;
    cfg.vocab_size = int_field(c, "vocab_size", 1, 1 << 24);
    cfg.hidden_size = int_field(c, "hidden_size", 1, 1 << 16);
    cfg.intermediate_size = int_field(c, "intermediate_size", 1, 1 << 20);
    cfg.num_layers = int_field(c, "num_hidden_layers", 1, 1024);
    cfg.num_heads = int_field(c, "num_attention_heads", 1, 1024);
    cfg.num_kv_heads = int_field(c, "num_key_value_heads", 1, 1024, cfg.num_heads);
    if (cfg.num_heads % cfg.num_kv_heads != 0)
        c.required("num_key_value_heads").fail(std::to_string(cfg.num_kv_heads) + " does not divide num_attention_heads (" +
                                               std::to_string(cfg.num_heads) + ")");
    auto head_dim = c.member("head_dim");
    if (head_dim) {
        cfg.head_dim = int_field(c, "head_dim", 2, 1024);
    } else {
        if (cfg.hidden_size % cfg.num_heads != 0)
            c.required("num_attention_heads").fail("does not divide hidden_size, and no head_dim is given");
        cfg.head_dim = cfg.hidden_size / cfg.num_heads;
    }
    if (cfg.head_dim % 2 != 0) (head_dim ? *head_dim : c.required("hidden_size")).fail("the head size must be even for rotary embeddings");
    cfg.max_position = int_field(c, "max_position_embeddings", 1, 1 << 24, 2048);
    cfg.norm_eps = number_field(c, "rms_norm_eps", 0, 1, 1e-6);
    cfg.act = read_activation(c, "hidden_act", "silu");
    cfg.tie_word_embeddings = c.bool_or("tie_word_embeddings", false);
    if (type == "qwen2") {
        cfg.qkv_bias = true;
        if (c.bool_or("use_sliding_window", false)) {
            cfg.sliding_window = int_field(c, "sliding_window", 1, 1 << 24);
            if (auto m = c.member("max_window_layers"); m && m->as_int() < cfg.num_layers)
                m->fail("sliding windows on some layers only are not supported");
        }
    } else {
        cfg.qkv_bias = cfg.o_bias = c.bool_or("attention_bias", false);
        cfg.mlp_bias = c.bool_or("mlp_bias", false);
        if (type == "mistral") {
            if (auto w = c.member("sliding_window")) cfg.sliding_window = int_field(c, "sliding_window", 1, 1 << 24);
        }
    }
    read_rope(c, cfg);
    return cfg;
}

lm_config parse_gpt2(const json_view& c) {
    lm_config cfg;
    cfg.model_type = "gpt2";
    cfg.family = lm_family::gpt2;
    cfg.vocab_size = int_field(c, "vocab_size", 1, 1 << 24);
    cfg.hidden_size = int_field(c, "n_embd", 1, 1 << 16);
    cfg.num_layers = int_field(c, "n_layer", 1, 1024);
    cfg.num_heads = cfg.num_kv_heads = int_field(c, "n_head", 1, 1024);
    if (cfg.hidden_size % cfg.num_heads != 0) c.required("n_head").fail("does not divide n_embd");
    cfg.head_dim = cfg.hidden_size / cfg.num_heads;
    cfg.max_position = int_field(c, "n_positions", 1, 1 << 24, 1024);
    if (auto inner = c.member("n_inner"); inner && !inner->is_null())
        cfg.intermediate_size = int_field(c, "n_inner", 1, 1 << 20);
    else
        cfg.intermediate_size = 4 * cfg.hidden_size;
    cfg.norm_eps = number_field(c, "layer_norm_epsilon", 0, 1, 1e-5);
    cfg.act = read_activation(c, "activation_function", "gelu_new");
    cfg.tie_word_embeddings = true;
    cfg.qkv_bias = cfg.o_bias = cfg.mlp_bias = true;
    if (c.bool_or("scale_attn_by_inverse_layer_idx", false))
        c.required("scale_attn_by_inverse_layer_idx").fail("is not supported");
    if (c.bool_or("add_cross_attention", false)) c.required("add_cross_attention").fail("is not supported");
    if (!c.bool_or("scale_attn_weights", true)) c.required("scale_attn_weights").fail("false is not supported");
    return cfg;
}

} // namespace

activation read_activation(const json_view& c, std::string_view key, std::string_view fallback) {
    std::string a(fallback);
    auto m = c.member(key);
    if (m) a = m->as_string();
    if (a == "silu" || a == "swish") return activation::silu;
    if (a == "gelu_new" || a == "gelu_pytorch_tanh" || a == "gelu_fast") return activation::gelu_tanh;
    if (a == "gelu") return activation::gelu;
    if (a == "relu") return activation::relu;
    (m ? *m : c).fail("activation \"" + a + "\" is not supported (silu, gelu_new, gelu_pytorch_tanh, gelu, relu)");
}

bool is_supported_model_type(std::string_view t) {
    return t == "llama" || t == "mistral" || t == "qwen2" || t == "gpt2";
}

lm_config parse_lm_config(std::string_view json) {
    lm_config cfg;
    with_json_root(json, file_name, max_config_bytes, [&](const json_view& c) {
        const std::string type = c.required("model_type").as_string();
        if (!is_supported_model_type(type))
            c.required("model_type").fail("\"" + type + "\" is not supported (llama, mistral, qwen2, gpt2; whisper for speech; bert, roberta, xlm-roberta, distilbert, vit encoders; bart)");
        cfg = type == "gpt2" ? parse_gpt2(c) : parse_llama_family(c, type);
        if (auto d = c.member("torch_dtype"); d && d->is_string()) cfg.torch_dtype = d->as_string();
    });
    return cfg;
}

std::string read_model_type(const std::filesystem::path& dir) {
    std::string type;
    with_json_root(read_config(dir), file_name, max_config_bytes,
                   [&](const json_view& c) { type = c.required("model_type").as_string(); });
    return type;
}

lm_config read_lm_config(const std::filesystem::path& dir) { return parse_lm_config(read_config(dir)); }

} // namespace tether::agent::hf
