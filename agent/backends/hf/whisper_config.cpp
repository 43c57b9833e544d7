#include "backends/hf/whisper_config.hpp"

#include "backends/hf/config_json.hpp"

#include <algorithm>
#include <numeric>

namespace tether::agent::hf {
namespace {

using text::json_view;

constexpr std::size_t max_file_bytes = 8U << 20; // preprocessor_config.json lists ~16k filter weights

whisper_architecture read_architecture(const json_view& c) {
    const std::string type = c.required("model_type").as_string();
    if (type != "whisper") c.required("model_type").fail("expected \"whisper\", not \"" + type + "\"");
    whisper_architecture a;
    a.d_model = int_field(c, "d_model", 1, 1 << 14);
    a.encoder_layers = int_field(c, "encoder_layers", 1, 256);
    a.encoder_heads = int_field(c, "encoder_attention_heads", 1, 256);
    a.encoder_ffn = int_field(c, "encoder_ffn_dim", 1, 1 << 17);
    a.decoder_layers = int_field(c, "decoder_layers", 1, 256);
    a.decoder_heads = int_field(c, "decoder_attention_heads", 1, 256);
    a.decoder_ffn = int_field(c, "decoder_ffn_dim", 1, 1 << 17);
    if (a.d_model % a.encoder_heads != 0) c.required("encoder_attention_heads").fail("does not divide d_model");
    if (a.d_model % a.decoder_heads != 0) c.required("decoder_attention_heads").fail("does not divide d_model");
    a.num_mel_bins = int_field(c, "num_mel_bins", 1, 512, 80);
    a.max_source_positions = int_field(c, "max_source_positions", 1, 1 << 16, 1500);
    a.max_target_positions = int_field(c, "max_target_positions", 16, 1 << 16, 448);
    a.vocab_size = int_field(c, "vocab_size", 16, 1 << 20);
    a.scale_embedding = c.bool_or("scale_embedding", false);
    if (auto act = c.member("activation_function"); act && act->as_string() != "gelu")
        act->fail("\"" + act->as_string() + "\" is not supported (Whisper uses gelu)");
    if (auto d = c.member("torch_dtype"); d && d->is_string()) a.torch_dtype = d->as_string();
    return a;
}

std::vector<std::int64_t> id_list(const json_view& j, std::int64_t vocab) {
    std::vector<std::int64_t> out;
    j.for_each(1 << 16, [&](std::size_t, const json_view& id) {
        const auto v = id.as_int();
        if (v < 0 || v >= vocab) id.fail("token id " + std::to_string(v) + " is outside the vocabulary");
        out.push_back(v);
    });
    return out;
}

std::int64_t required_token(const token_lookup& lookup, std::string_view name, std::int64_t vocab) {
    auto id = lookup(name);
    if (!id) throw folder_error("tokenizer.json: a Whisper tokenizer has the token " + std::string(name) + "; this one has not");
    if (*id < 0 || *id >= vocab)
        throw folder_error("tokenizer.json: token " + std::string(name) + " has id " + std::to_string(*id) +
                           ", outside config.json's vocab_size " + std::to_string(vocab));
    return *id;
}

std::optional<std::int64_t> optional_token(const token_lookup& lookup, std::string_view name, std::int64_t vocab) {
    auto id = lookup(name);
    if (id && (*id < 0 || *id >= vocab)) return std::nullopt;
    return id;
}

whisper_tokens read_tokens(const token_lookup& lookup, std::int64_t vocab) {
    whisper_tokens t;
    t.eot = required_token(lookup, "<|endoftext|>", vocab);
    t.sot = required_token(lookup, "<|startoftranscript|>", vocab);
    t.no_timestamps = required_token(lookup, "<|notimestamps|>", vocab);
    t.timestamp_begin = required_token(lookup, "<|0.00|>", vocab);
    if (t.timestamp_begin <= t.eot || t.timestamp_begin <= t.sot || t.timestamp_begin <= t.no_timestamps)
        throw folder_error("tokenizer.json: <|0.00|> must follow the other special tokens (timestamps are the last ids)");
    t.sot_prev = optional_token(lookup, "<|startofprev|>", vocab).value_or(-1);
    t.no_speech = optional_token(lookup, "<|nospeech|>", vocab).value_or(
        optional_token(lookup, "<|nocaptions|>", vocab).value_or(-1));
    t.transcribe = optional_token(lookup, "<|transcribe|>", vocab);
    t.translate = optional_token(lookup, "<|translate|>", vocab);
    t.sot_lm = optional_token(lookup, "<|startoflm|>", vocab);
    return t;
}

void read_generation(const json_view& g, whisper_config& cfg, const token_lookup& lookup) {
    const auto vocab = cfg.arch.vocab_size;
    auto& gen = cfg.generation;
    if (auto s = g.member("suppress_tokens")) gen.suppress_tokens = id_list(*s, vocab);
    if (auto s = g.member("begin_suppress_tokens")) gen.begin_suppress_tokens = id_list(*s, vocab);
    gen.max_initial_timestamp_index = int_field(g, "max_initial_timestamp_index", 0, 1 << 16, 50);
    if (auto langs = g.member("lang_to_id")) {
        std::vector<std::pair<std::int64_t, std::string>> found;
        langs->for_each_member(1024, [&](std::string_view key, const json_view& id) {
            const auto v = id.as_int();
            if (key.size() < 5 || !key.starts_with("<|") || !key.ends_with("|>"))
                id.fail("expected a key such as \"<|en|>\"");
            if (v < 0 || v >= vocab) id.fail("token id " + std::to_string(v) + " is outside the vocabulary");
            if (auto tok = lookup(key); !tok || *tok != v)
                id.fail("the tokenizer gives " + std::string(key) + " " + (tok ? "id " + std::to_string(*tok) : "no id"));
            found.emplace_back(v, std::string(key.substr(2, key.size() - 4)));
        });
        std::sort(found.begin(), found.end());
        for (auto& [id, code] : found) {
            cfg.tokens.language_ids.push_back(id);
            cfg.tokens.language_codes.push_back(std::move(code));
        }
    }
    gen.is_multilingual = g.bool_or("is_multilingual", !cfg.tokens.language_ids.empty());
    if (gen.is_multilingual && (cfg.tokens.language_ids.empty() || !cfg.tokens.transcribe || !cfg.tokens.translate))
        g.fail("a multilingual Whisper needs lang_to_id and the tokenizer's <|transcribe|> and <|translate|>");
}

void read_frontend(const json_view& p, whisper_config& cfg) {
    auto& f = cfg.frontend;
    f.sampling_rate = static_cast<std::uint32_t>(int_field(p, "sampling_rate", 16000, 16000, 16000));
    f.n_fft = static_cast<std::uint32_t>(int_field(p, "n_fft", 16, 4096, 400));
    f.hop_length = static_cast<std::uint32_t>(int_field(p, "hop_length", 1, 4096, 160));
    f.chunk_length = static_cast<std::uint32_t>(int_field(p, "chunk_length", 1, 600, 30));
    f.feature_size = static_cast<std::uint32_t>(int_field(p, "feature_size", 1, 512, cfg.arch.num_mel_bins));
    if (f.feature_size != cfg.arch.num_mel_bins)
        p.required("feature_size").fail(std::to_string(f.feature_size) + " differs from config.json's num_mel_bins " +
                                        std::to_string(cfg.arch.num_mel_bins));
    auto filters = p.member("mel_filters");
    if (!filters) return;
    // Saved either as [mels][bins] (the original's layout) or [bins][mels].
    const std::size_t bins = f.n_fft / 2 + 1, mels = f.feature_size;
    std::vector<std::vector<double>> rows;
    filters->for_each(4096, [&](std::size_t, const json_view& row) {
        std::vector<double> r;
        row.for_each(4096, [&](std::size_t, const json_view& x) { r.push_back(x.as_double()); });
        rows.push_back(std::move(r));
    });
    const bool mel_major = rows.size() == mels && std::all_of(rows.begin(), rows.end(), [&](auto& r) { return r.size() == bins; });
    const bool bin_major = rows.size() == bins && std::all_of(rows.begin(), rows.end(), [&](auto& r) { return r.size() == mels; });
    if (!mel_major && !bin_major)
        filters->fail("expected " + std::to_string(mels) + " x " + std::to_string(bins) + " filter weights");
    f.mel_filters.assign(mels * bins, 0.0F);
    for (std::size_t m = 0; m < mels; ++m)
        for (std::size_t b = 0; b < bins; ++b) {
            const double w = mel_major ? rows[m][b] : rows[b][m];
            if (!(w >= 0.0 && w < 1e3)) filters->fail("filter weights must be finite and not negative");
            f.mel_filters[m * bins + b] = static_cast<float>(w);
        }
}

} // namespace

std::optional<std::int64_t> whisper_tokens::language_id(std::string_view code) const {
    for (std::size_t i = 0; i < language_codes.size(); ++i)
        if (language_codes[i] == code) return language_ids[i];
    return std::nullopt;
}

std::string whisper_tokens::language_code(std::int64_t id) const {
    for (std::size_t i = 0; i < language_ids.size(); ++i)
        if (language_ids[i] == id) return language_codes[i];
    return {};
}

whisper_config parse_whisper_config(std::string_view config_json, std::string_view generation_json,
                                    std::string_view preprocessor_json, const token_lookup& lookup) {
    whisper_config cfg;
    with_json_root(config_json, "config.json", max_file_bytes, [&](const json_view& c) { cfg.arch = read_architecture(c); });
    cfg.tokens = read_tokens(lookup, cfg.arch.vocab_size);
    if (!generation_json.empty())
        with_json_root(generation_json, "generation_config.json", max_file_bytes, [&](const json_view& g) { read_generation(g, cfg, lookup); });
    else
        cfg.generation.is_multilingual = false;
    if (!preprocessor_json.empty())
        with_json_root(preprocessor_json, "preprocessor_config.json", max_file_bytes, [&](const json_view& p) { read_frontend(p, cfg); });
    else
        cfg.frontend.feature_size = static_cast<std::uint32_t>(cfg.arch.num_mel_bins);
    const auto& f = cfg.frontend;
    const std::int64_t frames = static_cast<std::int64_t>(f.chunk_length) * f.sampling_rate / f.hop_length;
    if (frames != 2 * cfg.arch.max_source_positions)
        throw folder_error("config.json: max_source_positions " + std::to_string(cfg.arch.max_source_positions) +
                           " does not match the front end's " + std::to_string(frames) +
                           " frames per window (preprocessor_config.json: chunk_length, hop_length), halved by the encoder");
    return cfg;
}

whisper_config read_whisper_config(const std::filesystem::path& dir, const token_lookup& lookup) {
    return parse_whisper_config(read_folder_file(dir / "config.json", max_file_bytes, true),
                                read_folder_file(dir / "generation_config.json", max_file_bytes, false),
                                read_folder_file(dir / "preprocessor_config.json", max_file_bytes, false), lookup);
}

} // namespace tether::agent::hf
