#include "backends/model/media_ffmpeg.hpp"

#include <fmt/format.h>

#include <cstring>

#include <algorithm>
#include <cmath>
#include <deque>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace tether::agent {
namespace {

using namespace media_detail;

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
        if (auto e = flush_batch(); !e.empty()) return result_;
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
        // libswscale writes whole SIMD blocks, past the end of a row and of
        // the last one: it converts into rows padded to 64 bytes with room
        // after them, which are then copied out tight.
        const std::size_t row = static_cast<std::size_t>(w) * 3, padded = (row + 63) / 64 * 64;
        rgb_scratch_.resize(padded * h + 256);
        std::uint8_t* dst[1] = {rgb_scratch_.data()};
        const int stride[1] = {static_cast<int>(padded)};
        sws_scale(to_rgb_.get(), f->data, f->linesize, 0, f->height, dst, stride);
        image_rgb img{w, h, std::vector<std::uint8_t>(row * h)};
        for (std::uint32_t y = 0; y < h; ++y)
            std::memcpy(img.pixels.data() + y * row, rgb_scratch_.data() + y * padded, row);
        pending_.push_back(std::move(img));
        pending_pts_.push_back(pts);
        if (pending_.size() >= batch_) return flush_batch();
        return {};
    }

    // Runs the model over the pending frames and encodes what it returns.
    // What fails from here on is the model's or the encoder's, never the
    // input's: recorded as such before the callers see it.
    std::string flush_batch() {
        if (pending_.empty()) return {};
        if (cancelled_ && cancelled_()) {
            result_.cancelled = true;
            result_.error = "cancelled";
            return {};
        }
        auto e = run_batch();
        if (!e.empty()) fail(e, false);
        return e;
    }

    std::string run_batch() {
        const std::size_t n = pending_.size();
        if (auto e = process_(pending_)) return std::move(*e);
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
        // The same padding for libswscale's reads of the model's frame.
        const std::size_t row = static_cast<std::size_t>(img.width) * 3, padded = (row + 63) / 64 * 64;
        rgb_scratch_.resize(padded * img.height + 256);
        for (std::uint32_t y = 0; y < img.height; ++y)
            std::memcpy(rgb_scratch_.data() + y * padded, img.pixels.data() + y * row, row);
        const std::uint8_t* src[1] = {rgb_scratch_.data()};
        const int stride[1] = {static_cast<int>(padded)};
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
    std::vector<std::uint8_t> rgb_scratch_; // padded rows for libswscale
    std::vector<std::int64_t> pending_pts_;
    std::uint64_t frames_in_ = 0, decoded_bytes_ = 0, decode_errors_ = 0;
    std::int64_t first_pts_ = AV_NOPTS_VALUE, last_pts_ = AV_NOPTS_VALUE;
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

} // namespace

video_result transcode_video(std::string_view bytes, const video_limits& limits, std::uint32_t batch,
                             const video_frame_fn& process, const std::function<void(const video_progress&)>& progress,
                             const std::function<bool()>& cancelled) {
    quiet_ffmpeg();
    video_transcoder t(bytes, limits, batch, process, progress, cancelled);
    return t.run();
}

} // namespace tether::agent
