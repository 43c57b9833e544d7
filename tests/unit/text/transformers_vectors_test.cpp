// Tether's tokenizers against encodings Python transformers produced
// (../shared/tokenizers/expected/swift-transformers: made by the
// swift-transformers project with transformers 4.x, stored, not recomputed):
// ids and token strings for every vector whose tokenizer file is here. A
// second, independent reference beside the live Node bindings.
#include "text_support.hpp"

#include "text/tokenizer.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <map>

using namespace tether;
using namespace tether::text_test;
namespace fs = std::filesystem;

namespace {

struct vector_case {
    std::string label;
    std::string text;
    std::vector<std::uint32_t> ids;
    std::vector<std::string> tokens; // empty when the file has none
};

std::vector<std::uint32_t> ids_of(simdjson::dom::element list) {
    std::vector<std::uint32_t> out;
    for (auto id : list.get_array()) out.push_back(static_cast<std::uint32_t>(std::uint64_t(id.get_uint64())));
    return out;
}

std::vector<std::string> strings_of(simdjson::dom::element list) {
    std::vector<std::string> out;
    for (auto s : list.get_array()) out.emplace_back(std::string_view(s.get_string()));
    return out;
}

fs::path vectors(const std::string& rel) {
    return shared_tokenizers() / "expected" / "swift-transformers" / rel;
}

// {"text", "token_ids", "bpe_tokens"}: one long French text.
std::vector<vector_case> single(const std::string& file) {
    simdjson::dom::parser p;
    simdjson::dom::element root;
    REQUIRE(!p.load(vectors(file).string()).get(root));
    vector_case c{file, std::string(std::string_view(root["text"].get_string())), ids_of(root["token_ids"]), {}};
    return {c};
}

// multilingual_v1: entries keyed by the ids of inputs.json.
std::vector<vector_case> multilingual_v1(const std::string& file) {
    simdjson::dom::parser pi, pe;
    simdjson::dom::element inputs, root;
    REQUIRE(!pi.load(vectors("multilingual_v1/inputs.json").string()).get(inputs));
    REQUIRE(!pe.load(vectors("multilingual_v1/" + file).string()).get(root));
    std::vector<vector_case> out;
    for (auto in : inputs["inputs"].get_array()) {
        const std::string id(std::string_view(in["id"].get_string()));
        simdjson::dom::element e;
        REQUIRE(!root["entries"][id].get(e));
        out.push_back({file + " " + id, std::string(std::string_view(in["text"].get_string())), ids_of(e["input_ids"]),
                       strings_of(e["tokens"])});
    }
    return out;
}

// multilingual_v2: a list of entries with ids matching inputs.json.
std::vector<vector_case> multilingual_v2(const std::string& file) {
    simdjson::dom::parser pi, pe;
    simdjson::dom::element inputs, root;
    REQUIRE(!pi.load(vectors("multilingual_v2/inputs.json").string()).get(inputs));
    REQUIRE(!pe.load(vectors("multilingual_v2/" + file).string()).get(root));
    std::map<std::string, std::string> text_of;
    for (auto in : inputs.get_array())
        text_of[std::string(std::string_view(in["id"].get_string()))] = std::string(std::string_view(in["text"].get_string()));
    std::vector<vector_case> out;
    for (auto e : root["entries"].get_array()) {
        const std::string id(std::string_view(e["id"].get_string()));
        REQUIRE(text_of.count(id) == 1);
        out.push_back({file + " " + id, text_of[id], ids_of(e["input_ids"]), strings_of(e["tokens"])});
    }
    REQUIRE(out.size() == text_of.size());
    return out;
}

// tokenizer_tests.json: short inputs per model id.
std::vector<vector_case> short_inputs(const std::string& model) {
    simdjson::dom::parser p;
    simdjson::dom::element root;
    REQUIRE(!p.load(vectors("tokenizer_tests.json").string()).get(root));
    std::vector<vector_case> out;
    for (auto e : root[model].get_array())
        out.push_back({model + " " + std::string(std::string_view(e["input"].get_string())),
                       std::string(std::string_view(e["input"].get_string())), ids_of(e["encoded"]["input_ids"]), {}});
    REQUIRE(!out.empty());
    return out;
}

void check(const fs::path& tokenizer_file, const std::vector<vector_case>& cases) {
    INFO("tokenizer " << tokenizer_file.string());
    const auto tok = agent::text::tokenizer::from_file(tokenizer_file);
    std::size_t failures = 0;
    for (const auto& c : cases) {
        const auto ours = tok.encode(c.text, true);
        bool same = ours == c.ids;
        if (same && !c.tokens.empty()) {
            for (std::size_t i = 0; i < ours.size(); ++i) same = same && tok.id_to_token(ours[i]) == c.tokens[i];
        }
        if (!same && ++failures <= 5) {
            std::string o, r;
            for (auto id : ours) o += std::to_string(id) + ",";
            for (auto id : c.ids) r += std::to_string(id) + ",";
            UNSCOPED_INFO(c.label << "\n  text " << quote_json(c.text.substr(0, 200)) << "\n  ours         [" << o
                                  << "]\n  transformers [" << r << "]");
        }
    }
    CHECK(failures == 0);
    CHECK(cases.size() > 0);
}

fs::path shared(const std::string& rel) {
    return shared_tokenizers() / rel;
}

} // namespace

TEST_CASE("GPT-2 matches the transformers vectors", "[text][vectors]") {
    const auto file = shared("gpt2/tokenizer.json");
    check(file, single("gpt2_encoded_tokens.json"));
    check(file, multilingual_v1("openai-community__gpt2.json"));
    check(file, multilingual_v2("gpt2_multilingual.json"));
    check(file, short_inputs("distilgpt2"));
}

TEST_CASE("RoBERTa and BART match the transformers vectors", "[text][vectors]") {
    const auto file = shared("roberta/tokenizer.json");
    check(file, multilingual_v2("roberta_base_multilingual.json"));
    check(file, single("bart_large_mnli.json")); // BART large shares RoBERTa's vocabulary and processor
}

TEST_CASE("BERT uncased and BGE small match the transformers vectors", "[text][vectors]") {
    const auto file = shared("bert/tokenizer.json");
    check(file, single("bert_uncased_encoded.json"));
    check(file, short_inputs("bert-base-uncased"));
    check(file, short_inputs("google-bert/bert-base-uncased"));
    // BAAI/bge-small-en-v1.5 ships bert-base-uncased's vocabulary and pipeline.
    check(file, multilingual_v1("BAAI__bge-small-en-v1.5.json"));
    check(file, multilingual_v2("bge_small_multilingual.json"));
}

TEST_CASE("Llama 2 and TinyLlama match the transformers vectors", "[text][vectors]") {
    check(shared("llama2/llama-2-7b-chat/tokenizer.json"), single("llama_encoded.json"));
    check(shared("llama2/llama-2-7b-chat/tokenizer.json"), short_inputs("coreml-projects/Llama-2-7b-chat-coreml"));
    const auto tiny = shared("llama2/tinyllama-1.1b-chat-v1.0/tokenizer.json");
    check(tiny, multilingual_v1("TinyLlama__TinyLlama-1.1B-Chat-v1.0.json"));
    check(tiny, multilingual_v2("tinyllama_multilingual.json"));
}

TEST_CASE("T5 matches the transformers vectors", "[text][vectors]") {
    const auto file = shared("t5/tokenizer.json"); // t5-small and t5-base share one tokenizer
    check(file, single("t5_base_encoded.json"));
    check(file, short_inputs("t5-base"));
    check(file, multilingual_v1("google-t5__t5-small.json"));
    check(file, multilingual_v2("t5_small_multilingual.json"));
}

TEST_CASE("Falcon matches the transformers vectors", "[text][vectors]") {
    const auto file = shared("extras/falcon-7b/tokenizer.json");
    check(file, single("falcon_encoded.json"));
    check(file, short_inputs("tiiuae/falcon-7b"));
}

TEST_CASE("Whisper multilingual matches the transformers vectors", "[text][vectors]") {
    // whisper-large-v2 uses the multilingual tokenizer of whisper-base.
    const auto file = shared("whisper/whisper-base/tokenizer.json");
    check(file, single("whisper_large_v2_encoded.json"));
    check(file, short_inputs("openai/whisper-large-v2"));
}

TEST_CASE("Llama 3.2 and Qwen2.5 (assembled) match the transformers vectors", "[text][vectors]") {
    check(assembled("llama3") / "tokenizer.json", single("llama_3.2_encoded.json"));
    check(assembled("llama3") / "tokenizer.json", short_inputs("pcuenq/Llama-3.2-1B-Instruct-tokenizer"));
    check(assembled("qwen2") / "tokenizer.json", multilingual_v1("Qwen__Qwen2.5-0.5B.json"));
    check(assembled("qwen2") / "tokenizer.json", multilingual_v2("qwen2_5_multilingual.json"));
}
