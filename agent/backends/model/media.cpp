#include "backends/model/media_ffmpeg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace tether::agent {
namespace {

using namespace media_detail;

// Mixes a decoded frame to mono floats at `rate`, appending to `out`.
class mono_resampler {
  public:
    // "" or why not.
    std::string convert(const AVFrame* f, std::uint32_t rate, std::vector<float>& out) {
        if (!swr_) {
            if (auto e = init(f, rate); !e.empty()) return e;
        } else if (f->sample_rate != in_rate_ || f->format != in_format_ || f->ch_layout.nb_channels != in_channels_) {
            return "its sample format, rate or channel count changes mid-stream";
        }
        return run(const_cast<const std::uint8_t**>(f->extended_data), f->nb_samples, out);
    }
    void flush(std::vector<float>& out) {
        if (swr_) (void)run(nullptr, 0, out);
    }

  private:
    std::string init(const AVFrame* f, std::uint32_t rate) {
        in_rate_ = f->sample_rate;
        in_format_ = f->format;
        in_channels_ = f->ch_layout.nb_channels;
        AVChannelLayout in{};
        if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || av_channel_layout_check(&f->ch_layout) == 0)
            av_channel_layout_default(&in, in_channels_);
        else if (av_channel_layout_copy(&in, &f->ch_layout) < 0)
            return "out of memory";
        AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
        SwrContext* s = nullptr;
        const int rc = swr_alloc_set_opts2(&s, &mono, AV_SAMPLE_FMT_FLT, static_cast<int>(rate), &in,
                                           static_cast<AVSampleFormat>(in_format_), in_rate_, 0, nullptr);
        av_channel_layout_uninit(&in);
        if (rc < 0 || !s) return "cannot set up resampling of its audio";
        swr_.reset(s);
        // Every channel weighs the same (decode_wav's average), not FFmpeg's
        // default downmix, which drops the LFE and favours the centre.
        std::vector<double> matrix(static_cast<std::size_t>(in_channels_), 1.0 / in_channels_);
        if (swr_set_matrix(s, matrix.data(), in_channels_) < 0) return "cannot set up mixing of its channels";
        if (swr_init(s) < 0) return "cannot set up resampling of its audio";
        return {};
    }
    std::string run(const std::uint8_t** in, int samples, std::vector<float>& out) {
        const int room = swr_get_out_samples(swr_.get(), samples);
        if (room < 0) return "resampling failed";
        const std::size_t at = out.size();
        out.resize(at + static_cast<std::size_t>(room));
        auto* dst = reinterpret_cast<std::uint8_t*>(out.data() + at);
        const int got = swr_convert(swr_.get(), &dst, room, in, samples);
        if (got < 0) {
            out.resize(at);
            return "resampling failed";
        }
        out.resize(at + static_cast<std::size_t>(got));
        return {};
    }

    swr_ptr swr_;
    int in_rate_ = 0, in_format_ = -1, in_channels_ = 0;
};

audio_decode_result refused(std::string message, const media_input* in = nullptr) {
    audio_decode_result r;
    r.error = std::move(message);
    if (in) r.container = in->container();
    return r;
}

// What the demuxer and decoder may cost while decoding audio.
constexpr int max_frame_samples = 1 << 20;

audio_decode_result decode_with_ffmpeg(std::string_view bytes, std::uint32_t rate, const media_limits& limits) {
    media_input input(bytes, limits.deadline);
    if (auto e = input.open(); !e.empty()) return refused(std::move(e), &input);
    AVFormatContext* ctx = input.ctx();
    const int index = av_find_best_stream(ctx, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (index < 0) return refused(fmt::format("it holds no audio stream ({})", input.container()), &input);
    AVStream* st = ctx->streams[index];
    const AVCodecParameters* par = st->codecpar;
    if (par->sample_rate <= 0) return refused("its audio stream has no sample rate", &input);
    if (static_cast<std::uint32_t>(par->sample_rate) > limits.max_sample_rate)
        return refused(fmt::format("its sample rate of {} Hz is over the limit of {} Hz", par->sample_rate, limits.max_sample_rate), &input);
    if (par->ch_layout.nb_channels <= 0) return refused("its audio stream has no channels", &input);
    if (static_cast<std::uint32_t>(par->ch_layout.nb_channels) > limits.max_channels)
        return refused(fmt::format("it has {} channels, over the limit of {}", par->ch_layout.nb_channels, limits.max_channels), &input);
    const auto declared = input.declared_seconds(st);
    if (declared && *declared > limits.max_seconds + 0.5 && !limits.truncate)
        return refused(fmt::format("its header says it is {} long, over this model's limit of {} s", seconds_text(*declared),
                                   limits.max_seconds), &input);
    for (unsigned i = 0; i < ctx->nb_streams; ++i)
        if (static_cast<int>(i) != index) ctx->streams[i]->discard = AVDISCARD_ALL;

    codec_ptr dec;
    if (auto e = open_decoder(st, dec, 1); !e.empty()) return refused(std::move(e), &input);

    audio_decode_result r;
    r.container = input.container();
    r.codec = avcodec_get_name(par->codec_id);
    if (rate == 0) rate = static_cast<std::uint32_t>(par->sample_rate);
    audio_clip clip;
    clip.sample_rate = rate;
    mono_resampler mixer;
    std::uint64_t decoded_bytes = 0, decode_errors = 0, decoded_samples = 0;
    int first_rate = 0;
    bool stop = false;
    std::string failure;
    auto frame = new_frame();
    auto packet = new_packet();
    if (!frame || !packet) return refused("out of memory");

    auto drain = [&]() {
        while (!stop) {
            const int rc = avcodec_receive_frame(dec.get(), frame.get());
            if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
            if (rc < 0) {
                if (++decode_errors > max_decode_errors) {
                    failure = fmt::format("its {} stream is damaged: {}", r.codec, av_error_text(rc));
                    stop = true;
                }
                return;
            }
            if (frame->nb_samples <= 0 || frame->nb_samples > max_frame_samples) {
                failure = fmt::format("a frame of {} samples is outside what this agent decodes", frame->nb_samples);
                stop = true;
                return;
            }
            if (frame->sample_rate <= 0 || static_cast<std::uint32_t>(frame->sample_rate) > limits.max_sample_rate ||
                frame->ch_layout.nb_channels <= 0 ||
                static_cast<std::uint32_t>(frame->ch_layout.nb_channels) > limits.max_channels) {
                failure = "a frame's sample rate or channel count is over the limits";
                stop = true;
                return;
            }
            if (first_rate == 0) first_rate = frame->sample_rate;
            decoded_bytes += static_cast<std::uint64_t>(frame->nb_samples) * frame->ch_layout.nb_channels *
                             static_cast<std::uint64_t>(std::max(1, av_get_bytes_per_sample(static_cast<AVSampleFormat>(frame->format))));
            if (decoded_bytes > limits.max_decoded_bytes) {
                failure = fmt::format("it decodes to more than the limit of {} MiB of samples", limits.max_decoded_bytes >> 20);
                stop = true;
                return;
            }
            decoded_samples += static_cast<std::uint64_t>(frame->nb_samples);
            if (auto e = mixer.convert(frame.get(), rate, clip.samples); !e.empty()) {
                failure = std::move(e);
                stop = true;
                return;
            }
            const double seconds = static_cast<double>(decoded_samples) / frame->sample_rate;
            if (seconds > limits.max_seconds) {
                if (limits.truncate) {
                    r.truncated = true;
                } else {
                    failure = fmt::format("it decodes to more than this model's limit of {} s", limits.max_seconds);
                }
                stop = true;
                return;
            }
            av_frame_unref(frame.get());
        }
    };

    while (!stop) {
        if (input.timed_out()) {
            failure = "decoding it took longer than its time budget";
            break;
        }
        const int rc = av_read_frame(ctx, packet.get());
        if (rc == AVERROR_EOF) break;
        if (rc < 0) {
            if (input.timed_out()) failure = "decoding it took longer than its time budget";
            else if (decoded_samples == 0) failure = fmt::format("cannot read its audio: {}", av_error_text(rc));
            else failure = fmt::format("it is damaged after {}: {}", seconds_text(static_cast<double>(decoded_samples) / first_rate), av_error_text(rc));
            break;
        }
        if (packet->stream_index == index) {
            const int sent = avcodec_send_packet(dec.get(), packet.get());
            if (sent < 0 && sent != AVERROR(EAGAIN) && ++decode_errors > max_decode_errors)
                failure = fmt::format("its {} stream is damaged: {}", r.codec, av_error_text(sent)), stop = true;
            drain();
        }
        av_packet_unref(packet.get());
    }
    if (failure.empty() && !stop) {
        avcodec_send_packet(dec.get(), nullptr);
        drain();
    }
    if (!failure.empty()) return refused(std::move(failure), &input);
    mixer.flush(clip.samples);
    // As decode_wav: finite samples in [-1, 1] (float codecs may overshoot or carry NaN).
    for (float& v : clip.samples) v = std::isnan(v) ? 0.0F : std::clamp(v, -1.0F, 1.0F);
    if (r.truncated) {
        const auto keep = static_cast<std::size_t>(limits.max_seconds * rate);
        if (clip.samples.size() > keep) clip.samples.resize(keep);
    }
    r.seconds = first_rate ? static_cast<double>(decoded_samples) / first_rate : 0;
    if (clip.samples.empty()) return refused(fmt::format("it holds no audio samples ({} in {})", r.codec, r.container), &input);
    if (!r.truncated && declared && input.duration_is_exact() && r.seconds < *declared * 0.97 - 0.25)
        return refused(fmt::format("it is cut short: its header says {} of audio, but only {} decode",
                                   seconds_text(*declared), seconds_text(r.seconds)), &input);
    r.clip = std::move(clip);
    return r;
}

} // namespace

bool looks_like_wav(std::string_view bytes) {
    return bytes.size() >= 12 && bytes.substr(0, 4) == "RIFF" && bytes.substr(8, 4) == "WAVE";
}

audio_decode_result decode_audio(std::string_view bytes, std::uint32_t rate, const media_limits& limits) {
    if (looks_like_wav(bytes)) {
        // The WAV decoder reads what it knows faster than probing; what it
        // does not (compressed WAV) goes on to FFmpeg.
        const double seconds = limits.max_seconds + 0.5;
        const auto frames = static_cast<std::uint64_t>(seconds * limits.max_sample_rate) + 1;
        auto wav = decode_wav(bytes, limits.truncate ? std::uint64_t{1} << 40 : frames);
        if (wav.clip) {
            audio_decode_result r;
            r.container = "wav";
            r.codec = "pcm";
            audio_clip clip = std::move(*wav.clip);
            r.seconds = static_cast<double>(clip.samples.size()) / clip.sample_rate;
            if (clip.samples.empty()) return refused("it holds no audio samples");
            if (r.seconds > limits.max_seconds) {
                if (!limits.truncate)
                    return refused(fmt::format("it is {:.2f} s long, over this model's limit of {} s", r.seconds, limits.max_seconds));
                // What max_seconds covers and the two samples beside its end
                // that interpolation reads, so the kept output is what
                // resampling the whole clip gives.
                r.truncated = true;
                const auto keep = static_cast<std::size_t>(std::ceil(limits.max_seconds * clip.sample_rate)) + 2;
                if (clip.samples.size() > keep) clip.samples.resize(keep);
            }
            if (clip.sample_rate > limits.max_sample_rate)
                return refused(fmt::format("its sample rate of {} Hz is over the limit of {} Hz", clip.sample_rate, limits.max_sample_rate));
            if (rate != 0 && rate != clip.sample_rate) {
                clip.samples = resample_linear(clip.samples, clip.sample_rate, rate);
                clip.sample_rate = rate;
            }
            r.clip = std::move(clip);
            return r;
        }
        // Compressed or unusual WAV (ADPCM, mu-law, odd sample sizes) is
        // FFmpeg's; a broken one is refused with decode_wav's reason.
        if (wav.error.find("not supported") == std::string::npos) return refused(std::move(wav.error));
    }
    return decode_with_ffmpeg(bytes, rate, limits);
}

} // namespace tether::agent
