// The incremental detokenizer and the stop-string matcher against decoding
// everything at once, on every prefix: the real tokenizers of each family and
// the project's variants, the fixed and hostile corpora, and random ids
// (stray bytes, half characters, special tokens in the middle).
#include "text_support.hpp"

#include "tether/shared/stop_matcher.hpp"
#include "text/streaming.hpp"
#include "text/unicode.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace tether;
using namespace tether::agent::text;
using namespace tether::text_test;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> families() {
    const auto s = shared_tokenizers();
    return {s / "gpt2/tokenizer.json",
            s / "llama2/llama-2-7b-chat/tokenizer.json",
            s / "mistral-7b-v0.1/tokenizer.json",
            s / "phi3/phi-3-mini-4k-instruct/tokenizer.json",
            s / "t5/tokenizer.json",
            s / "whisper/whisper-base/tokenizer.json",
            s / "bert/tokenizer.json",
            s / "roberta/tokenizer.json",
            s / "extras/clip-vit-base-patch32/tokenizer.json",
            assembled("llama3") / "tokenizer.json",
            assembled("qwen2") / "tokenizer.json"};
}

// Id sequences to stream: the corpus encoded (lines, the whole text, hostile
// strings) and random ids.
std::vector<std::vector<token_id>> sequences(const tokenizer& tok, std::uint32_t seed) {
    std::vector<std::vector<token_id>> out;
    auto texts = fixed_corpus();
    const auto hostile = hostile_corpus(seed, 60, {});
    texts.insert(texts.end(), hostile.begin(), hostile.end());
    for (const auto& t : texts) {
        try {
            out.push_back(tok.encode(t, true));
        } catch (const text_error&) {
            // (a word without unk token: nothing to stream)
        }
    }
    std::mt19937 rng(seed);
    const auto vocab = static_cast<std::uint32_t>(tok.vocab_size());
    for (int k = 0; k < 60; ++k) {
        std::vector<token_id> ids;
        const int n = 1 + static_cast<int>(rng() % 80);
        // Mostly low ids: byte tokens and single characters live there.
        for (int i = 0; i < n; ++i) ids.push_back(rng() % 3 ? rng() % std::min<std::uint32_t>(vocab, 600) : rng() % vocab);
        out.push_back(std::move(ids));
    }
    return out;
}

// Streams `ids`; at every prefix, what was released plus what finishing
// would release equals decoding that prefix whole. Returns the deltas.
// (Past 1000 ids, one prefix in 61 and the last one: decoding each prefix
// whole is quadratic, and the whole corpus as one text runs to 10^4 ids.)
std::vector<std::string> stream_and_check(const tokenizer& tok, const std::vector<token_id>& ids, bool skip,
                                          std::size_t& failures) {
    incremental_decoder dec(tok, skip);
    std::string released;
    std::vector<std::string> deltas;
    for (std::size_t k = 0; k < ids.size(); ++k) {
        std::string delta = dec.push(ids[k]);
        if (!is_valid_utf8(delta) && ++failures <= 3) UNSCOPED_INFO("a delta splits a character at id " << k);
        released += delta;
        deltas.push_back(std::move(delta));
        if (k >= 1000 && k % 61 != 0 && k + 1 != ids.size()) continue;
        incremental_decoder ending = dec;
        const std::string whole = tok.decode(std::span<const token_id>(ids).first(k + 1), skip);
        const std::string got = released + ending.finish();
        if (got != whole && ++failures <= 3) {
            std::string shown;
            for (std::size_t i = 0; i <= k; ++i) shown += std::to_string(ids[i]) + ",";
            UNSCOPED_INFO("skip_special=" << skip << " ids [" << shown << "]\n  streamed " << quote_json(got)
                                          << "\n  decoded  " << quote_json(whole));
        }
    }
    deltas.push_back(dec.finish());
    return deltas;
}

void check_streaming(const fs::path& file, std::uint32_t seed) {
    INFO("tokenizer " << file.string());
    const auto tok = tokenizer::from_file(file);
    std::size_t failures = 0;
    for (const auto& ids : sequences(tok, seed))
        for (const bool skip : {false, true}) (void)stream_and_check(tok, ids, skip, failures);
    CHECK(failures == 0);

}

} // namespace

TEST_CASE("streamed text equals decoding every prefix whole, for every family", "[text][streaming]") {
    std::uint32_t seed = 1;
    for (const auto& file : families()) check_streaming(file, ++seed);
}

TEST_CASE("streamed text equals decoding every prefix whole, for every project variant", "[text][streaming]") {
    std::uint32_t seed = 50;
    for (const auto& file : project_tokenizers()) check_streaming(file, ++seed);
}

TEST_CASE("a run of stray bytes keeps the window short and the text exact", "[text][streaming]") {
    const auto tok = tokenizer::from_file(shared_tokenizers() / "gpt2/tokenizer.json");
    // GPT-2's single-byte tokens that decode alone to U+FFFD (bytes that are
    // not a whole character), three of each in a row.
    std::vector<token_id> ids;
    for (token_id id = 0; id < 256 && ids.size() < 300; ++id) {
        const auto text = tok.decode(std::vector<token_id>{id}, false);
        if (text == "\xEF\xBF\xBD") ids.insert(ids.end(), 3, id);
    }
    REQUIRE(ids.size() > 100);
    std::size_t failures = 0;
    const auto deltas = stream_and_check(tok, ids, false, failures);
    CHECK(failures == 0);
    // Text keeps flowing: not everything waits for the end.
    std::size_t early = 0;
    for (std::size_t i = 0; i + 1 < deltas.size(); ++i) early += deltas[i].size();
    CHECK(early > 0);
}

TEST_CASE("Metaspace and Strip decoders neither lose nor double the leading space", "[text][streaming]") {
    for (const auto& rel : {"llama2/llama-2-7b-chat/tokenizer.json", "mistral-7b-v0.1/tokenizer.json", "t5/tokenizer.json"}) {
        INFO(rel);
        const auto tok = tokenizer::from_file(shared_tokenizers() / rel);
        const auto ids = tok.encode("Hello world.  Two  spaces, then\nnew line and 中文 😀", false);
        incremental_decoder dec(tok, true);
        std::string out;
        for (auto id : ids) out += dec.push(id);
        out += dec.finish();
        CHECK(out == tok.decode(ids, true));
        CHECK(out.rfind("Hello world.", 0) == 0);
    }
}

TEST_CASE("byte tokens under other names are held as the decoder groups them", "[text][streaming]") {
    // ByteFallback takes any "<0xXX>" string for a byte, whatever gave it:
    // an added token, lowercase hex, a Replace step before it, an id past
    // the count of a vocabulary that skips some. (The fuzzer found streams
    // that showed "%i" where decoding whole gave U+FFFDs, and the reverse.)
    const std::string json = R"({"version":"1.0","truncation":null,"padding":null,
      "added_tokens":[{"id":5,"content":"<0x25>","single_word":false,"lstrip":false,"rstrip":false,
                       "normalized":false,"special":false},
                      {"id":6,"content":"<s>","single_word":false,"lstrip":false,"rstrip":false,
                       "normalized":false,"special":true}],
      "normalizer":null,"pre_tokenizer":null,"post_processor":null,
      "decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"#"},"content":"<0xC3>"},
                                               {"type":"ByteFallback"},{"type":"Fuse"}]},
      "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,
               "end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":true,"ignore_merges":false,
               "vocab":{"a":0,"i":1,"<0x69>":2,"<0xa9>":3,"#":4,"<0xF0>":40},"merges":[]}})";
    const auto tok = tokenizer::from_json(json, "tokenizer.json");
    // (Added tokens take their ids as the reference gives them: after the
    // vocabulary's count, whatever the file says.)
    const token_id pct = tok.token_to_id("<0x25>").value(), bos = tok.token_to_id("<s>").value();
    for (token_id id : {2U, 3U, 4U, pct, 40U}) CHECK(tok.is_fallback_byte(id));
    CHECK_FALSE(tok.is_fallback_byte(0));
    CHECK_FALSE(tok.is_fallback_byte(bos));
    const std::vector<std::vector<token_id>> cases = {
        {pct, 2, 4, 4, 0},           // "%i" then two bad bytes: all four U+FFFD
        {pct, 2, 4, 3, 1},           // "%i" + C3 A9 ("é"): valid, shown as text
        {pct, bos, 2, 4, bos, 3, 0}, // special tokens inside the run, shown or skipped
        {0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1},
        {2, 2, 40, 1, 2, 40, 2, 0}, // a lone F0 between valid bytes
    };
    std::size_t failures = 0;
    for (const auto& ids : cases)
        for (const bool skip : {false, true}) (void)stream_and_check(tok, ids, skip, failures);
    CHECK(failures == 0);
    CHECK(tok.decode(std::vector<token_id>{pct, 2, 4, 3}, false) == "%i\xC3\xA9");
}

namespace {

std::vector<std::size_t> boundaries(const std::string& s) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i <= s.size(); ++i)
        if (i == s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) out.push_back(i);
    return out;
}

// Runs the matcher over `deltas`; checks that nothing past the first stop
// string is ever shown and that the end result is the text before it.
void check_stops(const std::vector<std::string>& deltas, const std::vector<std::string>& stops, std::size_t& failures,
                 std::string& report) {
    std::string text;
    for (const auto& d : deltas) text += d;
    // The stop string complete first (earliest end, then earliest start,
    // then the first listed) cuts the text where it begins.
    std::size_t first = std::string::npos, first_end = std::string::npos;
    std::optional<std::size_t> which;
    for (std::size_t i = 0; i < stops.size(); ++i) {
        const auto at = stops[i].empty() ? std::string::npos : text.find(stops[i]);
        if (at == std::string::npos) continue;
        if (at + stops[i].size() < first_end || (at + stops[i].size() == first_end && at < first)) {
            first = at;
            first_end = at + stops[i].size();
            which = i;
        }
    }
    const std::string expected = first == std::string::npos ? text : text.substr(0, first);
    stop_matcher m(stops);
    std::string shown;
    bool bad = false;
    for (const auto& d : deltas) {
        const auto out = m.push(d);
        bad = bad || !is_valid_utf8(out);
        shown += out;
        bad = bad || expected.compare(0, shown.size(), shown) != 0 || shown.size() > expected.size();
    }
    shown += m.finish();
    bad = bad || shown != expected || m.stop_index() != which;
    if (bad && ++failures <= 3) {
        std::string s;
        for (const auto& x : stops) s += quote_json(x) + " ";
        report += "stops " + s + "\n  text     " + quote_json(text.substr(0, 300)) + "\n  shown    " +
                  quote_json(shown.substr(0, 300)) + "\n  expected " + quote_json(expected.substr(0, 300)) + "\n";
    }
}

} // namespace

TEST_CASE("stop strings are found across deltas, held back while undecided and never shown", "[text][streaming]") {
    const std::vector<fs::path> files = {shared_tokenizers() / "gpt2/tokenizer.json",
                                         shared_tokenizers() / "llama2/llama-2-7b-chat/tokenizer.json",
                                         assembled("qwen2") / "tokenizer.json"};
    std::mt19937 rng(99);
    std::size_t failures = 0;
    std::string report;
    for (const auto& file : files) {
        const auto tok = tokenizer::from_file(file);
        for (const auto& text : fixed_corpus()) {
            if (text.empty()) continue;
            incremental_decoder dec(tok, true);
            std::vector<std::string> deltas;
            for (auto id : tok.encode(text, false)) deltas.push_back(dec.push(id));
            deltas.push_back(dec.finish());
            std::string whole;
            for (const auto& d : deltas) whole += d;
            const auto cuts = boundaries(whole);
            for (int trial = 0; trial < 12; ++trial) {
                std::vector<std::string> stops;
                const int n = 1 + static_cast<int>(rng() % 4);
                for (int k = 0; k < n; ++k) {
                    const auto a = rng() % cuts.size();
                    const auto b = std::min(cuts.size() - 1, a + 1 + rng() % 10);
                    std::string s = whole.substr(cuts[a], cuts[b] - cuts[a]);
                    if (rng() % 4 == 0 && !s.empty()) s += "\xE2\x88\x9E never"; // starts in the text, never completes
                    stops.push_back(s);
                }
                if (trial == 0) stops = {"\n\n", "</s>", "<|im_end|>"};
                if (trial == 1) stops = {"Hel", "Hello"}; // one the beginning of another
                check_stops(deltas, stops, failures, report);
            }
        }
    }
    INFO(report);
    CHECK(failures == 0);
}
