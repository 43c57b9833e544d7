// PNG/JPEG decoding of hostile uploads (every PNG colour type, JPEG from
// libjpeg's own compressor, limits checked from the header, truncated and
// corrupted files), PNG encoding, and the bilinear resize.

#include "backends/model/image_codec.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include <jpeglib.h>
#include <png.h>

using namespace tether::agent;

namespace {

// A string literal with its embedded NULs (std::string(const char*) stops at the first).
template <std::size_t N> std::string raw(const char (&s)[N]) {
    return std::string(s, N - 1);
}

// ---- writing test images --------------------------------------------------------

struct png_spec {
    std::uint32_t width = 0, height = 0;
    int color_type = PNG_COLOR_TYPE_RGB;
    int bit_depth = 8;
    bool interlaced = false;
    std::vector<png_color> palette;
    std::vector<png_byte> palette_alpha; // tRNS for palette images
    std::string rows;                    // packed PNG rows, top to bottom
};

void append_png(png_structp png, png_bytep data, std::size_t n) {
    static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}
void flush_png(png_structp) {}

// Any PNG libpng can write. No setjmp: these specs are valid, and a libpng
// error would abort the test run loudly rather than pass.
std::string write_png(const png_spec& spec) {
    std::string out;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    png_set_write_fn(png, &out, append_png, flush_png);
    png_set_IHDR(png, info, spec.width, spec.height, spec.bit_depth, spec.color_type,
                 spec.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (!spec.palette.empty()) png_set_PLTE(png, info, spec.palette.data(), static_cast<int>(spec.palette.size()));
    if (!spec.palette_alpha.empty())
        png_set_tRNS(png, info, spec.palette_alpha.data(), static_cast<int>(spec.palette_alpha.size()), nullptr);
    png_write_info(png, info);
    const std::size_t row_bytes = png_get_rowbytes(png, info);
    REQUIRE(spec.rows.size() == row_bytes * spec.height);
    std::vector<png_bytep> rows(spec.height);
    for (std::size_t y = 0; y < spec.height; ++y)
        rows[y] = reinterpret_cast<png_bytep>(const_cast<char*>(spec.rows.data())) + y * row_bytes;
    png_write_image(png, rows.data());
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    return out;
}

// A JPEG from libjpeg's compressor (its default error handler exits, which
// fails the run: the inputs here are valid).
std::string write_jpeg(std::uint32_t width, std::uint32_t height, int components, J_COLOR_SPACE space,
                       const std::vector<std::uint8_t>& pixels, bool progressive = false) {
    jpeg_compress_struct c{};
    jpeg_error_mgr errors{};
    c.err = jpeg_std_error(&errors);
    jpeg_create_compress(&c);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&c, &buffer, &size);
    c.image_width = width;
    c.image_height = height;
    c.input_components = components;
    c.in_color_space = space;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < height) {
        JSAMPROW row = const_cast<JSAMPROW>(pixels.data() + std::size_t{c.next_scanline} * width * components);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    std::string out(reinterpret_cast<const char*>(buffer), size);
    jpeg_destroy_compress(&c);
    std::free(buffer);
    return out;
}

std::uint32_t crc32(std::string_view bytes) {
    std::uint32_t c = 0xFFFFFFFFu;
    for (unsigned char b : bytes) {
        c ^= b;
        for (int k = 0; k < 8; ++k)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

void put_be32(std::string& s, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        s.push_back(static_cast<char>((v >> shift) & 0xFF));
}

// A PNG chunk with a correct CRC, for hand-made headers.
std::string png_chunk(std::string_view type, std::string_view body) {
    std::string s;
    put_be32(s, static_cast<std::uint32_t>(body.size()));
    std::string typed = std::string(type) + std::string(body);
    s += typed;
    put_be32(s, crc32(typed));
    return s;
}

std::string png_claiming(std::uint32_t width, std::uint32_t height) {
    std::string ihdr;
    put_be32(ihdr, width);
    put_be32(ihdr, height);
    ihdr += raw("\x08\x02\x00\x00\x00");
    return raw("\x89PNG\r\n\x1a\n") + png_chunk("IHDR", ihdr) + png_chunk("IEND", "");
}

image_rgb pattern(std::uint32_t width, std::uint32_t height) {
    image_rgb img{width, height, {}};
    for (std::uint32_t y = 0; y < height; ++y)
        for (std::uint32_t x = 0; x < width; ++x)
            for (std::uint32_t c = 0; c < 3; ++c)
                img.pixels.push_back(static_cast<std::uint8_t>((x * 37 + y * 91 + c * 53 + x * y) & 0xFF));
    return img;
}

std::vector<std::uint8_t> gradient(std::uint32_t width, std::uint32_t height) {
    std::vector<std::uint8_t> px;
    for (std::uint32_t y = 0; y < height; ++y)
        for (std::uint32_t x = 0; x < width; ++x) {
            px.push_back(static_cast<std::uint8_t>(x * 255 / width));
            px.push_back(static_cast<std::uint8_t>(y * 255 / height));
            px.push_back(128);
        }
    return px;
}

image_rgb decoded(const std::string& bytes, const image_limits& limits = {}) {
    auto r = decode_image(bytes, limits);
    INFO(r.error);
    REQUIRE(r.image);
    CHECK(r.error.empty());
    CHECK(r.image->pixels.size() == std::size_t{r.image->width} * r.image->height * 3);
    return *r.image;
}

std::string refusal(const std::string& bytes, const image_limits& limits = {}) {
    auto r = decode_image(bytes, limits);
    CHECK_FALSE(r.image);
    return r.error;
}

using bytes_t = std::vector<std::uint8_t>;

} // namespace

// ---- PNG ----------------------------------------------------------------------------

TEST_CASE("encode_png then decode_image gives back the exact pixels", "[image]") {
    const image_rgb img = pattern(37, 23);
    const std::string png = encode_png(img);
    CHECK(png.substr(1, 3) == "PNG");
    const image_rgb back = decoded(png);
    CHECK(back.width == 37);
    CHECK(back.height == 23);
    CHECK(back.pixels == img.pixels);
}

TEST_CASE("grey PNGs, 8-bit and 1-bit, become RGB with the grey in each channel", "[image]") {
    const image_rgb grey = decoded(write_png({3, 1, PNG_COLOR_TYPE_GRAY, 8, false, {}, {}, raw("\x00\x7f\xff")}));
    CHECK(grey.pixels == bytes_t{0, 0, 0, 127, 127, 127, 255, 255, 255});

    // 10 pixels of 1 bit, alternately white and black, padded to 2 bytes.
    const image_rgb bits = decoded(write_png({10, 1, PNG_COLOR_TYPE_GRAY, 1, false, {}, {}, "\xAA\x80"}));
    REQUIRE(bits.width == 10);
    for (std::size_t x = 0; x < 10; ++x)
        CHECK(bits.pixels[x * 3 + 1] == (x % 2 == 0 ? 255 : 0));
}

TEST_CASE("alpha is dropped, not composited, for grey+alpha and RGBA PNGs", "[image]") {
    const image_rgb ga =
        decoded(write_png({2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, false, {}, {}, raw("\x64\x00\xC8\x80")}));
    CHECK(ga.pixels == bytes_t{100, 100, 100, 200, 200, 200});

    const image_rgb rgba =
        decoded(write_png({2, 1, PNG_COLOR_TYPE_RGBA, 8, false, {}, {}, raw("\xC8\x64\x32\x00\x01\x02\x03\xFF")}));
    CHECK(rgba.pixels == bytes_t{200, 100, 50, 1, 2, 3});
}

TEST_CASE("palette PNGs are expanded, and their tRNS alpha dropped", "[image]") {
    png_spec spec{3, 1, PNG_COLOR_TYPE_PALETTE, 2, false, {{10, 20, 30}, {40, 50, 60}, {70, 80, 90}}, {255, 0}, "\x18"};
    CHECK(decoded(write_png(spec)).pixels == bytes_t{10, 20, 30, 40, 50, 60, 70, 80, 90});
    spec.palette_alpha.clear();
    CHECK(decoded(write_png(spec)).pixels == bytes_t{10, 20, 30, 40, 50, 60, 70, 80, 90});
}

TEST_CASE("16-bit PNGs are scaled to 8 bits", "[image]") {
    // Big-endian samples: FFFF 8080 0000 | 1234 00FF 7F7F.
    const std::string rows = raw("\xFF\xFF\x80\x80\x00\x00\x12\x34\x00\xFF\x7F\x7F");
    CHECK(decoded(write_png({2, 1, PNG_COLOR_TYPE_RGB, 16, false, {}, {}, rows})).pixels ==
          bytes_t{255, 128, 0, 18, 1, 127});
    // The same bytes as grey+alpha 16-bit: grey FFFF, 0000, 00FF.
    CHECK(decoded(write_png({3, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 16, false, {}, {}, rows})).pixels ==
          bytes_t{255, 255, 255, 0, 0, 0, 1, 1, 1});
}

TEST_CASE("an interlaced PNG decodes to the same pixels", "[image]") {
    const image_rgb img = pattern(17, 13);
    const std::string rows(img.pixels.begin(), img.pixels.end());
    CHECK(decoded(write_png({17, 13, PNG_COLOR_TYPE_RGB, 8, true, {}, {}, rows})).pixels == img.pixels);
}

TEST_CASE("a PNG header claiming 100000x100000 is refused before any decoding", "[image]") {
    const std::string tiny = png_claiming(100000, 100000);
    CHECK(tiny.size() < 64);
    CHECK(refusal(tiny) == "image is 100000x100000, over the limit of 4096x4096");
    CHECK(refusal(png_claiming(0, 5)) == "image is 0x5, which has no pixels");
}

TEST_CASE("a real PNG over the width, height or pixel limit is refused with its size", "[image]") {
    const std::string wide = encode_png(pattern(2000, 10));
    CHECK(refusal(wide, {1024, 1024, 1u << 20}) == "image is 2000x10, over the limit of 1024x1024");
    CHECK(refusal(encode_png(pattern(100, 100)), {4096, 4096, 5000}) ==
          "image is 100x100 (10000 pixels), over the limit of 5000 pixels");
    CHECK(decoded(encode_png(pattern(100, 50)), {100, 50, 5000}).width == 100);
}

TEST_CASE("a PNG with a damaged IDAT is refused", "[image]") {
    std::string png = encode_png(pattern(20, 20));
    const auto idat = png.find("IDAT");
    REQUIRE(idat != std::string::npos);
    png[idat + 10] = static_cast<char>(png[idat + 10] ^ 0x55);
    const std::string why = refusal(png);
    CHECK(why.rfind("PNG image is corrupt or truncated (", 0) == 0);
}

TEST_CASE("every prefix of a PNG is refused or gives the whole picture, never crashes", "[image]") {
    const image_rgb img = pattern(20, 20);
    const std::string png = encode_png(img);
    for (std::size_t n = 0; n < png.size(); ++n) {
        INFO("prefix " << n);
        auto r = decode_image(std::string_view(png).substr(0, n), {});
        if (r.image)
            CHECK(r.image->pixels == img.pixels); // only the trailing IEND was cut
        else
            CHECK_FALSE(r.error.empty());
    }
    // A cut inside the pixel data is never mistaken for a whole picture.
    CHECK_FALSE(decode_image(std::string_view(png).substr(0, png.size() / 2), {}).image);
}

TEST_CASE("PNGs with random bytes overwritten decode or are refused, never crash", "[image]") {
    const std::string good = write_png({9, 7, PNG_COLOR_TYPE_RGB, 8, true, {}, {}, std::string(9 * 7 * 3, 'z')});
    std::uint32_t state = 777;
    auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    };
    for (int i = 0; i < 2000; ++i) {
        std::string bad = good;
        bad[8 + next() % (bad.size() - 8)] = static_cast<char>(next() & 0xFF);
        auto r = decode_image(bad, {64, 64, 4096});
        CHECK(r.image.has_value() != !r.error.empty());
        if (r.image) CHECK(r.image->pixels.size() == std::size_t{r.image->width} * r.image->height * 3);
    }
}

// ---- JPEG ---------------------------------------------------------------------------

TEST_CASE("a JPEG from libjpeg decodes to its size and close to its pixels", "[image]") {
    for (bool progressive : {false, true}) {
        INFO("progressive " << progressive);
        const bytes_t px = gradient(64, 48);
        const image_rgb img = decoded(write_jpeg(64, 48, 3, JCS_RGB, px, progressive));
        CHECK(img.width == 64);
        CHECK(img.height == 48);
        int worst = 0;
        for (std::size_t i = 0; i < px.size(); ++i)
            worst = std::max(worst, std::abs(int{img.pixels[i]} - int{px[i]}));
        CHECK(worst <= 12);
    }
}

TEST_CASE("a grey JPEG becomes RGB with equal channels", "[image]") {
    bytes_t grey;
    for (int i = 0; i < 32 * 16; ++i)
        grey.push_back(static_cast<std::uint8_t>(i % 32 * 8));
    const image_rgb img = decoded(write_jpeg(32, 16, 1, JCS_GRAYSCALE, grey));
    REQUIRE(img.pixels.size() == grey.size() * 3);
    for (std::size_t i = 0; i < grey.size(); ++i) {
        CHECK(img.pixels[i * 3] == img.pixels[i * 3 + 1]);
        CHECK(img.pixels[i * 3] == img.pixels[i * 3 + 2]);
        CHECK(std::abs(int{img.pixels[i * 3]} - int{grey[i]}) <= 12);
    }
}

TEST_CASE("an Adobe CMYK JPEG becomes RGB", "[image]") {
    // Adobe stores CMYK inverted: C=255 means no cyan, M=0 full magenta, so
    // (255, 0, 0, 255) with no black is pure red.
    bytes_t cmyk;
    for (int i = 0; i < 16 * 16; ++i)
        cmyk.insert(cmyk.end(), {255, 0, 0, 255});
    const image_rgb img = decoded(write_jpeg(16, 16, 4, JCS_CMYK, cmyk));
    REQUIRE(img.pixels.size() == 16 * 16 * 3);
    CHECK(img.pixels[0] >= 250);
    CHECK(img.pixels[1] <= 5);
    CHECK(img.pixels[2] <= 5);
}

TEST_CASE("a JPEG frame header claiming 60000x50000 is refused before any decoding", "[image]") {
    // SOI, then a baseline SOF0 (length 17, 8-bit, height 50000, width 60000,
    // three components), and nothing else.
    const std::string tiny = raw("\xFF\xD8\xFF\xC0\x00\x11\x08\xC3\x50\xEA\x60\x03"
                                 "\x01\x22\x00\x02\x11\x01\x03\x11\x01\xFF\xD9");
    CHECK(refusal(tiny) == "image is 60000x50000, over the limit of 4096x4096");
    // Markers before the frame are walked over, stray bytes skipped.
    const std::string with_app = raw("\xFF\xD8\xFF\xE0\x00\x04JF"
                                     "abc\xFF\xC2\x00\x11\x08\x00\x10\x20\x00\x03");
    CHECK(refusal(with_app, {4096, 8, 1u << 20}) == "image is 8192x16, over the limit of 4096x8");
}

TEST_CASE("a real JPEG over the limits is refused with its size", "[image]") {
    const std::string jpeg = write_jpeg(100, 80, 3, JCS_RGB, gradient(100, 80));
    CHECK(refusal(jpeg, {64, 4096, 1u << 20}) == "image is 100x80, over the limit of 64x4096");
    CHECK(refusal(jpeg, {4096, 4096, 7999}) == "image is 100x80 (8000 pixels), over the limit of 7999 pixels");
}

TEST_CASE("every prefix of a JPEG is refused or decodes, never crashes", "[image]") {
    const std::string jpeg = write_jpeg(32, 32, 3, JCS_RGB, gradient(32, 32));
    for (std::size_t n = 0; n < jpeg.size(); ++n) {
        INFO("prefix " << n);
        auto r = decode_image(std::string_view(jpeg).substr(0, n), {});
        CHECK(r.image.has_value() != !r.error.empty());
        if (r.image) CHECK(r.image->width == 32); // only the end marker was cut
    }
    const std::string why = refusal(jpeg.substr(0, jpeg.size() / 2));
    CHECK(why == "JPEG image is corrupt or truncated (the file is truncated)");
}

TEST_CASE("JPEGs with random bytes overwritten decode or are refused, never crash", "[image]") {
    const std::string good = write_jpeg(24, 16, 3, JCS_RGB, gradient(24, 16), true);
    std::uint32_t state = 4242;
    auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    };
    for (int i = 0; i < 1000; ++i) {
        std::string bad = good;
        for (int k = 0; k < 2; ++k)
            bad[3 + next() % (bad.size() - 3)] = static_cast<char>(next() & 0xFF);
        auto r = decode_image(bad, {64, 64, 4096});
        CHECK(r.image.has_value() != !r.error.empty());
        if (r.image) CHECK(r.image->pixels.size() == std::size_t{r.image->width} * r.image->height * 3);
    }
}

// ---- other input ----------------------------------------------------------------------

TEST_CASE("anything but PNG or JPEG magic is not a PNG or JPEG image", "[image]") {
    CHECK(refusal("") == "not a PNG or JPEG image");
    CHECK(refusal("GIF89a\x01\x00\x01\x00") == "not a PNG or JPEG image");
    CHECK(refusal("BM6\x00\x00\x00") == "not a PNG or JPEG image");
    CHECK(refusal("\x89PNG") == "not a PNG or JPEG image");
    CHECK(refusal("\xFF\xD8") == "not a PNG or JPEG image");
    CHECK(refusal(raw("\x89PNG\r\n\x1a\n\x00\x00")) == "PNG image is corrupt or truncated (no IHDR header)");
    CHECK(refusal("\xFF\xD8\xFF") == "JPEG image is corrupt or truncated (no frame header)");
}

TEST_CASE("encode_png refuses an image whose pixels do not match its size", "[image]") {
    CHECK_THROWS_AS(encode_png({2, 2, bytes_t(11)}), std::invalid_argument);
    CHECK_THROWS_AS(encode_png({0, 0, {}}), std::invalid_argument);
}

// ---- resize ---------------------------------------------------------------------------

TEST_CASE("resizing to the same size returns the same pixels", "[image]") {
    const image_rgb img = pattern(5, 4);
    CHECK(resize_bilinear(img, 5, 4).pixels == img.pixels);
}

TEST_CASE("bilinear 2x up aligns pixel centres like align_corners=false", "[image]") {
    // One row, black then white: centres at -0.25 (held at 0), 0.25, 0.75, 1.25 (held at 1).
    const image_rgb up = resize_bilinear({2, 1, {0, 0, 0, 255, 255, 255}}, 4, 1);
    CHECK(up.pixels == bytes_t{0, 0, 0, 64, 64, 64, 191, 191, 191, 255, 255, 255});
    const image_rgb tall = resize_bilinear({1, 2, {0, 10, 20, 200, 210, 220}}, 1, 4);
    CHECK(tall.pixels == bytes_t{0, 10, 20, 50, 60, 70, 150, 160, 170, 200, 210, 220});
}

TEST_CASE("bilinear 2x down averages each 2x2 block", "[image]") {
    image_rgb img{4, 4, {}};
    for (std::uint32_t y = 0; y < 4; ++y)
        for (std::uint32_t x = 0; x < 4; ++x)
            img.pixels.insert(img.pixels.end(), {static_cast<std::uint8_t>(10 * x + 40 * y), 7, 0});
    const image_rgb down = resize_bilinear(img, 2, 2);
    CHECK(down.pixels == bytes_t{25, 7, 0, 45, 7, 0, 105, 7, 0, 125, 7, 0});
}

TEST_CASE("a flat image stays flat at any size, and a zero size is empty", "[image]") {
    image_rgb flat{7, 5, {}};
    for (int i = 0; i < 35; ++i)
        flat.pixels.insert(flat.pixels.end(), {12, 34, 56});
    const image_rgb out = resize_bilinear(flat, 13, 3);
    REQUIRE(out.pixels.size() == 13 * 3 * 3);
    for (std::size_t i = 0; i < out.pixels.size(); i += 3)
        CHECK(bytes_t(out.pixels.begin() + static_cast<long>(i), out.pixels.begin() + static_cast<long>(i) + 3) ==
              bytes_t{12, 34, 56});
    CHECK(resize_bilinear(flat, 0, 3).pixels.empty());
    CHECK_THROWS_AS(resize_bilinear({3, 3, bytes_t(5)}, 2, 2), std::invalid_argument);
}
