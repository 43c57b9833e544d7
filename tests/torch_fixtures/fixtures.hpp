#pragma once
// Small TorchScript modules with exactly known behaviour, built from C++ alone
// (torch::jit::Module::define + save), each with its sidecar. They are real
// models as far as the agent can tell: it loads, dry-runs and runs them like
// any other, and tests can assert exact outputs.

#include <string>

namespace tether::torch_fixtures {

// Saves DIR/NAME.pt (a module whose TorchScript source is `source`, which
// defines forward) and DIR/NAME.json (`sidecar`); returns the .pt path.
std::string save_model(const std::string& dir, const std::string& name, const std::string& source,
                       const std::string& sidecar);

// text-generation: always predicts byte (last + 1) mod 256 with a margin that
// makes sampling at any temperature <= 5 and top_k pick it: "a" -> "bcd...".
std::string next_byte_lm(const std::string& dir, const std::string& name = "next-byte", int context = 16);
// classification, text (length 16): labels a / b / neither by counting the
// bytes 'a' and 'b' (neither wins when both are absent).
std::string ab_text_classifier(const std::string& dir, const std::string& name = "ab-text");
// classification, audio at 8000 Hz, 800 samples: labels loud / quiet by mean |x| > 0.25.
std::string loudness_classifier(const std::string& dir, const std::string& name = "loudness");
// classification, image 8x8: labels red / green / blue by the largest channel mean.
std::string colour_classifier(const std::string& dir, const std::string& name = "colour");
// audio 8000 Hz in and out: multiplies every sample by 0.5.
std::string half_gain(const std::string& dir, const std::string& name = "half-gain");
// image, scale 2: inverts every channel (1 - x) and repeats each pixel 2x2.
std::string invert_upscale(const std::string& dir, const std::string& name = "invert2x");
// tensor float32 [-1] -> [2]: [sum, max] of each item.
std::string sum_max(const std::string& dir, const std::string& name = "sum-max");

} // namespace tether::torch_fixtures
