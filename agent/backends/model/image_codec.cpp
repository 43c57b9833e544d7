#include "backends/model/image_codec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>

#include <png.h>
// jpeglib.h needs size_t and FILE declared before it (<cstdio> above).
#include <jpeglib.h>

#include <jerror.h>

// libpng and libjpeg report errors by longjmp. Each codec below keeps every
// C++ object it owns in a state struct that lives in the caller's frame, and
// the functions between setjmp and the library calls have only trivially
// destructible locals, so a longjmp never skips a destructor.

namespace tether::agent {
namespace {

constexpr unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
// A progressive JPEG may hold any number of scans, each a pass over the whole
// image; bound them so a small file cannot buy unbounded decode time.
constexpr int max_jpeg_scans = 500;
// libjpeg decodes through many "corrupt data" warnings; past this many the
// data is noise and the decode time is better spent elsewhere.
constexpr int max_jpeg_warnings = 1000;

std::uint32_t read_be16(const unsigned char* p) {
    return static_cast<std::uint32_t>(p[0] << 8 | p[1]);
}

std::uint32_t read_be32(const unsigned char* p) {
    return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
           static_cast<std::uint32_t>(p[2]) << 8 | static_cast<std::uint32_t>(p[3]);
}

// The reason an image of this size is refused, or "" if it fits.
std::string check_limits(std::uint64_t width, std::uint64_t height, const image_limits& limits) {
    if (width == 0 || height == 0) return fmt::format("image is {}x{}, which has no pixels", width, height);
    if (width > limits.max_width || height > limits.max_height)
        return fmt::format("image is {}x{}, over the limit of {}x{}", width, height, limits.max_width,
                           limits.max_height);
    if (width * height > limits.max_pixels)
        return fmt::format("image is {}x{} ({} pixels), over the limit of {} pixels", width, height, width * height,
                           limits.max_pixels);
    return {};
}

bool fits(std::uint64_t width, std::uint64_t height, const image_limits& limits) {
    return check_limits(width, height, limits).empty();
}

void copy_message(char (&to)[JMSG_LENGTH_MAX], const char* from) {
    std::snprintf(to, sizeof to, "%s", from != nullptr ? from : "unknown error");
}

// ---- PNG --------------------------------------------------------------------

struct png_state {
    std::string_view bytes;
    std::size_t pos = 0;
    image_limits limits;
    png_structp png = nullptr;
    png_infop info = nullptr;
    char message[JMSG_LENGTH_MAX] = {};
    bool over_limits = false; // the decoder's own size disagreed with the header scan
    image_rgb image;
    std::vector<png_bytep> rows;

    png_state() = default;
    png_state(const png_state&) = delete;
    png_state& operator=(const png_state&) = delete;
    ~png_state() {
        if (png != nullptr) png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
    }
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
    auto* s = static_cast<png_state*>(png_get_error_ptr(png));
    copy_message(s->message, message);
    png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {} // warnings are not the user's business

void on_png_read(png_structp png, png_bytep out, std::size_t count) {
    auto* s = static_cast<png_state*>(png_get_io_ptr(png));
    if (count > s->bytes.size() - s->pos) png_error(png, "the file is truncated");
    std::memcpy(out, s->bytes.data() + s->pos, count);
    s->pos += count;
}

void png_steps(png_state& s) {
    png_set_read_fn(s.png, &s, on_png_read);
    png_set_user_limits(s.png, s.limits.max_width, s.limits.max_height);
    png_set_chunk_cache_max(s.png, 256);
    png_set_chunk_malloc_max(s.png, 8u << 20);
    png_read_info(s.png, s.info);

    const png_uint_32 width = png_get_image_width(s.png, s.info);
    const png_uint_32 height = png_get_image_height(s.png, s.info);
    if (!fits(width, height, s.limits)) {
        s.over_limits = true;
        png_error(s.png, "the image is over the limits");
    }
    const int color = png_get_color_type(s.png, s.info);
    const int depth = png_get_bit_depth(s.png, s.info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(s.png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(s.png);
    if (depth == 16) png_set_scale_16(s.png);
    if ((color & PNG_COLOR_MASK_ALPHA) != 0 || png_get_valid(s.png, s.info, PNG_INFO_tRNS) != 0) {
        png_set_tRNS_to_alpha(s.png); // one alpha channel whatever its origin, then drop it
        png_set_strip_alpha(s.png);
    }
    if ((color & PNG_COLOR_MASK_COLOR) == 0) png_set_gray_to_rgb(s.png);
    png_set_interlace_handling(s.png);
    png_read_update_info(s.png, s.info);
    if (png_get_channels(s.png, s.info) != 3 || png_get_bit_depth(s.png, s.info) != 8 ||
        png_get_rowbytes(s.png, s.info) != std::size_t{width} * 3)
        png_error(s.png, "the image did not convert to 8-bit RGB");

    s.image.width = width;
    s.image.height = height;
    s.image.pixels.resize(std::size_t{width} * height * 3);
    s.rows.resize(height);
    for (std::size_t y = 0; y < height; ++y)
        s.rows[y] = s.image.pixels.data() + y * width * 3;
    png_read_image(s.png, s.rows.data());
    // The chunks after the pixels (text, time, IEND) are not read: a file cut
    // after its last row still holds the whole picture.
}

// True when the steps ran to the end; false with s.message set otherwise.
bool png_run(png_state& s) {
    if (setjmp(png_jmpbuf(s.png))) return false;
    png_steps(s);
    return true;
}

image_decode_result decode_png(std::string_view bytes, const image_limits& limits) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    // IHDR is always first, so the size is known before libpng sees a byte.
    if (bytes.size() < 24 || std::memcmp(p + 12, "IHDR", 4) != 0)
        return {std::nullopt, "PNG image is corrupt or truncated (no IHDR header)"};
    if (auto why = check_limits(read_be32(p + 16), read_be32(p + 20), limits); !why.empty())
        return {std::nullopt, std::move(why)};

    png_state s;
    s.bytes = bytes;
    s.limits = limits;
    s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, on_png_error, on_png_warning);
    if (s.png != nullptr) s.info = png_create_info_struct(s.png);
    if (s.png == nullptr || s.info == nullptr) return {std::nullopt, "out of memory decoding the PNG image"};
    if (!png_run(s)) {
        if (s.over_limits)
            return {std::nullopt,
                    check_limits(png_get_image_width(s.png, s.info), png_get_image_height(s.png, s.info), limits)};
        return {std::nullopt, fmt::format("PNG image is corrupt or truncated ({})", s.message)};
    }
    return {std::move(s.image), {}};
}

// ---- JPEG -------------------------------------------------------------------

struct jpeg_state {
    std::string_view bytes;
    image_limits limits;
    jpeg_decompress_struct cinfo{};
    jpeg_error_mgr errors{};
    jpeg_progress_mgr progress{};
    std::jmp_buf jump{};
    char message[JMSG_LENGTH_MAX] = {};
    bool over_limits = false; // the decoder's own size disagreed with the header scan
    int warnings = 0;
    image_rgb image;
    std::vector<JSAMPLE> cmyk_row;

    jpeg_state() = default;
    jpeg_state(const jpeg_state&) = delete;
    jpeg_state& operator=(const jpeg_state&) = delete;
    // Safe on a struct jpeg_create_decompress never reached: cinfo starts zeroed.
    ~jpeg_state() { jpeg_destroy_decompress(&cinfo); }
};

[[noreturn]] void jpeg_fail(j_common_ptr c, const char* message) {
    auto* s = static_cast<jpeg_state*>(c->client_data);
    copy_message(s->message, message);
    std::longjmp(s->jump, 1);
}

[[noreturn]] void on_jpeg_error(j_common_ptr c) {
    char text[JMSG_LENGTH_MAX];
    (*c->err->format_message)(c, text);
    jpeg_fail(c, text);
}

void on_jpeg_message(j_common_ptr c, int level) {
    if (level >= 0) return; // trace messages
    // The memory source reports running out of data as a warning and feeds
    // a fake end marker; for an upload that means it was cut short.
    if (c->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(c, "the file is truncated");
    auto* s = static_cast<jpeg_state*>(c->client_data);
    if (++s->warnings > max_jpeg_warnings) jpeg_fail(c, "too much corrupt data");
}

void on_jpeg_output(j_common_ptr) {} // never print to stderr

void on_jpeg_progress(j_common_ptr c) {
    if (c->is_decompressor && reinterpret_cast<j_decompress_ptr>(c)->input_scan_number > max_jpeg_scans)
        jpeg_fail(c, "too many progressive scans");
}

void jpeg_steps(jpeg_state& s) {
    jpeg_create_decompress(&s.cinfo);
    s.cinfo.client_data = &s; // jpeg_create_decompress clears it
    s.cinfo.progress = &s.progress;
    jpeg_mem_src(&s.cinfo, reinterpret_cast<const unsigned char*>(s.bytes.data()),
                 static_cast<unsigned long>(s.bytes.size()));
    jpeg_read_header(&s.cinfo, TRUE);
    if (!fits(s.cinfo.image_width, s.cinfo.image_height, s.limits)) {
        s.over_limits = true;
        jpeg_fail(reinterpret_cast<j_common_ptr>(&s.cinfo), "the image is over the limits");
    }

    const bool cmyk = s.cinfo.jpeg_color_space == JCS_CMYK || s.cinfo.jpeg_color_space == JCS_YCCK;
    s.cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&s.cinfo);
    const JDIMENSION width = s.cinfo.output_width;
    const JDIMENSION height = s.cinfo.output_height;
    if (s.cinfo.output_components != (cmyk ? 4 : 3) || !fits(width, height, s.limits))
        jpeg_fail(reinterpret_cast<j_common_ptr>(&s.cinfo), "the image did not convert to RGB");

    s.image.width = width;
    s.image.height = height;
    s.image.pixels.resize(std::size_t{width} * height * 3);
    if (cmyk) s.cmyk_row.resize(std::size_t{width} * 4);
    // Adobe writes CMYK inverted (0 = full ink), which is what nearly every
    // CMYK JPEG is; without its marker the values are taken as plain ink.
    const bool inverted = s.cinfo.saw_Adobe_marker != 0;
    while (s.cinfo.output_scanline < height) {
        std::uint8_t* out = s.image.pixels.data() + std::size_t{s.cinfo.output_scanline} * width * 3;
        JSAMPROW row = cmyk ? s.cmyk_row.data() : out;
        if (jpeg_read_scanlines(&s.cinfo, &row, 1) != 1)
            jpeg_fail(reinterpret_cast<j_common_ptr>(&s.cinfo), "the decoder stopped early");
        if (!cmyk) continue;
        for (std::size_t x = 0; x < width; ++x) {
            const JSAMPLE* ink = s.cmyk_row.data() + x * 4;
            const unsigned k = inverted ? ink[3] : 255u - ink[3];
            for (int c = 0; c < 3; ++c) {
                const unsigned v = inverted ? ink[c] : 255u - ink[c];
                out[x * 3 + c] = static_cast<std::uint8_t>((v * k + 127) / 255);
            }
        }
    }
    // jpeg_finish_decompress is skipped: the pixels are all here, and what
    // follows them (the end marker) cannot change them.
}

bool jpeg_run(jpeg_state& s) {
    if (setjmp(s.jump)) return false;
    jpeg_steps(s);
    return true;
}

// The frame size from the first SOFn marker, found without libjpeg so that
// the limits apply even when the rest of the file is cut off or bogus.
std::string jpeg_frame_size(const unsigned char* p, std::size_t size, std::uint32_t& width, std::uint32_t& height) {
    std::size_t pos = 2;
    for (;;) {
        while (pos < size && p[pos] != 0xFF) // libjpeg skips stray bytes too
            ++pos;
        while (pos < size && p[pos] == 0xFF) // fill bytes
            ++pos;
        if (pos >= size) break;
        const unsigned marker = p[pos++];
        // FF00 is a stuffed zero, not a marker (libjpeg skips it too); TEM,
        // SOI and RSTn stand alone, without a length.
        if (marker == 0x00 || marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7)) continue;
        if (marker == 0xD9 || marker == 0xDA) break; // end of image or start of scan before any frame
        if (size - pos < 2) break;
        const std::uint32_t length = read_be16(p + pos);
        if (length < 2) return "JPEG image is corrupt (bad marker length)";
        const bool frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (frame) {
            if (size - pos < 7) break;
            height = read_be16(p + pos + 3);
            width = read_be16(p + pos + 5);
            return {};
        }
        pos += length;
    }
    return "JPEG image is corrupt or truncated (no frame header)";
}

image_decode_result decode_jpeg(std::string_view bytes, const image_limits& limits) {
    std::uint32_t width = 0, height = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    if (auto why = jpeg_frame_size(p, bytes.size(), width, height); !why.empty()) return {std::nullopt, why};
    if (auto why = check_limits(width, height, limits); !why.empty()) return {std::nullopt, std::move(why)};

    jpeg_state s;
    s.bytes = bytes;
    s.limits = limits;
    s.cinfo.err = jpeg_std_error(&s.errors);
    s.errors.error_exit = on_jpeg_error;
    s.errors.emit_message = on_jpeg_message;
    s.errors.output_message = on_jpeg_output;
    s.progress.progress_monitor = on_jpeg_progress;
    s.cinfo.client_data = &s;
    if (!jpeg_run(s)) {
        if (s.over_limits) return {std::nullopt, check_limits(s.cinfo.image_width, s.cinfo.image_height, limits)};
        return {std::nullopt, fmt::format("JPEG image is corrupt or truncated ({})", s.message)};
    }
    return {std::move(s.image), {}};
}

// ---- PNG out ------------------------------------------------------------------

struct png_writer {
    std::string out;
    png_structp png = nullptr;
    png_infop info = nullptr;
    char message[JMSG_LENGTH_MAX] = {};
    std::vector<png_bytep> rows;

    png_writer() = default;
    png_writer(const png_writer&) = delete;
    png_writer& operator=(const png_writer&) = delete;
    ~png_writer() {
        if (png != nullptr) png_destroy_write_struct(&png, info != nullptr ? &info : nullptr);
    }
};

[[noreturn]] void on_png_write_error(png_structp png, png_const_charp message) {
    copy_message(static_cast<png_writer*>(png_get_error_ptr(png))->message, message);
    png_longjmp(png, 1);
}

void on_png_write(png_structp png, png_bytep data, std::size_t count) {
    auto* w = static_cast<png_writer*>(png_get_io_ptr(png));
    bool ok = true;
    try {
        w->out.append(reinterpret_cast<const char*>(data), count);
    } catch (const std::bad_alloc&) {
        ok = false; // report outside the handler: a longjmp must not leave a catch block
    }
    if (!ok) png_error(png, "out of memory");
}

void on_png_flush(png_structp) {}

bool png_write_run(png_writer& w, const image_rgb& img) {
    if (setjmp(png_jmpbuf(w.png))) return false;
    png_set_write_fn(w.png, &w, on_png_write, on_png_flush);
    png_set_IHDR(w.png, w.info, img.width, img.height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(w.png, w.info);
    png_write_image(w.png, w.rows.data());
    png_write_end(w.png, nullptr);
    return true;
}

} // namespace

image_decode_result decode_image(std::string_view bytes, const image_limits& limits) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    try {
        if (bytes.size() >= sizeof png_magic && std::memcmp(p, png_magic, sizeof png_magic) == 0)
            return decode_png(bytes, limits);
        if (bytes.size() >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return decode_jpeg(bytes, limits);
    } catch (const std::bad_alloc&) {
        return {std::nullopt, "out of memory decoding the image"};
    }
    return {std::nullopt, "not a PNG or JPEG image"};
}

std::string encode_png(const image_rgb& img) {
    if (img.width == 0 || img.height == 0 || img.width > PNG_UINT_31_MAX || img.height > PNG_UINT_31_MAX ||
        img.pixels.size() != std::uint64_t{img.width} * img.height * 3)
        throw std::invalid_argument("encode_png: the image's pixels do not match its size");
    png_writer w;
    w.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &w, on_png_write_error, on_png_warning);
    if (w.png != nullptr) w.info = png_create_info_struct(w.png);
    if (w.png == nullptr || w.info == nullptr) throw std::bad_alloc();
    w.rows.resize(img.height);
    for (std::size_t y = 0; y < img.height; ++y) // libpng only reads rows it is given to write
        w.rows[y] = const_cast<png_bytep>(img.pixels.data() + y * img.width * 3);
    if (!png_write_run(w, img)) throw std::bad_alloc(); // only running out of memory fails here
    return std::move(w.out);
}

image_rgb resize_bilinear(const image_rgb& img, std::uint32_t width, std::uint32_t height) {
    if (img.width == 0 || img.height == 0 || img.pixels.size() != std::uint64_t{img.width} * img.height * 3)
        throw std::invalid_argument("resize_bilinear: the image's pixels do not match its size");
    if (width == img.width && height == img.height) return img;
    image_rgb out;
    out.width = width;
    out.height = height;
    out.pixels.resize(std::size_t{width} * height * 3);
    if (out.pixels.empty()) return out;

    struct tap {
        std::size_t i0, i1;
        float t;
    };
    // Source position of output index i: (i + 0.5) * in / out - 0.5, clamped
    // below at 0 like torch; the upper neighbour stops at the edge.
    auto taps = [](std::uint32_t in, std::uint32_t n) {
        std::vector<tap> v(n);
        const double scale = static_cast<double>(in) / n;
        for (std::uint32_t i = 0; i < n; ++i) {
            const double src = std::max(0.0, (i + 0.5) * scale - 0.5);
            const auto i0 = std::min(static_cast<std::size_t>(src), std::size_t{in} - 1);
            v[i] = {i0, std::min(i0 + 1, std::size_t{in} - 1), static_cast<float>(src - static_cast<double>(i0))};
        }
        return v;
    };
    const std::vector<tap> xs = taps(img.width, width);
    const std::vector<tap> ys = taps(img.height, height);
    const std::size_t stride = std::size_t{img.width} * 3;
    for (std::size_t y = 0; y < height; ++y) {
        const std::uint8_t* r0 = img.pixels.data() + ys[y].i0 * stride;
        const std::uint8_t* r1 = img.pixels.data() + ys[y].i1 * stride;
        const float ty = ys[y].t;
        std::uint8_t* o = out.pixels.data() + y * std::size_t{width} * 3;
        for (std::size_t x = 0; x < width; ++x) {
            const tap& tx = xs[x];
            for (std::size_t c = 0; c < 3; ++c) {
                const float top = r0[tx.i0 * 3 + c] + (r0[tx.i1 * 3 + c] - r0[tx.i0 * 3 + c]) * tx.t;
                const float bottom = r1[tx.i0 * 3 + c] + (r1[tx.i1 * 3 + c] - r1[tx.i0 * 3 + c]) * tx.t;
                const float v = top + (bottom - top) * ty;
                o[x * 3 + c] = static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
            }
        }
    }
    return out;
}

namespace {

// PIL's filters (Resample.c): the triangle of bilinear, Keys' cubic with a = -0.5.
double pil_filter(int filter, double x) {
    x = std::fabs(x);
    if (filter == 2) return x < 1.0 ? 1.0 - x : 0.0;
    constexpr double a = -0.5;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

// One axis's taps: for each output index, the first input index and the
// fixed-point weights (22 fraction bits) PIL's 8-bit path uses.
struct axis_taps {
    std::vector<std::uint32_t> first;
    std::vector<std::vector<std::int32_t>> weights;
};

constexpr int precision_bits = 32 - 8 - 2;

axis_taps pil_taps(std::uint32_t in, std::uint32_t out, int filter) {
    const double support_1 = filter == 2 ? 1.0 : 2.0;
    const double scale = static_cast<double>(in) / out;
    const double filterscale = std::max(scale, 1.0);
    const double support = support_1 * filterscale;
    axis_taps t;
    t.first.resize(out);
    t.weights.resize(out);
    for (std::uint32_t i = 0; i < out; ++i) {
        const double center = (i + 0.5) * scale;
        const auto lo = static_cast<std::int64_t>(std::max(0.0, std::trunc(center - support + 0.5)));
        const auto hi = std::min<std::int64_t>(static_cast<std::int64_t>(std::trunc(center + support + 0.5)), in);
        std::vector<double> k;
        double sum = 0;
        for (std::int64_t x = lo; x < hi; ++x) {
            const double w = pil_filter(filter, (static_cast<double>(x) - center + 0.5) / filterscale);
            k.push_back(w);
            sum += w;
        }
        t.first[i] = static_cast<std::uint32_t>(lo);
        for (double w : k) {
            const double v = (sum != 0 ? w / sum : w) * (1 << precision_bits);
            t.weights[i].push_back(static_cast<std::int32_t>(v < 0 ? std::trunc(v - 0.5) : std::trunc(v + 0.5)));
        }
    }
    return t;
}

std::uint8_t clip8(std::int64_t v) {
    v >>= precision_bits;
    return static_cast<std::uint8_t>(std::clamp<std::int64_t>(v, 0, 255));
}

// Resamples along x (`horizontal`) or y, as PIL's 8-bit passes do.
image_rgb pil_pass(const image_rgb& img, std::uint32_t n, int filter, bool horizontal) {
    image_rgb out;
    out.width = horizontal ? n : img.width;
    out.height = horizontal ? img.height : n;
    out.pixels.resize(std::size_t{out.width} * out.height * 3);
    const axis_taps t = pil_taps(horizontal ? img.width : img.height, n, filter);
    const std::size_t stride = std::size_t{img.width} * 3;
    for (std::size_t y = 0; y < out.height; ++y)
        for (std::size_t x = 0; x < out.width; ++x) {
            const std::size_t i = horizontal ? x : y;
            const auto& w = t.weights[i];
            for (std::size_t c = 0; c < 3; ++c) {
                std::int64_t acc = std::int64_t{1} << (precision_bits - 1);
                for (std::size_t k = 0; k < w.size(); ++k) {
                    const std::size_t sx = horizontal ? t.first[i] + k : x;
                    const std::size_t sy = horizontal ? y : t.first[i] + k;
                    acc += std::int64_t{img.pixels[sy * stride + sx * 3 + c]} * w[k];
                }
                out.pixels[(y * out.width + x) * 3 + c] = clip8(acc);
            }
        }
    return out;
}

} // namespace

image_rgb resize_pil(const image_rgb& img, std::uint32_t width, std::uint32_t height, int filter) {
    if (img.width == 0 || img.height == 0 || img.pixels.size() != std::uint64_t{img.width} * img.height * 3)
        throw std::invalid_argument("resize_pil: the image's pixels do not match its size");
    if (width == 0 || height == 0) throw std::invalid_argument("resize_pil: an empty target size");
    if (filter != 0 && filter != 2 && filter != 3) throw std::invalid_argument("resize_pil: filter must be 0, 2 or 3");
    if (width == img.width && height == img.height) return img;
    if (filter == 0) {
        // PIL's nearest: the source pixel under each output pixel's centre.
        image_rgb out;
        out.width = width;
        out.height = height;
        out.pixels.resize(std::size_t{width} * height * 3);
        for (std::size_t y = 0; y < height; ++y) {
            const auto sy = std::min<std::size_t>(static_cast<std::size_t>((y + 0.5) * img.height / height), img.height - 1);
            for (std::size_t x = 0; x < width; ++x) {
                const auto sx = std::min<std::size_t>(static_cast<std::size_t>((x + 0.5) * img.width / width), img.width - 1);
                std::memcpy(&out.pixels[(y * width + x) * 3], &img.pixels[(sy * img.width + sx) * 3], 3);
            }
        }
        return out;
    }
    // Horizontal first, then vertical, each rounded to 8 bits, as PIL does.
    const image_rgb h = width == img.width ? img : pil_pass(img, width, filter, true);
    return height == img.height ? h : pil_pass(h, height, filter, false);
}

} // namespace tether::agent
