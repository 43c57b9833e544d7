// libFuzzer target for what the agent reads from hostile uploads: every input
// goes to decode_wav, FFmpeg's layer (decode_audio, and transcode_video with
// small limits and a pass-through frame callback), decode_image (small limits), parse_tensor_json and
// parse_model_spec, and then, as an uploaded file, prompt and params, through
// model_inputs' prepare_* for a few fixed sidecars; as each of a Whisper
// folder's three config files (the other two valid); and, read as token ids,
// through Whisper's timestamp split of a window. Nothing may crash or
// allocate past libFuzzer's malloc limit, and what decodes must keep its
// promises (sizes, ranges, limits) and survive encode -> decode (abort otherwise).
#include "backends/model/image_codec.hpp"
#include "backends/model/media.hpp"
#include "backends/model/model_inputs.hpp"
#include "backends/model/model_spec.hpp"
#include "backends/model/tensor_json.hpp"
#include "backends/model/wav.hpp"
#include "backends/model/whisper_decoding.hpp"
#include "backends/hf/folder_error.hpp"
#include "backends/hf/encoder_config.hpp"
#include "backends/hf/whisper_config.hpp"
#include "backends/model/encoder_request.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

using namespace tether::agent;

namespace {

constexpr std::uint64_t max_frames = 1U << 16;
constexpr std::uint64_t max_elements = 4096;
constexpr image_limits small_image{256, 256, 1U << 14};

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "media_fuzz: %s\n%.*s\n", what, static_cast<int>(std::min<std::size_t>(detail.size(), 2000)), detail.data());
    std::abort();
}

void check_wav(std::string_view bytes) {
    const auto r = decode_wav(bytes, max_frames);
    if (!r.clip) {
        if (r.error.empty()) fail("wav refused without a message");
        return;
    }
    const audio_clip& clip = *r.clip;
    if (clip.sample_rate == 0 || clip.sample_rate > max_wav_sample_rate) fail("wav sample rate out of range");
    if (clip.samples.empty() || clip.samples.size() > max_frames) fail("wav frame count out of range");
    for (const float s : clip.samples)
        if (!(s >= -1.0F && s <= 1.0F)) fail("wav sample outside [-1, 1] or NaN");
    // 16-bit PCM keeps every sample within one step.
    const auto again = decode_wav(encode_wav_pcm16(clip.samples, clip.sample_rate), max_frames);
    if (!again.clip) fail("encode_wav_pcm16 output does not decode", again.error);
    if (again.clip->sample_rate != clip.sample_rate || again.clip->samples.size() != clip.samples.size())
        fail("wav changed size or rate in encode -> decode");
    for (std::size_t i = 0; i < clip.samples.size(); ++i)
        if (std::fabs(again.clip->samples[i] - clip.samples[i]) > 1.5F / 32768.0F)
            fail("wav sample changed by more than one 16-bit step");
}

void check_image(std::string_view bytes) {
    const auto r = decode_image(bytes, small_image);
    if (!r.image) {
        if (r.error.empty()) fail("image refused without a message");
        return;
    }
    const image_rgb& img = *r.image;
    if (img.width == 0 || img.height == 0 || img.width > small_image.max_width ||
        img.height > small_image.max_height ||
        static_cast<std::uint64_t>(img.width) * img.height > small_image.max_pixels)
        fail("image outside its limits");
    if (img.pixels.size() != static_cast<std::size_t>(img.width) * img.height * 3) fail("image pixels do not match its size");
    // PNG is lossless: the pixels come back exactly.
    const auto again = decode_image(encode_png(img), small_image);
    if (!again.image) fail("encode_png output does not decode", again.error);
    if (again.image->width != img.width || again.image->height != img.height || again.image->pixels != img.pixels)
        fail("image changed in encode_png -> decode");
    const image_rgb half = resize_bilinear(img, (img.width + 1) / 2, (img.height + 1) / 2);
    if (half.pixels.size() != static_cast<std::size_t>(half.width) * half.height * 3) fail("resize gave a bad image");
}

void check_tensor(std::string_view text) {
    const auto r = parse_tensor_json(text, max_elements);
    if (!r.tensor) {
        if (r.error.empty()) fail("tensor refused without a message");
        return;
    }
    const tensor_value& t = *r.tensor;
    if (t.shape.size() > max_tensor_depth) fail("tensor deeper than the limit");
    std::uint64_t count = 1;
    for (const auto d : t.shape) {
        if (d <= 0) fail("tensor with a non-positive dimension");
        count *= static_cast<std::uint64_t>(d);
    }
    if (count != t.values.size() || count > max_elements) fail("tensor values do not fill its shape");
    for (const double v : t.values)
        if (!std::isfinite(v)) fail("tensor with a non-finite value");
    if (!check_shape(t.shape, t.shape).empty()) fail("a shape does not match itself");
    const std::string json = tensor_to_json(t);
    const auto again = parse_tensor_json(json, max_elements);
    if (!again.tensor) fail("tensor_to_json output does not parse", json);
    if (again.tensor->shape != t.shape || again.tensor->values != t.values) fail("tensor changed in json round trip", json);
}

void check_spec(std::string_view text) {
    const auto r = parse_model_spec(text, "fuzz");
    if (!r.spec) {
        if (r.error.empty()) fail("sidecar refused without a message");
        return;
    }
    if (r.spec->name.empty()) fail("sidecar accepted without a name");
}

// Sidecars of every task that reads uploads; fixed, so the input is the upload.
const std::vector<model_spec>& specs() {
    static const std::vector<model_spec> all = [] {
        const char* sources[] = {
            R"({"task":"classification","input":{"kind":"audio","sample_rate":48000,"samples":4000},"output":{"labels":["a"]}})",
            R"({"task":"audio","input":{"sample_rate":8000},"limits":{"max_seconds":2}})",
            R"({"task":"image","output":{"scale":2},"limits":{"max_width":64,"max_height":64}})",
            R"({"task":"classification","input":{"kind":"image","width":8,"height":8},"output":{"labels":["a"]},"limits":{"max_pixels":4096}})",
            R"({"task":"tensor","input":{"shape":[-1,4]},"output":{"shape":[1]},"limits":{"max_elements":64}})",
            R"({"task":"tensor","input":{"shape":[2],"dtype":"int64"},"output":{"shape":[1]}})",
            R"({"task":"text-generation","limits":{"max_prompt_bytes":4096,"max_tokens":50}})",
            R"({"task":"classification","input":{"kind":"text","length":16},"output":{"labels":["a"]}})",
        };
        std::vector<model_spec> v;
        for (const char* s : sources) {
            auto r = parse_model_spec(s, "fixed");
            if (!r.spec) fail("a fixed sidecar does not parse", r.error);
            v.push_back(*r.spec);
        }
        return v;
    }();
    return all;
}

void check_inputs(std::string_view bytes) {
    job j;
    j.prompt = std::string(bytes);
    j.params_json = std::string(bytes);
    input_file f;
    f.field = "file";
    f.name = "upload.bin";
    f.size = bytes.size();
    f.bytes = std::string(bytes);
    j.files.push_back(std::move(f));
    for (const model_spec& spec : specs()) {
        switch (spec.task) {
        case model_task::audio:
            if (auto a = prepare_audio(j, spec); a.ok() && a.value->samples.size() > spec.max_seconds * spec.sample_rate + 1)
                fail("prepared audio longer than the model's limit");
            break;
        case model_task::image:
            if (auto i = prepare_image(j, spec); i.ok() && (i.value->width > spec.max_width || i.value->height > spec.max_height))
                fail("prepared image over the model's limit");
            break;
        case model_task::tensor:
            (void)prepare_tensor(j, spec);
            break;
        case model_task::video: // check_media runs the video path
            break;
        case model_task::text_generation:
            if (auto g = prepare_generation(j, spec, 1); g.ok() && g.value->max_tokens > spec.max_tokens_limit)
                fail("generation max_tokens over the model's limit");
            break;
        case model_task::classification:
            if (spec.kind == input_kind::audio) {
                if (auto a = prepare_audio(j, spec); a.ok() && a.value->samples.size() != spec.samples)
                    fail("classifier audio not cut or padded to its length");
            } else if (spec.kind == input_kind::image) {
                if (auto i = prepare_image(j, spec); i.ok() && (i.value->width != spec.width || i.value->height != spec.height))
                    fail("classifier image not resized to its size");
            } else if (auto t = prepare_text_tokens(j, spec); t.ok() && t.value->size() != spec.length) {
                fail("classifier text not cut or padded to its length");
            }
            break;
        }
    }
}


// A Whisper folder's files, each replaced in turn by the input.
constexpr std::string_view whisper_config_json = R"({"model_type":"whisper","d_model":64,"encoder_layers":2,
"encoder_attention_heads":4,"encoder_ffn_dim":128,"decoder_layers":2,"decoder_attention_heads":4,"decoder_ffn_dim":128,
"num_mel_bins":80,"max_source_positions":1500,"max_target_positions":64,"vocab_size":51865})";
constexpr std::string_view whisper_generation_json = R"({"lang_to_id":{"<|en|>":50259,"<|de|>":50261},
"suppress_tokens":[1,2,50358],"begin_suppress_tokens":[220,50257],"max_initial_timestamp_index":50,"is_multilingual":true})";
constexpr std::string_view whisper_preprocessor_json = R"({"feature_size":80,"n_fft":400,"hop_length":160,"chunk_length":30,"sampling_rate":16000})";

std::optional<std::int64_t> whisper_token(std::string_view name) {
    static const std::pair<std::string_view, std::int64_t> ids[] = {
        {"<|endoftext|>", 50257}, {"<|startoftranscript|>", 50258}, {"<|en|>", 50259}, {"<|de|>", 50261},
        {"<|translate|>", 50358}, {"<|transcribe|>", 50359}, {"<|startoflm|>", 50360}, {"<|startofprev|>", 50361},
        {"<|nocaptions|>", 50362}, {"<|notimestamps|>", 50363}, {"<|0.00|>", 50364}};
    for (const auto& [n, id] : ids)
        if (n == name) return id;
    return std::nullopt;
}

void check_whisper(std::string_view bytes) {
    const std::string_view files[3] = {whisper_config_json, whisper_generation_json, whisper_preprocessor_json};
    for (int replaced = 0; replaced < 3; ++replaced) {
        std::string_view f[3] = {files[0], files[1], files[2]};
        f[replaced] = bytes;
        try {
            const auto c = hf::parse_whisper_config(f[0], f[1], f[2], whisper_token);
            if (c.arch.d_model % c.arch.decoder_heads != 0 || c.arch.max_source_positions * 2 != 3000)
                fail("a Whisper config passed with inconsistent sizes");
            if (!c.frontend.mel_filters.empty() && c.frontend.mel_filters.size() != c.frontend.feature_size * (c.frontend.n_fft / 2 + 1))
                fail("mel filters of the wrong size passed");
        } catch (const hf::folder_error& e) {
            if (std::string_view(e.what()).empty()) fail("a Whisper config refused without a message");
        }
    }
    // Token ids from the input through the timestamp split: segments stay
    // inside the window, in order, and the next window moves forward.
    hf::whisper_tokens t;
    t.eot = 50257;
    t.timestamp_begin = 50364;
    std::vector<std::int64_t> tokens;
    for (std::size_t i = 0; i + 1 < bytes.size() && tokens.size() < 448; i += 2) {
        const auto v = static_cast<std::uint16_t>(static_cast<unsigned char>(bytes[i]) | static_cast<unsigned char>(bytes[i + 1]) << 8);
        tokens.push_back(v % 2 ? 50364 + v % 1501 : v % 50257);
    }
    const std::int64_t frames = 1 + static_cast<std::int64_t>(bytes.size() % 3000);
    for (bool timestamps : {true, false}) {
        const auto split = whisper::split_window(tokens, t, frames, 160, 16000, timestamps);
        if (split.advance_frames < 1 || split.advance_frames > frames) fail("the next window does not move forward within this one");
        std::size_t covered = 0;
        for (const auto& s : split.segments) {
            if (!(s.start >= 0 && s.end >= 0 && std::isfinite(s.start) && std::isfinite(s.end))) fail("a segment time out of range");
            covered += s.tokens.size();
        }
        if (covered > tokens.size()) fail("segments hold more tokens than the window");
    }
}

// Encoder folders: each of config.json, modules.json, the pooling config,
// sentence_bert_config.json and preprocessor_config.json replaced by the input.
constexpr std::string_view encoder_files[5] = {
    R"({"model_type":"vit","architectures":["ViTForImageClassification"],"hidden_size":64,"num_hidden_layers":2,
        "num_attention_heads":4,"intermediate_size":128,"image_size":32,"patch_size":8,"id2label":{"0":"a","1":"b"}})",
    R"([{"type":"sentence_transformers.models.Transformer","path":""},{"type":"sentence_transformers.models.Pooling","path":"1_Pooling"}])",
    R"({"word_embedding_dimension":64,"pooling_mode_mean_tokens":true})",
    R"({"max_seq_length":40})",
    R"({"size":{"height":32,"width":32},"resample":3,"image_mean":[0.4,0.5,0.6],"image_std":0.2})",
};
constexpr std::string_view bert_config = R"({"model_type":"bert","vocab_size":100,"hidden_size":64,"num_hidden_layers":1,
    "num_attention_heads":4,"intermediate_size":128,"max_position_embeddings":64})";

void check_encoder(std::string_view bytes) {
    for (int replaced = 0; replaced < 5; ++replaced) {
        std::string_view f[5] = {encoder_files[0], encoder_files[1], encoder_files[2], encoder_files[3], encoder_files[4]};
        if (replaced == 1 || replaced == 2 || replaced == 3) f[0] = bert_config; // the sentence-transformers files go with text
        f[replaced] = bytes;
        try {
            const auto c = hf::parse_encoder_config(f[0], f[1], f[2], f[3], f[4]);
            if (c.hidden_size < 1 || c.num_heads < 1 || c.hidden_size % c.num_heads != 0) fail("an encoder config with bad sizes passed");
            if (c.task != hf::encoder_task::embeddings && c.labels.empty()) fail("a classifier without labels passed");
            if (c.family != hf::encoder_family::vit && c.max_tokens() < 1) fail("a text encoder without positions passed");
            if (c.family == hf::encoder_family::vit &&
                (c.image.width != static_cast<std::uint32_t>(c.image_size) || c.image_size % c.patch_size != 0))
                fail("a ViT config that cannot take its own images passed");
        } catch (const hf::folder_error& e) {
            if (std::string_view(e.what()).empty()) fail("an encoder config refused without a message");
        }
    }
    job j;
    j.prompt = std::string(bytes);
    j.params_json = std::string(bytes);
    const auto r = prepare_encoder_text(j, encoder_limits{});
    if (!r.ok() && r.error.message.empty()) fail("an encoder request refused without a message");
    if (r.ok())
        for (const auto& t : r.value->texts)
            if (t.empty()) fail("an empty text was taken");
    // Scores from the input's bytes: ranked, within [0, 1] for softmax and sigmoid.
    std::vector<float> logits;
    std::vector<std::string> labels;
    for (std::size_t i = 0; i + 4 <= bytes.size() && logits.size() < 64; i += 4) {
        float v = 0;
        std::memcpy(&v, bytes.data() + i, 4);
        logits.push_back(std::isfinite(v) ? std::clamp(v, -1e4F, 1e4F) : 0.0F);
        labels.push_back(std::to_string(i));
    }
    for (auto scores : {hf::label_scores::softmax, hf::label_scores::sigmoid}) {
        const auto ranked = rank_labels(logits, labels, scores, std::nullopt);
        for (std::size_t i = 0; i < ranked.size(); ++i) {
            if (!(ranked[i].confidence >= 0 && ranked[i].confidence <= 1)) fail("a confidence out of [0, 1]");
            if (i > 0 && ranked[i].confidence > ranked[i - 1].confidence) fail("labels out of order");
        }
    }
    // An uploaded image through ViT's preprocessing at every filter.
    image_limits limits;
    limits.max_pixels = 1 << 16;
    const auto img = decode_image(bytes, limits);
    if (img.image) {
        for (int filter : {0, 2, 3}) {
            hf::image_preprocess p;
            p.width = 7;
            p.height = 5;
            p.resample = filter;
            const auto px = preprocess_image(*img.image, p);
            if (px.size() != 3 * 7 * 5) fail("preprocess_image gave the wrong size");
            for (float v : px)
                if (!(v >= -1.0F - 1e-5F && v <= 1.0F + 1e-5F)) fail("a pixel out of range after normalising");
        }
    }
}

// FFmpeg's demuxers and decoders behind the media layer's limits: at most
// 2 s of audio, 64x64 frames, 8 frames, 8 MiB decoded, 2 s of time.
void check_media(std::string_view bytes) {
    media_limits limits;
    limits.max_seconds = 2;
    limits.max_decoded_bytes = 8U << 20;
    limits.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    const auto r = decode_audio(bytes, 16000, limits);
    if (!r.clip) {
        if (r.error.empty()) fail("audio refused without a message");
    } else {
        if (r.clip->sample_rate != 16000) fail("audio at the wrong rate");
        // 2 s, and what the resampler's flush and the last frame may add.
        if (r.clip->samples.empty() || r.clip->samples.size() > 2 * 16000 + 16384) fail("audio past its limit");
        for (const float v : r.clip->samples)
            if (!(v >= -1.0F && v <= 1.0F)) fail("an audio sample outside [-1, 1] or NaN");
    }
    video_limits vl;
    vl.media = limits;
    vl.max_width = vl.max_height = 64;
    vl.max_frames = 8;
    std::size_t frames = 0;
    const video_frame_fn count = [&frames](std::vector<image_rgb>& batch) -> std::optional<std::string> {
        for (const auto& img : batch) {
            if (img.width == 0 || img.width > 64 || img.height == 0 || img.height > 64) fail("a video frame past the limits");
            if (img.pixels.size() != std::size_t{img.width} * img.height * 3) fail("a video frame of the wrong size");
        }
        frames += batch.size();
        return std::nullopt;
    };
    const auto v = transcode_video(bytes, vl, 4, count, {}, {});
    if (v.mp4.empty() && v.error.empty()) fail("video refused without a message");
    if (frames > 8) fail("more video frames than the limit");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    check_wav(bytes);
    check_media(bytes);
    check_image(bytes);
    check_tensor(bytes);
    check_spec(bytes);
    check_inputs(bytes);
    check_whisper(bytes);
    check_encoder(bytes);
    return 0;
}
