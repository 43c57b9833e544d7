#pragma once
// Whisper's front end, as the Hugging Face WhisperFeatureExtractor computes
// it: 16 kHz mono, one 30 s window zero-padded, a centred STFT (periodic Hann
// window, reflect padding, n_fft 400, hop 160) of power 2, the last frame
// dropped, a Slaney mel filter bank, log10 with a 1e-10 floor, clamped to
// 8 below the window's maximum and scaled as (x + 4) / 4. No torch: plain C++
// (a mixed-radix FFT), so the features can be tested without a model.

#include <cstdint>
#include <span>
#include <vector>

namespace tether::agent {

struct log_mel_config {
    std::uint32_t sample_rate = 16000;
    std::uint32_t n_fft = 400;
    std::uint32_t hop_length = 160;
    std::uint32_t n_mels = 80;
    std::uint32_t chunk_seconds = 30;
    // n_mels rows of n_fft / 2 + 1 weights; empty: slaney_mel_filters().
    std::vector<float> filters;

    std::uint32_t n_samples() const { return chunk_seconds * sample_rate; }
    std::uint32_t n_frames() const { return n_samples() / hop_length; }
};

// The triangular filters of the Slaney mel scale, area-normalised (librosa's
// and the reference's norm="slaney", mel_scale="slaney"), from fmin to fmax
// Hz: n_mels rows of n_fft / 2 + 1.
std::vector<float> slaney_mel_filters(std::uint32_t n_mels, std::uint32_t n_fft, std::uint32_t sample_rate,
                                      double fmin = 0.0, double fmax = 8000.0);

// The features of one window: `samples` (at most n_samples of them, the
// rest zeros) -> n_mels rows of n_frames values, row-major.
std::vector<float> whisper_log_mel(std::span<const float> samples, const log_mel_config& config);

// An FFT of any length whose prime factors are small (others fall back to a
// direct transform), planned once; double precision. Exposed for tests.
class fft_plan {
  public:
    explicit fft_plan(std::size_t n);
    std::size_t size() const { return n_; }
    // In place: re/im of n values.
    void forward(std::vector<double>& re, std::vector<double>& im) const;

  private:
    // The DFT of the n inputs at in + j * stride into out[0..n), with the
    // factors from factor_index on.
    void step(const double* in_re, const double* in_im, std::size_t stride, std::size_t n, std::size_t factor_index,
              double* out_re, double* out_im) const;
    std::size_t n_;
    std::vector<std::size_t> factors_;
    std::vector<double> cos_, sin_; // e^{-2 pi i k / n}
};

} // namespace tether::agent
