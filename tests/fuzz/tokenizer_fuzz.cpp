// libFuzzer target for hostile tokenizer.json files: the input (up to its
// last NUL byte) is loaded as a tokenizer.json with small limits; what comes
// after the NUL is text to encode. What loads is run: encode with and without
// special tokens, decode keeping and skipping them, decode of ids taken from
// the input, and the streaming decoder and stop matcher, whose output must
// equal decoding at once (abort otherwise). Nothing may crash or hang.
#include "tether/shared/stop_matcher.hpp"
#include "text/streaming.hpp"
#include "text/tokenizer.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using namespace tether::agent::text;

namespace {

[[noreturn]] void fail(const char* what, const std::string& a, const std::string& b) {
    std::fprintf(stderr, "tokenizer_fuzz: %s\n  streamed %s\n  decoded  %s\n", what, a.c_str(), b.c_str());
    std::abort();
}

void check_streaming(const tokenizer& tok, const std::vector<token_id>& ids, bool skip) {
    const std::string whole = tok.decode(ids, skip);
    incremental_decoder dec(tok, skip);
    std::string streamed;
    for (auto id : ids) streamed += dec.push(id);
    streamed += dec.finish();
    if (streamed != whole) fail("streaming decode differs from decode", streamed, whole);
    // A stop string from the middle of the text: the matcher shows exactly
    // what comes before its first occurrence.
    if (whole.size() >= 4) {
        const std::string stop = whole.substr(whole.size() / 3, 2);
        tether::stop_matcher m({stop});
        incremental_decoder again(tok, skip);
        std::string shown;
        for (auto id : ids) shown += m.push(again.push(id));
        shown += m.push(again.finish());
        shown += m.finish();
        const auto at = whole.find(stop);
        if (shown != whole.substr(0, at)) fail("stop matcher shows the wrong text", shown, whole.substr(0, at));
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto nul = input.rfind('\0');
    const std::string_view json = nul == std::string_view::npos ? input : input.substr(0, nul);
    const std::string_view text = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

    tokenizer_limits limits;
    limits.max_file_bytes = 1U << 20;
    limits.max_added_tokens = 1000;
    limits.max_input_bytes = 1U << 16;
    limits.model.max_vocab = 50'000;
    limits.model.max_merges = 50'000;
    limits.model.max_token_bytes = 256;
    std::optional<tokenizer> tok;
    try {
        tok.emplace(tokenizer::from_json(json, "tokenizer.json", limits));
    } catch (const text_error&) {
        return 0;
    }
    std::vector<std::string> texts{std::string(text), "Hello world, it's 2026! 中文 😀 \xF0\x9F\x98", "  a  b\r\n\tc"};
    for (const auto& t : texts) {
        for (const bool special : {true, false}) {
            std::vector<token_id> ids;
            try {
                ids = tok->encode(t, special);
            } catch (const text_error&) {
                continue; // a word the model cannot encode: refused, as the reference does
            }
            for (const bool skip : {false, true}) check_streaming(*tok, ids, skip);
        }
    }
    // Ids from the input's bytes, in and past the vocabulary.
    std::vector<token_id> ids;
    for (std::size_t i = 0; i + 1 < text.size() && ids.size() < 256; i += 2)
        ids.push_back(static_cast<token_id>(static_cast<std::uint8_t>(text[i]) | (static_cast<std::uint8_t>(text[i + 1]) << 8)) %
                      static_cast<token_id>(tok->vocab_size() + 3));
    for (const bool skip : {false, true}) check_streaming(*tok, ids, skip);
    return 0;
}
