#include "backends/model/media_ffmpeg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace tether::agent {
namespace {

using namespace media_detail;

// --- audio out

struct dyn_buffer_output {
    AVFormatContext* ctx = nullptr;
    ~dyn_buffer_output() {
        if (!ctx) return;
        if (ctx->pb) {
            std::uint8_t* buf = nullptr;
            avio_close_dyn_buf(ctx->pb, &buf);
            av_free(buf);
            ctx->pb = nullptr;
        }
        avformat_free_context(ctx);
    }
};

// A canonical WAV header (fmt chunk first) of 16-bit mono PCM.
bool is_mono_pcm16_wav(std::string_view b) {
    if (!looks_like_wav(b) || b.size() < 36 || b.substr(12, 4) != "fmt ") return false;
    auto u16 = [&](std::size_t at) {
        return static_cast<unsigned>(static_cast<unsigned char>(b[at])) | static_cast<unsigned>(static_cast<unsigned char>(b[at + 1])) << 8;
    };
    return u16(20) == 1 && u16(22) == 1 && u16(34) == 16;
}

std::uint32_t nearest_rate(std::uint32_t rate, const std::vector<std::uint32_t>& supported) {
    for (auto r : supported)
        if (r >= rate) return r;
    return supported.back();
}

} // namespace

std::optional<audio_format> parse_audio_format(std::string_view name) {
    if (name == "wav") return audio_format::wav;
    if (name == "mp3") return audio_format::mp3;
    if (name == "opus" || name == "ogg") return audio_format::opus;
    return std::nullopt;
}

encoded_audio encode_audio(const std::vector<float>& samples, std::uint32_t rate, audio_format format) {
    encoded_audio r;
    if (format == audio_format::wav) {
        r.bytes = encode_wav_pcm16(samples, rate);
        r.mime = "audio/wav";
        r.extension = "wav";
        r.sample_rate = rate;
        return r;
    }
    quiet_ffmpeg();
    const bool mp3 = format == audio_format::mp3;
    r.mime = mp3 ? "audio/mpeg" : "audio/ogg";
    r.extension = mp3 ? "mp3" : "opus";
    auto fail = [&r](std::string e) {
        r.bytes.clear();
        r.error = std::move(e);
        return r;
    };
    if (rate == 0) return fail("no sample rate");
    const AVCodec* codec = mp3 ? avcodec_find_encoder_by_name("libmp3lame") : avcodec_find_encoder_by_name("libopus");
    if (!codec) return fail(fmt::format("this agent's FFmpeg has no {} encoder", mp3 ? "MP3" : "Opus"));
    r.sample_rate = mp3 ? nearest_rate(rate, {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})
                        : nearest_rate(rate, {8000, 12000, 16000, 24000, 48000});
    codec_ptr enc(avcodec_alloc_context3(codec));
    if (!enc) return fail("out of memory");
    enc->sample_rate = static_cast<int>(r.sample_rate);
    enc->ch_layout = AV_CHANNEL_LAYOUT_MONO;
    enc->sample_fmt = mp3 ? AV_SAMPLE_FMT_FLTP : AV_SAMPLE_FMT_FLT;
    enc->bit_rate = mp3 ? 128000 : 64000;
    enc->time_base = AVRational{1, static_cast<int>(r.sample_rate)};
    dyn_buffer_output out;
    if (avformat_alloc_output_context2(&out.ctx, nullptr, mp3 ? "mp3" : "ogg", nullptr) < 0 || !out.ctx)
        return fail("cannot set up the audio container");
    if (out.ctx->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (const int rc = avcodec_open2(enc.get(), codec, nullptr); rc < 0)
        return fail(fmt::format("cannot start the {} encoder: {}", codec->name, av_error_text(rc)));
    AVStream* st = avformat_new_stream(out.ctx, nullptr);
    if (!st || avcodec_parameters_from_context(st->codecpar, enc.get()) < 0) return fail("cannot set up the audio stream");
    st->time_base = enc->time_base;
    if (avio_open_dyn_buf(&out.ctx->pb) < 0) return fail("out of memory");
    if (const int rc = avformat_write_header(out.ctx, nullptr); rc < 0)
        return fail(fmt::format("cannot write the header: {}", av_error_text(rc)));

    // The samples at the encoder's rate, cleaned as encode_wav_pcm16 does.
    std::vector<float> clean(samples.size());
    std::transform(samples.begin(), samples.end(), clean.begin(),
                   [](float v) { return std::isnan(v) ? 0.0F : std::clamp(v, -1.0F, 1.0F); });
    if (r.sample_rate != rate) {
        AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
        SwrContext* raw = nullptr;
        if (swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_FLT, static_cast<int>(r.sample_rate), &mono, AV_SAMPLE_FMT_FLT,
                                static_cast<int>(rate), 0, nullptr) < 0 || !raw || swr_init(raw) < 0) {
            swr_free(&raw);
            return fail("cannot set up resampling");
        }
        swr_ptr swr(raw);
        std::vector<float> resampled(static_cast<std::size_t>(swr_get_out_samples(raw, static_cast<int>(clean.size())) + 64));
        auto* dst = reinterpret_cast<std::uint8_t*>(resampled.data());
        const auto* src = reinterpret_cast<const std::uint8_t*>(clean.data());
        int got = swr_convert(raw, &dst, static_cast<int>(resampled.size()), &src, static_cast<int>(clean.size()));
        if (got < 0) return fail("resampling failed");
        std::size_t have = static_cast<std::size_t>(got);
        resampled.resize(have + 4096);
        dst = reinterpret_cast<std::uint8_t*>(resampled.data() + have);
        got = swr_convert(raw, &dst, 4096, nullptr, 0);
        if (got > 0) have += static_cast<std::size_t>(got);
        resampled.resize(have);
        clean = std::move(resampled);
    }

    const int frame_size = enc->frame_size > 0 ? enc->frame_size : 1152;
    auto frame = new_frame();
    auto pkt = new_packet();
    if (!frame || !pkt) return fail("out of memory");
    auto drain = [&]() -> std::string {
        int rc = 0;
        while ((rc = avcodec_receive_packet(enc.get(), pkt.get())) >= 0) {
            av_packet_rescale_ts(pkt.get(), enc->time_base, st->time_base);
            pkt->stream_index = st->index;
            if (const int w = av_interleaved_write_frame(out.ctx, pkt.get()); w < 0)
                return fmt::format("writing failed: {}", av_error_text(w));
        }
        if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF) return fmt::format("encoding failed: {}", av_error_text(rc));
        return {};
    };
    for (std::size_t at = 0; at < clean.size(); at += static_cast<std::size_t>(frame_size)) {
        const int n = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(frame_size), clean.size() - at));
        av_frame_unref(frame.get());
        // A short last frame where the encoder takes one (both do), else
        // padded with silence to a whole frame.
        const bool short_ok = (codec->capabilities & AV_CODEC_CAP_SMALL_LAST_FRAME) != 0;
        frame->nb_samples = frame_size;
        frame->format = enc->sample_fmt;
        frame->sample_rate = enc->sample_rate;
        if (av_channel_layout_copy(&frame->ch_layout, &enc->ch_layout) < 0 || av_frame_get_buffer(frame.get(), 0) < 0)
            return fail("out of memory");
        auto* d = reinterpret_cast<float*>(frame->data[0]);
        std::copy_n(clean.data() + at, n, d);
        std::fill(d + n, d + frame_size, 0.0F);
        if (short_ok) frame->nb_samples = n;
        frame->pts = static_cast<std::int64_t>(at);
        if (const int rc = avcodec_send_frame(enc.get(), frame.get()); rc < 0)
            return fail(fmt::format("encoding failed: {}", av_error_text(rc)));
        if (auto e = drain(); !e.empty()) return fail(std::move(e));
    }
    avcodec_send_frame(enc.get(), nullptr);
    if (auto e = drain(); !e.empty()) return fail(std::move(e));
    if (const int rc = av_write_trailer(out.ctx); rc < 0) return fail(fmt::format("finishing failed: {}", av_error_text(rc)));
    std::uint8_t* buf = nullptr;
    const int size = avio_close_dyn_buf(out.ctx->pb, &buf);
    out.ctx->pb = nullptr;
    if (size > 0 && buf) r.bytes.assign(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(size));
    av_free(buf);
    if (r.bytes.empty()) return fail("the encoded audio is empty");
    return r;
}

converted_audio convert_audio(std::string_view bytes, audio_format format, std::uint32_t rate, const media_limits& limits) {
    converted_audio r;
    auto decoded = decode_audio(bytes, rate, limits);
    if (!decoded.clip) {
        r.error = std::move(decoded.error);
        r.bad_input = true;
        return r;
    }
    r.from = decoded.codec + " in " + decoded.container;
    const audio_clip& clip = *decoded.clip;
    // Already what was asked for: the bytes as they are, not re-encoded
    // (a lossy format would lose more each time).
    const bool same_rate = rate == 0 || rate == clip.sample_rate;
    const bool already = !decoded.truncated && same_rate &&
                         ((format == audio_format::wav && is_mono_pcm16_wav(bytes)) ||
                          (format == audio_format::mp3 && decoded.codec == "mp3") ||
                          (format == audio_format::opus && decoded.codec == "opus" && decoded.container == "ogg"));
    if (already) {
        r.bytes.assign(bytes);
        r.mime = format == audio_format::wav ? "audio/wav" : format == audio_format::mp3 ? "audio/mpeg" : "audio/ogg";
        r.extension = format == audio_format::wav ? "wav" : format == audio_format::mp3 ? "mp3" : "opus";
        r.sample_rate = clip.sample_rate;
        return r;
    }
    auto enc = encode_audio(clip.samples, clip.sample_rate, format);
    if (enc.bytes.empty()) {
        r.error = std::move(enc.error);
        return r;
    }
    r.bytes = std::move(enc.bytes);
    r.converted = true;
    r.mime = std::move(enc.mime);
    r.extension = std::move(enc.extension);
    r.sample_rate = enc.sample_rate;
    return r;
}

} // namespace tether::agent
