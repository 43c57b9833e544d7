#include "backends/model/log_mel.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace tether::agent {
namespace {

// Slaney's mel scale: linear to 1 kHz, logarithmic above.
constexpr double min_log_hz = 1000.0;
constexpr double min_log_mel = 15.0;          // 1000 / (200 / 3)
const double log_step = std::log(6.4) / 27.0; // 27 mels per factor 6.4

double hz_to_mel(double hz) {
    return hz < min_log_hz ? 3.0 * hz / 200.0 : min_log_mel + std::log(hz / min_log_hz) / log_step;
}
double mel_to_hz(double mel) {
    return mel < min_log_mel ? 200.0 * mel / 3.0 : min_log_hz * std::exp(log_step * (mel - min_log_mel));
}

} // namespace

std::vector<float> slaney_mel_filters(std::uint32_t n_mels, std::uint32_t n_fft, std::uint32_t sample_rate, double fmin,
                                      double fmax) {
    const std::size_t bins = n_fft / 2 + 1;
    std::vector<double> fft_hz(bins);
    for (std::size_t i = 0; i < bins; ++i)
        fft_hz[i] = static_cast<double>(sample_rate) / 2.0 * static_cast<double>(i) / static_cast<double>(bins - 1);
    // n_mels + 2 points evenly spaced in mel, as Hz.
    const double lo = hz_to_mel(fmin), hi = hz_to_mel(fmax);
    std::vector<double> edge(n_mels + 2);
    for (std::size_t i = 0; i < edge.size(); ++i)
        edge[i] = mel_to_hz(lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n_mels + 1));
    std::vector<float> out(static_cast<std::size_t>(n_mels) * bins);
    for (std::size_t m = 0; m < n_mels; ++m) {
        const double left = edge[m], centre = edge[m + 1], right = edge[m + 2];
        const double norm = 2.0 / (right - left); // area 1 (Slaney)
        for (std::size_t i = 0; i < bins; ++i) {
            const double up = (fft_hz[i] - left) / (centre - left);
            const double down = (right - fft_hz[i]) / (right - centre);
            out[m * bins + i] = static_cast<float>(std::max(0.0, std::min(up, down)) * norm);
        }
    }
    return out;
}

fft_plan::fft_plan(std::size_t n) : n_(n), cos_(n), sin_(n) {
    if (n == 0) throw std::invalid_argument("fft_plan: size 0");
    for (std::size_t k = 0; k < n; ++k) {
        const double a = -2.0 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(n);
        cos_[k] = std::cos(a);
        sin_[k] = std::sin(a);
    }
    std::size_t rest = n;
    for (std::size_t p = 2; p * p <= rest; ++p)
        while (rest % p == 0) {
            factors_.push_back(p);
            rest /= p;
        }
    if (rest > 1) factors_.push_back(rest); // a prime factor: its DFT is direct
}

void fft_plan::step(const double* in_re, const double* in_im, std::size_t stride, std::size_t n, std::size_t fi,
                    double* out_re, double* out_im) const {
    if (n == 1) {
        out_re[0] = in_re[0];
        out_im[0] = in_im[0];
        return;
    }
    const std::size_t p = factors_[fi];
    const std::size_t m = n / p;
    for (std::size_t q = 0; q < p; ++q)
        step(in_re + q * stride, in_im + q * stride, stride * p, m, fi + 1, out_re + q * m, out_im + q * m);
    const std::size_t scale = n_ / n; // W_n^j = W_N^(j * N / n)
    double t_re[64], t_im[64];
    std::vector<double> big_re, big_im;
    double* tr = t_re;
    double* ti = t_im;
    if (p > 64) {
        big_re.resize(p);
        big_im.resize(p);
        tr = big_re.data();
        ti = big_im.data();
    }
    const std::size_t root_p = n_ / p; // W_p = W_N^(N / p)
    for (std::size_t k = 0; k < m; ++k) {
        std::size_t w = 0; // q * k * scale, below n_ since q * k < n
        for (std::size_t q = 0; q < p; ++q, w += k * scale) { // twiddle
            const double a = out_re[q * m + k], b = out_im[q * m + k];
            tr[q] = a * cos_[w] - b * sin_[w];
            ti[q] = a * sin_[w] + b * cos_[w];
        }
        for (std::size_t r = 0; r < p; ++r) { // a DFT of size p
            double sr = 0, si = 0;
            std::size_t qr = 0; // q * r mod p
            for (std::size_t q = 0; q < p; ++q) {
                const std::size_t wi = qr * root_p;
                sr += tr[q] * cos_[wi] - ti[q] * sin_[wi];
                si += tr[q] * sin_[wi] + ti[q] * cos_[wi];
                qr += r;
                if (qr >= p) qr -= p;
            }
            out_re[k + r * m] = sr;
            out_im[k + r * m] = si;
        }
    }
}

void fft_plan::forward(std::vector<double>& re, std::vector<double>& im) const {
    if (re.size() != n_ || im.size() != n_) throw std::invalid_argument("fft_plan: wrong input size");
    std::vector<double> out_re(n_), out_im(n_);
    step(re.data(), im.data(), 1, n_, 0, out_re.data(), out_im.data());
    re.swap(out_re);
    im.swap(out_im);
}

std::vector<float> whisper_log_mel(std::span<const float> samples, const log_mel_config& c) {
    const std::size_t n_samples = c.n_samples(), n_fft = c.n_fft, hop = c.hop_length, bins = n_fft / 2 + 1;
    const std::size_t frames = c.n_frames(); // 1 + n_samples / hop, less the last
    if (n_fft < 2 || hop == 0 || n_samples <= n_fft / 2)
        throw std::invalid_argument("log-mel: n_fft, hop and window do not fit together");
    std::vector<float> own;
    const std::vector<float>* filters = &c.filters;
    if (c.filters.empty()) {
        own = slaney_mel_filters(c.n_mels, c.n_fft, c.sample_rate);
        filters = &own;
    }
    if (filters->size() != static_cast<std::size_t>(c.n_mels) * bins)
        throw std::invalid_argument("log-mel: the filter bank is not n_mels x (n_fft / 2 + 1)");

    // The window's samples, zero-padded, then reflect-padded by n_fft / 2 on both sides.
    const std::size_t half = n_fft / 2;
    std::vector<double> x(n_samples + 2 * half, 0.0);
    const std::size_t n_in = std::min(samples.size(), n_samples);
    for (std::size_t i = 0; i < n_in; ++i) x[half + i] = samples[i];
    for (std::size_t i = 0; i < half; ++i) {
        x[half - 1 - i] = x[half + 1 + i];                           // left: x[1], x[2], …
        x[half + n_samples + i] = x[half + n_samples - 2 - i];      // right: mirrored before the last
    }
    std::vector<double> window(n_fft); // periodic Hann
    for (std::size_t i = 0; i < n_fft; ++i)
        window[i] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) / static_cast<double>(n_fft));

    // Each filter's nonzero bins (a triangle spans a few of them): the sums
    // skip the zeros, 20 times less work than the whole rows for 80 bins.
    std::vector<std::pair<std::size_t, std::size_t>> span(c.n_mels, {0, 0});
    for (std::size_t m = 0; m < c.n_mels; ++m) {
        const float* w = filters->data() + m * bins;
        std::size_t lo = 0, hi = bins;
        while (lo < bins && w[lo] == 0.0F) ++lo;
        while (hi > lo && w[hi - 1] == 0.0F) --hi;
        span[m] = {lo, hi};
    }
    const fft_plan plan(n_fft);
    std::vector<double> re(n_fft), im(n_fft), power(bins);
    std::vector<float> out(static_cast<std::size_t>(c.n_mels) * frames);
    double top = -1e30;
    // Two real frames per complex FFT: frame f in the real part, f + 1 in the
    // imaginary one, their spectra separated by the symmetry of real input
    // (A[k] = (X[k] + conj X[N-k]) / 2, B[k] = (X[k] - conj X[N-k]) / 2i).
    std::vector<double> power_b(bins);
    auto mel_column = [&](std::size_t f, const std::vector<double>& pw) {
        for (std::size_t m = 0; m < c.n_mels; ++m) {
            const float* w = filters->data() + m * bins;
            double e = 0;
            for (std::size_t b = span[m].first; b < span[m].second; ++b) e += static_cast<double>(w[b]) * pw[b];
            const double v = std::log10(std::max(e, 1e-10));
            top = std::max(top, v);
            out[m * frames + f] = static_cast<float>(v);
        }
    };
    for (std::size_t f = 0; f < frames; f += 2) {
        const bool pair = f + 1 < frames;
        const double* a = x.data() + f * hop;
        const double* b = pair ? a + hop : nullptr;
        for (std::size_t i = 0; i < n_fft; ++i) {
            re[i] = a[i] * window[i];
            im[i] = pair ? b[i] * window[i] : 0.0;
        }
        plan.forward(re, im);
        for (std::size_t k = 0; k < bins; ++k) {
            const std::size_t nk = k == 0 ? 0 : n_fft - k;
            const double ar = 0.5 * (re[k] + re[nk]), ai = 0.5 * (im[k] - im[nk]);
            const double br = 0.5 * (im[k] + im[nk]), bi = -0.5 * (re[k] - re[nk]);
            power[k] = ar * ar + ai * ai;
            power_b[k] = br * br + bi * bi;
        }
        mel_column(f, power);
        if (pair) mel_column(f + 1, power_b);
    }
    const float floor = static_cast<float>(top - 8.0);
    for (auto& v : out) v = (std::max(v, floor) + 4.0F) / 4.0F;
    return out;
}

} // namespace tether::agent
