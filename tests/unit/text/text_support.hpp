#pragma once
// What the text tests share: where the real tokenizer files are
// (../shared/tokenizers beside the checkout), the reference library (the
// Hugging Face `tokenizers` Node bindings, run as a child process by
// tests/text/oracle.mjs), Python for the Jinja2 reference and the assembled
// Llama 3 / Qwen2 files, and the corpus: fixed text plus generated hostile text.

#include "testkit/temp_dir.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tether::text_test {

std::filesystem::path source_dir();
// ../shared/tokenizers; REQUIREs it to exist.
std::filesystem::path shared_tokenizers();
// A scratch directory for this test process (removed at exit).
const std::string& scratch();

struct oracle_job {
    std::string tokenizer_file;         // a tokenizer.json path, or
    std::optional<std::string> tokenizer_json; // its text
    std::vector<std::string> encode;
    std::vector<std::string> encode_bytes; // any bytes; answered after `encode`
    bool add_special_tokens = true;
    std::vector<std::vector<std::uint32_t>> decode;
    bool skip_special_tokens = false;
    bool full = false; // see oracle.mjs: both encodings and both decodings in one run
    std::optional<std::string> timing_text; // encode throughput on this text
    int timing_repeat = 3;
};

struct oracle_answer {
    std::vector<std::vector<std::uint32_t>> ids;
    std::vector<std::string> texts;
    // full: over encode ++ encode_bytes; decoded over with ++ without ++ decode
    std::vector<std::vector<std::uint32_t>> with_special, without_special;
    std::vector<std::string> decoded, decoded_skip;
    double seconds = 0; // timing: the median encode time
    std::size_t bytes = 0;
};

// Runs the reference; REQUIREs it to succeed (with its stderr in the message).
oracle_answer run_oracle(const oracle_job& job);

// Runs Debian's python3 on a script with a JSON file argument; REQUIREs exit 0
// and returns stdout.
std::string run_python(const std::string& script, const std::string& json_input, const std::vector<std::string>& extra_args = {});

// Llama 3 and Qwen2 tokenizer folders built from ../shared (assembled once per process).
std::filesystem::path assembled(const std::string& family);

// The small tokenizers tests/text/make_tokenizers.py trains and writes, one
// per component variant (made once per process): their tokenizer.json paths.
std::vector<std::filesystem::path> project_tokenizers();

// tests/text/corpus.txt line by line and whole, the multilingual inputs of
// ../shared, and `n` deterministic hostile strings mixing scripts, emoji
// sequences, combining marks, odd whitespace, digit runs, contractions in
// every case and the given special tokens.
std::vector<std::string> fixed_corpus();
std::vector<std::string> hostile_corpus(std::uint32_t seed, std::size_t n, const std::vector<std::string>& specials);
// Byte strings that are not UTF-8: stray continuation bytes, truncated and
// overlong sequences, surrogates, code points past U+10FFFF, mixed with text.
std::vector<std::string> invalid_utf8_corpus(std::uint32_t seed, std::size_t n);

std::string quote_json(const std::string& s);

// Compares Tether's tokenizer with the reference on the fixed corpus,
// `hostile` generated strings (with the file's added tokens mixed in) and
// invalid UTF-8: ids with and without special tokens, then decoding of those
// ids and of random ids, keeping and skipping special tokens. CHECKs that
// nothing differs and reports the first differences.
void compare_with_reference(const std::filesystem::path& tokenizer_file, std::uint32_t seed, std::size_t hostile = 400);

} // namespace tether::text_test
