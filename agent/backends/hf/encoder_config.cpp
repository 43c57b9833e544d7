#include "backends/hf/encoder_config.hpp"

#include "backends/hf/config_json.hpp"
#include "backends/hf/folder_error.hpp"
#include "text/json_view.hpp"

#include <algorithm>

namespace tether::agent::hf {
namespace {

using text::json_view;

constexpr std::size_t max_config_bytes = 4U << 20;
constexpr std::size_t max_small_bytes = 1U << 20;
constexpr std::int64_t max_labels = 100'000;

bool ends_with(std::string_view s, std::string_view tail) {
    return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

encoder_family family_of(const json_view& c, const std::string& type) {
    if (type == "bert") return encoder_family::bert;
    if (type == "roberta" || type == "xlm-roberta") return encoder_family::roberta;
    if (type == "distilbert") return encoder_family::distilbert;
    if (type == "vit") return encoder_family::vit;
    c.required("model_type").fail("\"" + type + "\" is not an encoder this agent runs (bert, roberta, xlm-roberta, distilbert, vit)");
}

// The head `architectures` names.
std::optional<encoder_task> head_of(const json_view& c) {
    auto a = c.member("architectures");
    if (!a) return std::nullopt;
    std::optional<encoder_task> task;
    a->for_each(16, [&](std::size_t, const json_view& x) {
        const auto name = x.as_string();
        if (ends_with(name, "ForSequenceClassification")) task = encoder_task::text_classification;
        else if (ends_with(name, "ForImageClassification")) task = encoder_task::image_classification;
    });
    return task;
}

void read_labels(const json_view& c, encoder_config& cfg) {
    if (auto m = c.member("id2label")) {
        std::vector<std::optional<std::string>> by_id;
        m->for_each_member(static_cast<std::size_t>(max_labels), [&](std::string_view key, const json_view& v) {
            std::int64_t id = -1;
            if (!key.empty() && key.size() <= 6 && std::all_of(key.begin(), key.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
                id = std::stoll(std::string(key));
            if (id < 0 || id >= max_labels) v.fail("the key \"" + std::string(key) + "\" is not a label id");
            if (static_cast<std::size_t>(id) >= by_id.size()) by_id.resize(static_cast<std::size_t>(id) + 1);
            by_id[static_cast<std::size_t>(id)] = v.as_string();
        });
        for (std::size_t i = 0; i < by_id.size(); ++i) {
            if (!by_id[i]) m->fail("label " + std::to_string(i) + " is missing (ids must run from 0)");
            cfg.labels.push_back(std::move(*by_id[i]));
        }
    }
    const auto num = int_field(c, "num_labels", 1, max_labels, cfg.labels.empty() ? 2 : static_cast<std::int64_t>(cfg.labels.size()));
    if (cfg.labels.empty())
        for (std::int64_t i = 0; i < num; ++i) cfg.labels.push_back("LABEL_" + std::to_string(i));
    else if (num != static_cast<std::int64_t>(cfg.labels.size()))
        c.required("num_labels").fail("is " + std::to_string(num) + " but id2label has " + std::to_string(cfg.labels.size()));
    if (cfg.labels.empty()) c.required("id2label").fail("a classifier needs at least one label");
    const auto problem = c.string_or("problem_type", "");
    if (problem == "multi_label_classification") cfg.scores = label_scores::sigmoid;
    else if (problem == "regression") cfg.scores = label_scores::none;
    else if (problem == "single_label_classification") cfg.scores = label_scores::softmax;
    else if (problem.empty()) cfg.scores = cfg.labels.size() == 1 ? label_scores::sigmoid : label_scores::softmax;
    else c.required("problem_type").fail("\"" + problem + "\" is not supported (single_label_classification, "
                                        "multi_label_classification, regression)");
}

void read_bert_like(const json_view& c, encoder_config& cfg) {
    cfg.vocab_size = int_field(c, "vocab_size", 1, 1 << 22);
    cfg.hidden_size = int_field(c, "hidden_size", 1, 1 << 16);
    cfg.num_layers = int_field(c, "num_hidden_layers", 1, 256);
    cfg.num_heads = int_field(c, "num_attention_heads", 1, 1024);
    cfg.intermediate_size = int_field(c, "intermediate_size", 1, 1 << 20);
    cfg.max_position = int_field(c, "max_position_embeddings", 1, 1 << 20, 512);
    cfg.norm_eps = number_field(c, "layer_norm_eps", 0, 1, 1e-12);
    cfg.act = read_activation(c, "hidden_act", "gelu");
    if (auto p = c.member("position_embedding_type"); p && p->as_string() != "absolute")
        p->fail("\"" + p->as_string() + "\" is not supported (absolute)");
    if (c.bool_or("is_decoder", false)) c.required("is_decoder").fail("a decoder is not an encoder");
    const bool roberta = cfg.family == encoder_family::roberta;
    cfg.type_vocab_size = int_field(c, "type_vocab_size", 0, 1 << 10, roberta ? 1 : 2);
    cfg.pad_token_id = int_field(c, "pad_token_id", 0, cfg.vocab_size - 1, roberta ? 1 : 0);
    if (roberta && cfg.max_position <= cfg.pad_token_id + 1)
        c.required("max_position_embeddings").fail("leaves no position after the padding offset (" +
                                                    std::to_string(cfg.pad_token_id + 1) + ")");
}

void read_distilbert(const json_view& c, encoder_config& cfg) {
    cfg.vocab_size = int_field(c, "vocab_size", 1, 1 << 22);
    cfg.hidden_size = int_field(c, "dim", 1, 1 << 16);
    cfg.num_layers = int_field(c, "n_layers", 1, 256);
    cfg.num_heads = int_field(c, "n_heads", 1, 1024);
    cfg.intermediate_size = int_field(c, "hidden_dim", 1, 1 << 20);
    cfg.max_position = int_field(c, "max_position_embeddings", 1, 1 << 20, 512);
    cfg.norm_eps = 1e-12; // fixed in DistilBERT
    cfg.act = read_activation(c, "activation", "gelu");
    cfg.pad_token_id = int_field(c, "pad_token_id", 0, cfg.vocab_size - 1, 0);
}

void read_vit(const json_view& c, encoder_config& cfg) {
    cfg.hidden_size = int_field(c, "hidden_size", 1, 1 << 16);
    cfg.num_layers = int_field(c, "num_hidden_layers", 1, 256);
    cfg.num_heads = int_field(c, "num_attention_heads", 1, 1024);
    cfg.intermediate_size = int_field(c, "intermediate_size", 1, 1 << 20);
    cfg.norm_eps = number_field(c, "layer_norm_eps", 0, 1, 1e-12);
    cfg.act = read_activation(c, "hidden_act", "gelu");
    cfg.image_size = int_field(c, "image_size", 1, 4096, 224);
    cfg.patch_size = int_field(c, "patch_size", 1, 1024, 16);
    cfg.num_channels = int_field(c, "num_channels", 3, 3, 3);
    cfg.qkv_bias = c.bool_or("qkv_bias", true);
    if (cfg.image_size % cfg.patch_size != 0)
        c.required("patch_size").fail(std::to_string(cfg.patch_size) + " does not divide image_size (" +
                                      std::to_string(cfg.image_size) + ")");
    cfg.image.width = cfg.image.height = static_cast<std::uint32_t>(cfg.image_size);
}

// A path inside the folder named by modules.json: relative, without "..".
std::string module_dir(const json_view& m) {
    const auto p = m.string_or("path", "");
    if (p.size() > 256 || (!p.empty() && p.front() == '/') || p.find("..") != std::string::npos || p.find('\\') != std::string::npos)
        m.required("path").fail("expected a folder inside the model folder");
    return p;
}

void read_modules(std::string_view modules_json, encoder_config& cfg, std::string* pooling_dir) {
    with_json_root(modules_json, "modules.json", max_small_bytes, [&](const json_view& list) {
        if (!list.is_array()) list.fail("expected an array of modules");
        bool transformer = false, pooling = false;
        cfg.normalize = false;
        list.for_each(32, [&](std::size_t i, const json_view& m) {
            const auto type = m.required("type").as_string();
            if (type == "sentence_transformers.models.Transformer") {
                if (i != 0 || !module_dir(m).empty()) m.fail("the Transformer module must come first, in the folder itself");
                transformer = true;
            } else if (type == "sentence_transformers.models.Pooling") {
                if (!transformer || pooling) m.fail("expected one Pooling module, after the Transformer");
                pooling = true;
                if (pooling_dir) *pooling_dir = module_dir(m);
            } else if (type == "sentence_transformers.models.Normalize") {
                cfg.normalize = true;
            } else {
                m.required("type").fail("\"" + type + "\" is not supported (Transformer, Pooling, Normalize)");
            }
        });
        if (!transformer) list.fail("no sentence_transformers.models.Transformer module");
        if (!pooling) list.fail("no sentence_transformers.models.Pooling module");
    }, true);
}

void read_pooling(std::string_view json, encoder_config& cfg) {
    with_json_root(json, "pooling config.json", max_small_bytes, [&](const json_view& c) {
        if (auto d = c.member("word_embedding_dimension"); d && d->as_int() != cfg.hidden_size)
            d->fail("is " + std::to_string(d->as_int()) + ", the model's hidden size is " + std::to_string(cfg.hidden_size));
        struct mode {
            const char* key;
            pooling_mode value;
        };
        const mode modes[] = {{"pooling_mode_mean_tokens", pooling_mode::mean},
                              {"pooling_mode_cls_token", pooling_mode::cls},
                              {"pooling_mode_max_tokens", pooling_mode::max},
                              {"pooling_mode_mean_sqrt_len_tokens", pooling_mode::mean_sqrt_len}};
        int chosen = 0;
        for (const auto& m : modes)
            if (c.bool_or(m.key, false)) {
                cfg.pooling = m.value;
                ++chosen;
            }
        for (const char* key : {"pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"})
            if (c.bool_or(key, false)) c.required(key).fail("is not supported (mean, cls, max, mean_sqrt_len)");
        if (chosen != 1) c.fail("expected exactly one pooling mode set (mean, cls, max, mean_sqrt_len)");
        if (!c.bool_or("include_prompt", true)) c.required("include_prompt").fail("false is not supported");
    });
}

void read_sentence_bert(std::string_view json, encoder_config& cfg) {
    with_json_root(json, "sentence_bert_config.json", max_small_bytes, [&](const json_view& c) {
        if (c.member("max_seq_length")) cfg.max_seq_length = int_field(c, "max_seq_length", 1, 1 << 20);
    });
}

void read_size(const json_view& p, image_preprocess& img) {
    auto s = p.member("size");
    if (!s) return;
    if (!s->is_object()) {
        img.width = img.height = static_cast<std::uint32_t>(int_field(p, "size", 1, 4096));
        return;
    }
    if (s->member("shortest_edge") || s->member("longest_edge"))
        s->fail("a shortest or longest edge is not supported (height and width)");
    img.height = static_cast<std::uint32_t>(int_field(*s, "height", 1, 4096));
    img.width = static_cast<std::uint32_t>(int_field(*s, "width", 1, 4096));
}

void read_triple(const json_view& p, std::string_view key, double (&out)[3], bool positive) {
    auto m = p.member(key);
    if (!m) return;
    if (!m->is_array()) {
        const double v = m->as_double();
        out[0] = out[1] = out[2] = v;
    } else {
        if (m->array_size() != 3) m->fail("expected 3 numbers, one per channel");
        m->for_each(3, [&](std::size_t i, const json_view& x) { out[i] = x.as_double(); });
    }
    for (double v : out)
        if (positive ? !(v > 0 && v < 1e6) : !(v > -1e6 && v < 1e6)) m->fail(positive ? "expected positive numbers" : "out of range");
}

void read_preprocessor(std::string_view json, encoder_config& cfg) {
    with_json_root(json, "preprocessor_config.json", max_small_bytes, [&](const json_view& p) {
        auto& img = cfg.image;
        img.resize = p.bool_or("do_resize", true);
        read_size(p, img);
        img.resample = static_cast<int>(int_field(p, "resample", 0, 5, 2));
        if (img.resample != 0 && img.resample != 2 && img.resample != 3)
            p.required("resample").fail("expected 0 (nearest), 2 (bilinear) or 3 (bicubic)");
        img.rescale = p.bool_or("do_rescale", true);
        img.rescale_factor = number_field(p, "rescale_factor", 0, 1, 1.0 / 255.0);
        img.normalize = p.bool_or("do_normalize", true);
        read_triple(p, "image_mean", img.mean, false);
        read_triple(p, "image_std", img.std, true);
        if (p.bool_or("do_center_crop", false)) p.required("do_center_crop").fail("center cropping is not supported");
        if (img.width != static_cast<std::uint32_t>(cfg.image_size) || img.height != static_cast<std::uint32_t>(cfg.image_size))
            p.fail("resizes to " + std::to_string(img.width) + "x" + std::to_string(img.height) + ", the model takes " +
                   std::to_string(cfg.image_size) + "x" + std::to_string(cfg.image_size));
    });
}

} // namespace

std::int64_t encoder_config::max_tokens() const {
    return family == encoder_family::roberta ? max_position - pad_token_id - 1 : max_position;
}

bool is_encoder_model_type(std::string_view t) {
    return t == "bert" || t == "roberta" || t == "xlm-roberta" || t == "distilbert" || t == "vit";
}

encoder_config parse_encoder_config(std::string_view config_json, std::string_view modules_json, std::string_view pooling_json,
                                    std::string_view sentence_bert_json, std::string_view preprocessor_json) {
    encoder_config cfg;
    with_json_root(config_json, "config.json", max_config_bytes, [&](const json_view& c) {
        cfg.model_type = c.required("model_type").as_string();
        cfg.family = family_of(c, cfg.model_type);
        const auto head = head_of(c);
        if (cfg.family == encoder_family::vit) {
            read_vit(c, cfg);
            if (head != encoder_task::image_classification)
                c.fail("a ViT folder is served for image classification: its architectures must name "
                       "ViTForImageClassification");
            cfg.task = encoder_task::image_classification;
        } else {
            if (cfg.family == encoder_family::distilbert) read_distilbert(c, cfg);
            else read_bert_like(c, cfg);
            if (head == encoder_task::image_classification) c.required("architectures").fail("an image head on a text model");
            cfg.task = modules_json.empty() && head == encoder_task::text_classification ? encoder_task::text_classification
                                                                                         : encoder_task::embeddings;
        }
        if (cfg.hidden_size % cfg.num_heads != 0)
            c.fail("the attention heads (" + std::to_string(cfg.num_heads) + ") do not divide the hidden size (" +
                   std::to_string(cfg.hidden_size) + ")");
        if (cfg.task != encoder_task::embeddings) read_labels(c, cfg);
        if (auto d = c.member("torch_dtype"); d && d->is_string()) cfg.torch_dtype = d->as_string();
    });
    if (cfg.task == encoder_task::embeddings && !modules_json.empty()) {
        read_modules(modules_json, cfg, nullptr);
        cfg.sentence_transformers = true;
        if (!pooling_json.empty()) read_pooling(pooling_json, cfg);
        if (!sentence_bert_json.empty()) read_sentence_bert(sentence_bert_json, cfg);
    }
    if (cfg.family == encoder_family::vit && !preprocessor_json.empty()) read_preprocessor(preprocessor_json, cfg);
    return cfg;
}

encoder_config read_encoder_config(const std::filesystem::path& dir) {
    const auto config = read_folder_file(dir / "config.json", max_config_bytes, true, "a Hugging Face model folder has a config.json");
    const auto modules = read_folder_file(dir / "modules.json", max_small_bytes, false);
    std::string pooling, sentence_bert;
    if (!modules.empty()) {
        encoder_config probe;
        std::string pooling_dir;
        read_modules(modules, probe, &pooling_dir);
        pooling = read_folder_file(dir / pooling_dir / "config.json", max_small_bytes, true, "the Pooling module's settings");
        sentence_bert = read_folder_file(dir / "sentence_bert_config.json", max_small_bytes, false);
    }
    const auto preprocessor = read_folder_file(dir / "preprocessor_config.json", max_small_bytes, false);
    return parse_encoder_config(config, modules, pooling, sentence_bert, preprocessor);
}

} // namespace tether::agent::hf
