#pragma once
// The FFmpeg pieces media.cpp (audio in), media_video.cpp (video in and out)
// and media_encode.cpp (audio out) share: an upload opened over memory with
// the demuxer whitelist, nested opens refused and the deadline as interrupt;
// the decoders; RAII for FFmpeg's objects. Internal to the media layer.

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

namespace tether::agent::media_detail {


using steady = std::chrono::steady_clock;

// The demuxers an upload may be read with: audio and video containers only.
// Not the playlists (hls, dash, concat), image sequences or raw formats that
// would open other files or URLs, or guess at arbitrary bytes.
constexpr const char* allowed_demuxers =
    "wav,w64,mp3,aac,flac,ogg,matroska,webm,mov,mp4,m4a,aiff,caf,amr,au,avi,mpegts,mpeg,flv,asf,wv,ape,ac3,eac3";

constexpr std::size_t io_buffer_bytes = 64 * 1024;

inline std::string av_error_text(int code) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(code, buf, sizeof buf);
    return buf;
}

inline void quiet_ffmpeg() {
    static std::once_flag once;
    std::call_once(once, [] { av_log_set_level(AV_LOG_FATAL); });
}

inline double seconds_of(std::int64_t ts, AVRational tb) {
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

inline frame_ptr new_frame() { return frame_ptr(av_frame_alloc()); }
inline packet_ptr new_packet() { return packet_ptr(av_packet_alloc()); }

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
inline std::string open_decoder(const AVStream* st, codec_ptr& out, int threads) {
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

inline std::string seconds_text(double s) { return fmt::format("{:.1f} s", s); }

// Decode errors a stream may have before it counts as damaged.
constexpr std::uint64_t max_decode_errors = 16;

} // namespace tether::agent::media_detail
