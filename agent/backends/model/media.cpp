#include "backends/model/media.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libavutil/avstring.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <unistd.h>

namespace tether::agent {
namespace {

using steady = std::chrono::steady_clock;

// The demuxers an upload may be read with: audio and video containers only.
// Not the playlists (hls, dash, concat), image sequences or raw formats that
// would open other files or URLs, or guess at arbitrary bytes.
constexpr const char* allowed_demuxers =
    "wav,w64,mp3,aac,flac,ogg,matroska,webm,mov,mp4,m4a,aiff,caf,amr,au,avi,mpegts,mpeg,flv,asf,wv,ape,ac3,eac3";

constexpr std::size_t io_buffer_bytes = 64 * 1024;

std::string av_error_text(int code) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(code, buf, sizeof buf);
    return buf;
}

void quiet_ffmpeg() {
    static std::once_flag once;
    std::call_once(once, [] { av_log_set_level(AV_LOG_FATAL); });
}

double seconds_of(std::int64_t ts, AVRational tb) {
    return static_cast<double>(ts) * av_q2d(tb);
}

// Reads `bytes` for libavformat: read and seek over memory.
struct memory_source {
    std::string_view bytes;
    std::int64_t pos = 0;

    static int read(void* opaque, std::uint8_t* buf, int size) {
        auto* s = static_cast<memory_source*>(opaque);
        const auto left = static_cast<std::int64_t>(s->bytes.size()) - s->pos;
        if (left <= 0) return AVERROR_EOF;
        const auto n = static_cast<int>(std::min<std::int64_t>(left, size));
        std::memcpy(buf, s->bytes.data() + s->pos, static_cast<std::size_t>(n));
        s->pos += n;
        return n;
    }
    static std::int64_t seek(void* opaque, std::int64_t offset, int whence) {
        auto* s = static_cast<memory_source*>(opaque);
        const auto size = static_cast<std::int64_t>(s->bytes.size());
        if (whence & AVSEEK_SIZE) return size;
        std::int64_t to = 0;
        switch (whence & ~AVSEEK_FORCE) {
        case SEEK_SET: to = offset; break;
        case SEEK_CUR: to = s->pos + offset; break;
        case SEEK_END: to = size + offset; break;
        default: return AVERROR(EINVAL);
        }
        if (to < 0 || to > size) return AVERROR(EINVAL);
        s->pos = to;
        return to;
    }
};

struct codec_context_free {
    void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct frame_free {
    void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct packet_free {
    void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct swr_free_fn {
    void operator()(SwrContext* s) const { swr_free(&s); }
};
struct sws_free_fn {
    void operator()(SwsContext* s) const { sws_freeContext(s); }
};
using codec_ptr = std::unique_ptr<AVCodecContext, codec_context_free>;
using frame_ptr = std::unique_ptr<AVFrame, frame_free>;
using packet_ptr = std::unique_ptr<AVPacket, packet_free>;
using swr_ptr = std::unique_ptr<SwrContext, swr_free_fn>;
using sws_ptr = std::unique_ptr<SwsContext, sws_free_fn>;

frame_ptr new_frame() { return frame_ptr(av_frame_alloc()); }
packet_ptr new_packet() { return packet_ptr(av_packet_alloc()); }

// An opened upload: the demuxer over memory, refusing nested opens, with an
// interrupt at the deadline.
class media_input {
  public:
    media_input(std::string_view bytes, steady::time_point deadline) : source_{bytes, 0}, deadline_(deadline) {}
    media_input(const media_input&) = delete;
    media_input& operator=(const media_input&) = delete;
    ~media_input() {
        if (ctx_) avformat_close_input(&ctx_);
        if (io_) {
            av_freep(&io_->buffer);
            avio_context_free(&io_);
        }
    }

    // "" when opened; else why not.
    std::string open() {
        quiet_ffmpeg();
        if (source_.bytes.empty()) return "the file is empty";
        auto* buffer = static_cast<std::uint8_t*>(av_malloc(io_buffer_bytes));
        if (!buffer) return "out of memory";
        io_ = avio_alloc_context(buffer, io_buffer_bytes, 0, &source_, &memory_source::read, nullptr,
                                 &memory_source::seek);
        if (!io_) {
            av_free(buffer);
            return "out of memory";
        }
        ctx_ = avformat_alloc_context();
        if (!ctx_) return "out of memory";
        ctx_->pb = io_;
        ctx_->flags |= AVFMT_FLAG_CUSTOM_IO;
        ctx_->interrupt_callback = {&media_input::interrupted, this};
        ctx_->io_open = &media_input::refuse_nested;
        AVDictionary* options = nullptr;
        av_dict_set(&options, "format_whitelist", allowed_demuxers, 0);
        av_dict_set(&options, "probesize", "5000000", 0);
        av_dict_set(&options, "analyzeduration", "5000000", 0);
        const int rc = avformat_open_input(&ctx_, nullptr, nullptr, &options);
        av_dict_free(&options);
        if (rc < 0) {
            ctx_ = nullptr; // freed by avformat_open_input
            if (timed_out()) return "reading it took longer than its time budget";
            if (auto known = probed_container(); !known.empty())
                return fmt::format("its {} header cannot be read (the file is damaged or cut short): {}", known, av_error_text(rc));
            return "not an audio or video file this agent can read (no known container in its bytes)";
        }
        const int info = avformat_find_stream_info(ctx_, nullptr);
        if (timed_out()) return "reading it took longer than its time budget";
        if (info < 0) return fmt::format("cannot read its streams: {}", av_error_text(info));
        return {};
    }

    AVFormatContext* ctx() const { return ctx_; }
    std::string container() const { return ctx_ && ctx_->iformat ? ctx_->iformat->name : ""; }
    bool timed_out() const { return steady::now() > deadline_; }

    // The header's duration of `st` (or of the file), in seconds; nullopt when unknown.
    std::optional<double> declared_seconds(const AVStream* st) const {
        if (st->duration != AV_NOPTS_VALUE && st->duration > 0) return seconds_of(st->duration, st->time_base);
        if (ctx_->duration != AV_NOPTS_VALUE && ctx_->duration > 0) return static_cast<double>(ctx_->duration) / AV_TIME_BASE;
        return std::nullopt;
    }
    // Whether the duration came from the stream itself rather than a guess from the bit rate.
    bool duration_is_exact() const { return ctx_->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE; }

  private:
    // The allowed container the first bytes look like, or "".
    std::string probed_container() const {
        const std::size_t n = std::min<std::size_t>(source_.bytes.size(), 1U << 20);
        std::vector<std::uint8_t> buf(n + AVPROBE_PADDING_SIZE, 0);
        std::memcpy(buf.data(), source_.bytes.data(), n);
        AVProbeData pd{};
        pd.buf = buf.data();
        pd.buf_size = static_cast<int>(n);
        pd.filename = "";
        int score = 0;
        const AVInputFormat* f = av_probe_input_format3(&pd, 1, &score);
        if (!f || score <= 0 || av_match_list(f->name, allowed_demuxers, ',') <= 0) return {};
        return f->name;
    }

    static int interrupted(void* opaque) { return static_cast<media_input*>(opaque)->timed_out() ? 1 : 0; }
    static int refuse_nested(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) { return AVERROR(EPERM); }

    memory_source source_;
    steady::time_point deadline_;
    AVIOContext* io_ = nullptr;
    AVFormatContext* ctx_ = nullptr;
};

// Opens the decoder of `st`; "" or the reason.
std::string open_decoder(const AVStream* st, codec_ptr& out, int threads) {
    const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec) return fmt::format("its {} codec cannot be decoded by this agent", avcodec_get_name(st->codecpar->codec_id));
    codec_ptr c(avcodec_alloc_context3(codec));
    if (!c) return "out of memory";
    if (avcodec_parameters_to_context(c.get(), st->codecpar) < 0) return "its codec parameters are invalid";
    c->thread_count = threads;
    c->pkt_timebase = st->time_base;
    if (const int rc = avcodec_open2(c.get(), codec, nullptr); rc < 0)
        return fmt::format("cannot start its {} decoder: {}", codec->name, av_error_text(rc));
    out = std::move(c);
    return {};
}

std::string seconds_text(double s) { return fmt::format("{:.1f} s", s); }

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
constexpr std::uint64_t max_decode_errors = 16;

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

// --- video

// The encoder MP4 output uses: H.264 by libx264, else MPEG-4 part 2.
const AVCodec* video_encoder() {
    if (const AVCodec* c = avcodec_find_encoder_by_name("libx264")) return c;
    if (const AVCodec* c = avcodec_find_encoder(AV_CODEC_ID_H264)) return c;
    return avcodec_find_encoder(AV_CODEC_ID_MPEG4);
}

struct output_free {
    void operator()(AVFormatContext* c) const {
        if (!c) return;
        if (c->pb) avio_closep(&c->pb);
        avformat_free_context(c);
    }
};
using output_ptr = std::unique_ptr<AVFormatContext, output_free>;

// A temporary file, removed when this goes.
struct temp_file {
    std::string path;
    temp_file() {
        auto pattern = (std::filesystem::temp_directory_path() / "tether-video-XXXXXX.mp4").string();
        const int fd = mkstemps(pattern.data(), 4);
        if (fd >= 0) {
            ::close(fd);
            path = pattern;
        }
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    ~temp_file() {
        if (!path.empty()) {
            std::error_code ec;
            std::filesystem::remove(path, ec);
        }
    }
};

class video_transcoder {
  public:
    video_transcoder(std::string_view bytes, const video_limits& limits, std::uint32_t batch, const video_frame_fn& process,
                     const std::function<void(const video_progress&)>& progress, const std::function<bool()>& cancelled)
        : input_(bytes, limits.media.deadline), limits_(limits), batch_(std::max<std::uint32_t>(1, batch)), process_(process),
          progress_(progress), cancelled_(cancelled) {}

    video_result run() {
        if (auto e = open_input(); !e.empty()) return fail(std::move(e));
        auto packet = new_packet();
        auto frame = new_frame();
        if (!packet || !frame) return fail("out of memory", false);
        bool eof = false;
        while (result_.error.empty() && !eof) {
            if (input_.timed_out()) return fail("decoding it took longer than its time budget");
            const int rc = av_read_frame(input_.ctx(), packet.get());
            if (rc == AVERROR_EOF) {
                eof = true;
                break;
            }
            if (rc < 0) {
                if (frames_in_ == 0) return fail(fmt::format("cannot read its video: {}", av_error_text(rc)));
                return fail(fmt::format("it is damaged after {} frames: {}", frames_in_, av_error_text(rc)));
            }
            if (packet->stream_index == video_index_) {
                const int sent = avcodec_send_packet(dec_.get(), packet.get());
                if (sent < 0 && sent != AVERROR(EAGAIN) && ++decode_errors_ > max_decode_errors)
                    return fail(fmt::format("its {} stream is damaged: {}", avcodec_get_name(dec_->codec_id), av_error_text(sent)));
                if (auto e = drain(frame.get()); !e.empty()) return fail(std::move(e));
            } else if (packet->stream_index == audio_index_) {
                if (auto e = audio_packet(packet.get()); !e.empty()) return fail(std::move(e), false);
            }
            av_packet_unref(packet.get());
            if (result_.cancelled) return result_;
        }
        avcodec_send_packet(dec_.get(), nullptr);
        if (auto e = drain(frame.get()); !e.empty()) return fail(std::move(e));
        if (result_.cancelled) return result_;
        if (auto e = flush_batch(); !e.empty()) return result_.error.empty() ? fail(std::move(e), false) : result_;
        if (result_.cancelled) return result_;
        if (frames_in_ == 0) return fail(fmt::format("it holds no video frames ({} in {})", avcodec_get_name(dec_->codec_id), input_.container()));
        if (auto e = finish(); !e.empty()) return fail(std::move(e), false);
        return result_;
    }

  private:
    video_result fail(std::string message, bool bad_input = true) {
        if (result_.error.empty()) {
            result_.error = std::move(message);
            result_.bad_input = bad_input;
        }
        result_.mp4.clear();
        return result_;
    }

    std::string open_input() {
        if (auto e = input_.open(); !e.empty()) return e;
        AVFormatContext* ctx = input_.ctx();
        video_index_ = av_find_best_stream(ctx, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
        if (video_index_ < 0) return fmt::format("it holds no video stream ({})", input_.container());
        in_video_ = ctx->streams[video_index_];
        const AVCodecParameters* par = in_video_->codecpar;
        if (par->width <= 0 || par->height <= 0) return "its video stream has no frame size";
        if (static_cast<std::uint32_t>(par->width) > limits_.max_width || static_cast<std::uint32_t>(par->height) > limits_.max_height)
            return fmt::format("its frames are {}x{}, over this model's limit of {}x{}", par->width, par->height,
                               limits_.max_width, limits_.max_height);
        const auto declared = input_.declared_seconds(in_video_);
        if (declared && *declared > limits_.media.max_seconds + 0.5)
            return fmt::format("its header says it is {} long, over this model's limit of {} s", seconds_text(*declared),
                               limits_.media.max_seconds);
        rate_ = av_guess_frame_rate(ctx, in_video_, nullptr);
        if (rate_.num <= 0 || rate_.den <= 0) rate_ = AVRational{25, 1};
        if (in_video_->nb_frames > 0) progress_state_.frames_total = static_cast<std::uint64_t>(in_video_->nb_frames);
        else if (declared) progress_state_.frames_total = static_cast<std::uint64_t>(std::llround(*declared * av_q2d(rate_)));
        if (progress_state_.frames_total > limits_.max_frames)
            return fmt::format("its header says it has {} frames, over this model's limit of {}", progress_state_.frames_total,
                               limits_.max_frames);
        const int audio = av_find_best_stream(ctx, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
        for (unsigned i = 0; i < ctx->nb_streams; ++i)
            if (static_cast<int>(i) != video_index_ && static_cast<int>(i) != audio) ctx->streams[i]->discard = AVDISCARD_ALL;
        if (audio >= 0) in_audio_ = ctx->streams[audio];
        result_.audio = in_audio_ ? "" : "none";
        if (in_audio_) audio_index_ = audio;
        return open_decoder(in_video_, dec_, 0);
    }

    std::string drain(AVFrame* frame) {
        while (true) {
            const int rc = avcodec_receive_frame(dec_.get(), frame);
            if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return {};
            if (rc < 0) {
                if (++decode_errors_ > max_decode_errors)
                    return fmt::format("its {} stream is damaged: {}", avcodec_get_name(dec_->codec_id), av_error_text(rc));
                return {};
            }
            auto e = take_frame(frame);
            av_frame_unref(frame);
            if (!e.empty() || result_.cancelled) return e;
        }
    }

    // One decoded frame: checked, converted to RGB, batched.
    std::string take_frame(const AVFrame* f) {
        if (f->width != in_video_->codecpar->width || f->height != in_video_->codecpar->height)
            return fmt::format("its frame size changes mid-stream ({}x{} to {}x{})", in_video_->codecpar->width,
                               in_video_->codecpar->height, f->width, f->height);
        if (++frames_in_ > limits_.max_frames)
            return fmt::format("it has more than this model's limit of {} frames", limits_.max_frames);
        std::int64_t pts = f->best_effort_timestamp;
        if (pts == AV_NOPTS_VALUE) pts = av_rescale_q(static_cast<std::int64_t>(frames_in_ - 1), av_inv_q(rate_), in_video_->time_base);
        if (first_pts_ == AV_NOPTS_VALUE) first_pts_ = pts;
        if (seconds_of(pts - first_pts_, in_video_->time_base) > limits_.media.max_seconds)
            return fmt::format("it is longer than this model's limit of {} s", limits_.media.max_seconds);
        const auto w = static_cast<std::uint32_t>(f->width), h = static_cast<std::uint32_t>(f->height);
        decoded_bytes_ += static_cast<std::uint64_t>(w) * h * 3;
        if (decoded_bytes_ > limits_.media.max_decoded_bytes)
            return fmt::format("it decodes to more than the limit of {} MiB of frames", limits_.media.max_decoded_bytes >> 20);
        to_rgb_.reset(sws_getCachedContext(to_rgb_.release(), f->width, f->height, static_cast<AVPixelFormat>(f->format),
                                           f->width, f->height, AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr));
        if (!to_rgb_) {
            const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(f->format));
            return fmt::format("its pixel format {} cannot be converted", name ? name : "(unknown)");
        }
        image_rgb img{w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w) * h * 3)};
        std::uint8_t* dst[1] = {img.pixels.data()};
        const int stride[1] = {static_cast<int>(w * 3)};
        sws_scale(to_rgb_.get(), f->data, f->linesize, 0, f->height, dst, stride);
        pending_.push_back(std::move(img));
        pending_pts_.push_back(pts);
        if (pending_.size() >= batch_) return flush_batch();
        return {};
    }

    // Runs the model over the pending frames and encodes what it returns.
    std::string flush_batch() {
        if (pending_.empty()) return {};
        if (cancelled_ && cancelled_()) {
            result_.cancelled = true;
            result_.error = "cancelled";
            return {};
        }
        const std::size_t n = pending_.size();
        if (auto e = process_(pending_)) {
            result_.error = std::move(*e);
            result_.bad_input = false;
            return result_.error;
        }
        if (pending_.size() != n) return fmt::format("the model returned {} frames for {}", pending_.size(), n);
        for (std::size_t i = 0; i < n; ++i) {
            const image_rgb& img = pending_[i];
            if (img.width == 0 || img.height == 0 || img.pixels.size() != static_cast<std::size_t>(img.width) * img.height * 3)
                return "the model returned an empty or malformed frame";
            if (!enc_) {
                if (auto e = open_output(img.width, img.height); !e.empty()) return e;
            } else if (img.width != out_w_ || img.height != out_h_) {
                return fmt::format("the model returned frames of {}x{} after {}x{}", img.width, img.height, out_w_, out_h_);
            }
            if (auto e = encode(img, pending_pts_[i]); !e.empty()) return e;
        }
        pending_.clear();
        pending_pts_.clear();
        progress_state_.frames_done = frames_in_;
        if (progress_) progress_(progress_state_);
        return {};
    }

    std::string open_output(std::uint32_t w, std::uint32_t h) {
        out_w_ = w;
        out_h_ = h;
        // yuv420p needs even sizes: the last row or column of an odd one goes.
        const int ew = static_cast<int>(w & ~1U), eh = static_cast<int>(h & ~1U);
        if (ew < 2 || eh < 2) return fmt::format("the model's frames of {}x{} are too small to encode", w, h);
        if (file_.path.empty()) return "cannot create a temporary file for the video";
        AVFormatContext* out = nullptr;
        if (avformat_alloc_output_context2(&out, nullptr, "mp4", file_.path.c_str()) < 0 || !out) return "cannot set up MP4 output";
        out_.reset(out);
        const AVCodec* codec = video_encoder();
        if (!codec) return "this agent's FFmpeg has no H.264 or MPEG-4 encoder";
        enc_.reset(avcodec_alloc_context3(codec));
        if (!enc_) return "out of memory";
        enc_->width = ew;
        enc_->height = eh;
        enc_->pix_fmt = AV_PIX_FMT_YUV420P;
        enc_->time_base = in_video_->time_base;
        enc_->framerate = rate_;
        enc_->sample_aspect_ratio = AVRational{1, 1};
        if (out_->oformat->flags & AVFMT_GLOBALHEADER) enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        AVDictionary* opts = nullptr;
        if (std::string_view(codec->name) == "libx264") {
            av_dict_set(&opts, "preset", "veryfast", 0);
            av_dict_set(&opts, "crf", "20", 0);
        } else {
            enc_->bit_rate = static_cast<std::int64_t>(ew) * eh * 4; // about 4 bits a pixel a second at 25 fps
        }
        const int rc = avcodec_open2(enc_.get(), codec, &opts);
        av_dict_free(&opts);
        if (rc < 0) return fmt::format("cannot start the {} encoder: {}", codec->name, av_error_text(rc));
        result_.video_codec = avcodec_get_name(enc_->codec_id);
        AVStream* vs = avformat_new_stream(out_.get(), nullptr);
        if (!vs || avcodec_parameters_from_context(vs->codecpar, enc_.get()) < 0) return "cannot set up the video stream";
        vs->time_base = enc_->time_base;
        vs->avg_frame_rate = rate_;
        out_video_ = vs;
        if (in_audio_) {
            const AVCodecID id = in_audio_->codecpar->codec_id;
            if (avformat_query_codec(out_->oformat, id, FF_COMPLIANCE_NORMAL) == 1) {
                AVStream* as = avformat_new_stream(out_.get(), nullptr);
                if (!as || avcodec_parameters_copy(as->codecpar, in_audio_->codecpar) < 0) return "cannot set up the audio stream";
                as->codecpar->codec_tag = 0;
                as->time_base = in_audio_->time_base;
                out_audio_ = as;
                result_.audio = fmt::format("copied ({})", avcodec_get_name(id));
            } else {
                result_.audio = fmt::format("left out: MP4 cannot hold its {} audio", avcodec_get_name(id));
                audio_index_ = -1;
                held_audio_.clear();
            }
        }
        if (const int orc = avio_open(&out_->pb, file_.path.c_str(), AVIO_FLAG_WRITE); orc < 0)
            return fmt::format("cannot write the video: {}", av_error_text(orc));
        AVDictionary* mux = nullptr;
        av_dict_set(&mux, "movflags", "+faststart", 0); // the index first: plays while it downloads
        const int hrc = avformat_write_header(out_.get(), &mux);
        av_dict_free(&mux);
        if (hrc < 0) return fmt::format("cannot write the MP4 header: {}", av_error_text(hrc));
        header_written_ = true;
        for (auto& p : held_audio_)
            if (auto e = write_audio(p.get()); !e.empty()) return e;
        held_audio_.clear();
        yuv_frame_ = new_frame();
        if (!yuv_frame_) return "out of memory";
        yuv_frame_->format = AV_PIX_FMT_YUV420P;
        yuv_frame_->width = ew;
        yuv_frame_->height = eh;
        if (av_frame_get_buffer(yuv_frame_.get(), 0) < 0) return "out of memory";
        to_yuv_.reset(sws_getContext(ew, eh, AV_PIX_FMT_RGB24, ew, eh, AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr, nullptr, nullptr));
        if (!to_yuv_) return "cannot set up colour conversion";
        return {};
    }

    std::string encode(const image_rgb& img, std::int64_t pts) {
        if (av_frame_make_writable(yuv_frame_.get()) < 0) return "out of memory";
        const std::uint8_t* src[1] = {img.pixels.data()};
        const int stride[1] = {static_cast<int>(img.width * 3)};
        sws_scale(to_yuv_.get(), src, stride, 0, yuv_frame_->height, yuv_frame_->data, yuv_frame_->linesize);
        // Strictly increasing, as encoders need (sources may repeat a timestamp).
        if (last_pts_ != AV_NOPTS_VALUE && pts <= last_pts_) pts = last_pts_ + 1;
        last_pts_ = pts;
        yuv_frame_->pts = pts - first_pts_;
        if (auto e = send_to_encoder(yuv_frame_.get()); !e.empty()) return e;
        ++result_.frames;
        return {};
    }

    std::string send_to_encoder(const AVFrame* f) {
        int rc = avcodec_send_frame(enc_.get(), f);
        if (rc < 0 && rc != AVERROR_EOF) return fmt::format("encoding failed: {}", av_error_text(rc));
        auto pkt = new_packet();
        if (!pkt) return "out of memory";
        while ((rc = avcodec_receive_packet(enc_.get(), pkt.get())) >= 0) {
            av_packet_rescale_ts(pkt.get(), enc_->time_base, out_video_->time_base);
            pkt->stream_index = out_video_->index;
            if (const int w = av_interleaved_write_frame(out_.get(), pkt.get()); w < 0)
                return fmt::format("writing the video failed: {}", av_error_text(w));
        }
        if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF) return fmt::format("encoding failed: {}", av_error_text(rc));
        return {};
    }

    std::string audio_packet(AVPacket* p) {
        if (audio_index_ < 0) return {};
        if (first_audio_dts_ == AV_NOPTS_VALUE && p->dts != AV_NOPTS_VALUE) first_audio_dts_ = p->dts;
        if (!header_written_) {
            // Held until the first frames come back from the model (the
            // output's size is known only then); bounded by the upload's size.
            packet_ptr copy(av_packet_clone(p));
            if (!copy) return "out of memory";
            held_audio_.push_back(std::move(copy));
            return {};
        }
        return write_audio(p);
    }

    std::string write_audio(AVPacket* p) {
        if (!out_audio_) return {};
        // Both tracks start at 0: the video from its first frame, the audio
        // from the same instant of the source.
        const std::int64_t video_start = first_pts_ == AV_NOPTS_VALUE ? 0 : av_rescale_q(first_pts_, in_video_->time_base, in_audio_->time_base);
        if (p->pts != AV_NOPTS_VALUE) p->pts -= video_start;
        if (p->dts != AV_NOPTS_VALUE) p->dts -= video_start;
        if (p->dts != AV_NOPTS_VALUE && p->dts < 0 && p->pts != AV_NOPTS_VALUE && p->pts < 0) return {}; // before the first frame
        av_packet_rescale_ts(p, in_audio_->time_base, out_audio_->time_base);
        p->stream_index = out_audio_->index;
        p->pos = -1;
        if (const int w = av_interleaved_write_frame(out_.get(), p); w < 0)
            return fmt::format("writing the audio failed: {}", av_error_text(w));
        return {};
    }

    std::string finish() {
        if (!enc_) return "nothing was encoded";
        if (auto e = send_to_encoder(nullptr); !e.empty()) return e;
        if (const int rc = av_write_trailer(out_.get()); rc < 0) return fmt::format("finishing the MP4 failed: {}", av_error_text(rc));
        result_.seconds = static_cast<double>(result_.frames) / av_q2d(rate_);
        if (last_pts_ != AV_NOPTS_VALUE && result_.frames > 1)
            result_.seconds = seconds_of(last_pts_ - first_pts_, in_video_->time_base) + 1.0 / av_q2d(rate_);
        result_.width = static_cast<std::uint32_t>(enc_->width);
        result_.height = static_cast<std::uint32_t>(enc_->height);
        out_.reset(); // closes the file
        std::ifstream in(file_.path, std::ios::binary);
        if (!in) return "cannot read the encoded video back";
        result_.mp4.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (result_.mp4.empty()) return "the encoded video is empty";
        return {};
    }

    media_input input_;
    video_limits limits_;
    std::uint32_t batch_;
    const video_frame_fn& process_;
    const std::function<void(const video_progress&)>& progress_;
    const std::function<bool()>& cancelled_;

    int video_index_ = -1, audio_index_ = -1;
    AVStream* in_video_ = nullptr;
    AVStream* in_audio_ = nullptr;
    AVRational rate_{25, 1};
    codec_ptr dec_;
    sws_ptr to_rgb_, to_yuv_;
    std::vector<image_rgb> pending_;
    std::vector<std::int64_t> pending_pts_;
    std::uint64_t frames_in_ = 0, decoded_bytes_ = 0, decode_errors_ = 0;
    std::int64_t first_pts_ = AV_NOPTS_VALUE, last_pts_ = AV_NOPTS_VALUE, first_audio_dts_ = AV_NOPTS_VALUE;
    video_progress progress_state_;

    temp_file file_;
    output_ptr out_;
    codec_ptr enc_;
    AVStream* out_video_ = nullptr;
    AVStream* out_audio_ = nullptr;
    frame_ptr yuv_frame_;
    std::uint32_t out_w_ = 0, out_h_ = 0;
    bool header_written_ = false;
    std::deque<packet_ptr> held_audio_;
    video_result result_;
};

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

std::uint32_t nearest_rate(std::uint32_t rate, const std::vector<std::uint32_t>& supported) {
    for (auto r : supported)
        if (r >= rate) return r;
    return supported.back();
}

} // namespace

bool looks_like_wav(std::string_view bytes) {
    return bytes.size() >= 12 && bytes.substr(0, 4) == "RIFF" && bytes.substr(8, 4) == "WAVE";
}

audio_decode_result decode_audio(std::string_view bytes, std::uint32_t rate, const media_limits& limits) {
    if (rate == 0) return refused("no target sample rate");
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
            clip.samples = resample_linear(clip.samples, clip.sample_rate, rate);
            clip.sample_rate = rate;
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

namespace tether::agent {

video_result transcode_video(std::string_view bytes, const video_limits& limits, std::uint32_t batch,
                             const video_frame_fn& process, const std::function<void(const video_progress&)>& progress,
                             const std::function<bool()>& cancelled) {
    quiet_ffmpeg();
    video_transcoder t(bytes, limits, batch, process, progress, cancelled);
    return t.run();
}

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
        frame->nb_samples = frame_size; // the last frame padded with silence
        frame->format = enc->sample_fmt;
        frame->sample_rate = enc->sample_rate;
        if (av_channel_layout_copy(&frame->ch_layout, &enc->ch_layout) < 0 || av_frame_get_buffer(frame.get(), 0) < 0)
            return fail("out of memory");
        auto* d = reinterpret_cast<float*>(frame->data[0]);
        std::copy_n(clean.data() + at, n, d);
        std::fill(d + n, d + frame_size, 0.0F);
        if (n < frame_size && !(codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE)) frame->nb_samples = frame_size;
        else frame->nb_samples = n;
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

} // namespace tether::agent
