// Tether's tokenizers against the reference, the Hugging Face `tokenizers`
// library itself (its Node bindings), on the real tokenizer.json files of
// every family in ../shared/tokenizers (Llama 3 and Qwen2 assembled from
// their vocabularies): ids with and without special tokens, and decoded text
// with and without them, on a fixed multilingual corpus and on generated
// hostile text; then decoding of random id sequences. Then the same for small
// tokenizers the project trains, one per component variant.
#include "text_support.hpp"

#include "text/tokenizer.hpp"

#include <catch2/catch.hpp>

using namespace tether;
using namespace tether::text_test;
namespace fs = std::filesystem;

namespace {

void compare(const fs::path& file, std::uint32_t seed) {
    compare_with_reference(file, seed);
}

fs::path shared(const std::string& rel) {
    return shared_tokenizers() / rel;
}

} // namespace

TEST_CASE("GPT-2 (byte-level BPE) encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("gpt2/tokenizer.json"), 1);
}
TEST_CASE("RoBERTa (byte-level BPE, RobertaProcessing) encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("roberta/tokenizer.json"), 2);
}
TEST_CASE("BERT base uncased (WordPiece, BertNormalizer) encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("bert/tokenizer.json"), 3);
}
TEST_CASE("all-MiniLM-L6-v2 (WordPiece) encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("bert/all-MiniLM-L6-v2.tokenizer.json"), 4);
}
TEST_CASE("Llama 2 chat (BPE byte fallback, Prepend and Replace) encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("llama2/llama-2-7b-chat/tokenizer.json"), 5);
}
TEST_CASE("TinyLlama (merges as pairs) encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("llama2/tinyllama-1.1b-chat-v1.0/tokenizer.json"), 6);
}
TEST_CASE("Mistral 7B (Metaspace prepend first) encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("mistral-7b-v0.1/tokenizer.json"), 7);
}
TEST_CASE("Phi-3 mini 4k (added tokens with rstrip) encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("phi3/phi-3-mini-4k-instruct/tokenizer.json"), 8);
}
TEST_CASE("Phi-3 mini 128k encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("phi3/phi-3-mini-128k-instruct/tokenizer.json"), 9);
}
TEST_CASE("T5 (Unigram, Precompiled charsmap) encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("t5/tokenizer.json"), 10);
}
TEST_CASE("Whisper base (1608 added tokens) encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("whisper/whisper-base/tokenizer.json"), 11);
}
TEST_CASE("Whisper large v3 encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("whisper/whisper-large-v3/tokenizer.json"), 12);
}
TEST_CASE("CLIP (BPE end_of_word_suffix, NFC, Lowercase) encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("extras/clip-vit-base-patch32/tokenizer.json"), 13);
}
TEST_CASE("Phi-2 (non-special whitespace added tokens) encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("extras/phi-2/tokenizer.json"), 14);
}
TEST_CASE("Falcon 7B (Punctuation, Digits, Split) encodes and decodes as the reference", "[text][oracle]") {
    compare(shared("extras/falcon-7b/tokenizer.json"), 15);
}
TEST_CASE("Llama 3 (assembled: Split regex, ignore_merges) encodes and decodes as the reference", "[text][oracle]") {
    compare(assembled("llama3") / "tokenizer.json", 16);
}
TEST_CASE("Qwen2 (assembled: NFC, Split regex) encodes and decodes as the reference", "[text][oracle]") {
    compare(assembled("qwen2") / "tokenizer.json", 17);
}

TEST_CASE("Tokenizers the project trains, one per component variant, encode and decode as the reference",
          "[text][oracle]") {
    std::uint32_t seed = 100;
    for (const auto& file : project_tokenizers()) compare_with_reference(file, ++seed, 200);
}
