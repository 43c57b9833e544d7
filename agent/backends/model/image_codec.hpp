#pragma once
// PNG/JPEG in and PNG out for the torch backend (libpng, libjpeg), plus the
// bilinear resize images go through. Uploads are hostile: sizes are checked
// from the header before any pixel is decoded, and errors are values. No torch.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent {

// 8-bit RGB, row-major, 3 bytes a pixel: pixels.size() == width * height * 3.
struct image_rgb {
    std::uint32_t width = 0, height = 0;
    std::vector<std::uint8_t> pixels;
};

struct image_limits {
    std::uint32_t max_width = 4096, max_height = 4096;
    std::uint64_t max_pixels = 16ULL << 20;
};

struct image_decode_result {
    std::optional<image_rgb> image;
    std::string error; // a human message when !image
};

// Decodes a PNG or JPEG (told apart by their magic bytes; anything else is
// "not a PNG or JPEG image"). The size is read from the header and checked
// against limits before any pixel is decoded ("image is 5000x4000, over the
// limit of 1024x1024"). Everything becomes 8-bit RGB the way PIL's
// convert("RGB") does it: grey is copied to the three channels, palettes are
// expanded, 16-bit is scaled to 8, and alpha (or tRNS) is dropped, not
// composited; no gamma or colour-profile conversion. CMYK JPEGs are converted
// naively (Adobe inverted CMYK). Corrupt or truncated data gives an error.
image_decode_result decode_image(std::string_view bytes, const image_limits& limits);

// An 8-bit RGB PNG. Throws std::invalid_argument for an image whose pixels do
// not match its size or that has no pixels (a programming error, not input).
std::string encode_png(const image_rgb& img);

// Bilinear resize with pixel centres aligned (torch's interpolate(mode=
// "bilinear", align_corners=False), no antialiasing), rounded to 8 bits. The
// same size returns a copy; a 0 width or height returns an empty image of
// that size. Throws std::invalid_argument for a malformed or empty input.
image_rgb resize_bilinear(const image_rgb& img, std::uint32_t width, std::uint32_t height);

// Resize as PIL's Image.resize does it for 8-bit RGB (what transformers'
// image processors run): filter 2 bilinear or 3 bicubic, antialiased when
// shrinking (the filter widened by the scale), fixed-point weights and an
// 8-bit result after each pass (horizontal, then vertical); 0 nearest.
// Throws std::invalid_argument for a malformed input, an empty size or another filter.
image_rgb resize_pil(const image_rgb& img, std::uint32_t width, std::uint32_t height, int filter);

} // namespace tether::agent
