// tether-text-bench: encode throughput of Tether's tokenizer on one text,
// one call at a time on one thread, as the reference's figures are taken
// (tests/text/oracle.mjs "timing"). Prints one JSON line.
//   tether-text-bench TOKENIZER_JSON TEXT_FILE [REPEAT]
#include "text/tokenizer.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s TOKENIZER_JSON TEXT_FILE [REPEAT]\n", argv[0]);
        return 2;
    }
    using clock = std::chrono::steady_clock;
    try {
        const auto t0 = clock::now();
        const auto tok = tether::agent::text::tokenizer::from_file(argv[1]);
        const double load = std::chrono::duration<double>(clock::now() - t0).count();
        std::ifstream in(argv[2], std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        const std::string text = ss.str();
        const int repeat = argc > 3 ? std::max(1, std::atoi(argv[3])) : 5;
        std::size_t ids = tok.encode(text, false).size(); // warm, as the reference's run is
        std::vector<double> times;
        for (int i = 0; i < repeat; ++i) {
            const auto s = clock::now();
            ids = tok.encode(text, false).size();
            times.push_back(std::chrono::duration<double>(clock::now() - s).count());
        }
        std::sort(times.begin(), times.end());
        const double median = times[times.size() / 2];
        std::printf("{\"bytes\": %zu, \"ids\": %zu, \"seconds\": %.6f, \"mb_per_s\": %.3f, \"load_seconds\": %.3f}\n",
                    text.size(), ids, median, static_cast<double>(text.size()) / median / 1e6, load);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tether-text-bench: %s\n", e.what());
        return 2;
    }
    return 0;
}
