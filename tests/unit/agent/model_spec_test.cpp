// The sidecar contract of docs/models.md: every task's members, defaults, and a
// message naming the member for every mistake.

#include "backends/model/model_spec.hpp"

#include <catch2/catch.hpp>

using namespace tether::agent;

namespace {

model_spec ok(const std::string& json) {
    auto r = parse_model_spec(json, "stem");
    INFO(r.error);
    REQUIRE(r.spec);
    return *r.spec;
}

std::string error_of(const std::string& json) {
    auto r = parse_model_spec(json, "stem");
    REQUIRE_FALSE(r.spec);
    return r.error;
}

} // namespace

TEST_CASE("a text-generation sidecar gives context, vocabulary, sampling defaults and limits", "[spec]") {
    auto s = ok(R"({"name":"tiny-lm","task":"text-generation","input":{"context":64},"output":{"vocab":256},
                   "generation":{"max_tokens":50,"temperature":0.5,"top_k":10},
                   "limits":{"max_prompt_bytes":100,"max_tokens":300}})");
    CHECK(s.name == "tiny-lm");
    CHECK(s.task == model_task::text_generation);
    CHECK(s.context == 64);
    CHECK(s.vocab == 256);
    CHECK(s.generation.max_tokens == 50);
    CHECK(s.generation.temperature == 0.5);
    CHECK(s.generation.top_k == 10);
    CHECK(s.max_prompt_bytes == 100);
    CHECK(s.max_tokens_limit == 300);
    CHECK_FALSE(s.batchable());
}

TEST_CASE("a sidecar without a name takes the file's stem and defaults for what it leaves out", "[spec]") {
    auto s = ok(R"({"task":"text-generation"})");
    CHECK(s.name == "stem");
    CHECK(s.context == 128);
    CHECK(s.generation.max_tokens == 200);
    CHECK(model_stem("models/tiny-lm.pt") == "tiny-lm");
    CHECK(sidecar_path_for("models/tiny-lm.pt") == "models/tiny-lm.json");
    CHECK(sidecar_path_for("models/weights.bin") == "models/weights.bin.json");
}

TEST_CASE("classification sidecars declare text, audio or image input and their labels", "[spec]") {
    auto text = ok(R"({"task":"classification","input":{"kind":"text","length":32},"output":{"labels":["a","b"],"top":1}})");
    CHECK(text.kind == input_kind::text);
    CHECK(text.length == 32);
    CHECK(text.labels == std::vector<std::string>{"a", "b"});
    CHECK(text.top == 1);
    CHECK(text.batchable());

    auto audio = ok(R"({"task":"classification","input":{"kind":"audio","sample_rate":8000,"samples":4000},
                       "output":{"labels":["x"]}})");
    CHECK(audio.kind == input_kind::audio);
    CHECK(audio.sample_rate == 8000);
    CHECK(audio.samples == 4000);

    auto image = ok(R"({"task":"classification","input":{"kind":"image","width":28,"height":20,"mean":[0.5,0.5,0.5],
                       "std":[0.25,0.25,0.25]},"output":{"labels":["cat","dog"]},"limits":{"max_pixels":1000}})");
    CHECK(image.width == 28);
    CHECK(image.height == 20);
    CHECK(image.mean == std::vector<double>{0.5, 0.5, 0.5});
    CHECK(image.std == std::vector<double>{0.25, 0.25, 0.25});
    CHECK(image.max_pixels == 1000);
}

TEST_CASE("audio, image and tensor sidecars", "[spec]") {
    auto audio = ok(R"({"task":"audio","input":{"sample_rate":16000},"limits":{"max_seconds":5}})");
    CHECK(audio.sample_rate == 16000);
    CHECK(audio.output_sample_rate == 16000);
    CHECK(audio.max_seconds == 5);

    auto image = ok(R"({"task":"image","output":{"scale":2},"limits":{"max_width":64,"max_height":32}})");
    CHECK(image.scale == 2);
    CHECK(image.max_width == 64);
    CHECK(image.max_height == 32);

    auto tensor = ok(R"({"task":"tensor","input":{"shape":[-1,4],"dtype":"int64"},"output":{"shape":[2]}})");
    CHECK(tensor.input_shape == std::vector<std::int64_t>{-1, 4});
    CHECK(tensor.output_shape == std::vector<std::int64_t>{2});
    CHECK(tensor.dtype == tensor_dtype::int64);
}

TEST_CASE("every sidecar mistake is refused with a message naming the member", "[spec]") {
    CHECK(error_of("not json").find("not valid JSON") != std::string::npos);
    CHECK(error_of("[1]") == "expected a JSON object");
    CHECK(error_of("{}") == "task: required");
    CHECK(error_of(R"({"task":"translate"})").find("task: 'translate' is not one of") == 0);
    CHECK(error_of(R"({"task":"text-generation","input":{"context":0}})").find("input.context: expected a whole number") == 0);
    CHECK(error_of(R"({"task":"text-generation","output":{"vocab":50000}})").find("output.vocab") == 0);
    CHECK(error_of(R"({"task":"text-generation","generation":{"temperature":"hot"}})").find("generation.temperature") == 0);
    CHECK(error_of(R"({"task":"text-generation","input":3})") == "input: expected an object");
    CHECK(error_of(R"({"task":"classification","input":{"kind":"text"}})").find("output.labels: required") == 0);
    CHECK(error_of(R"({"task":"classification","input":{"kind":"smell"},"output":{"labels":["a"]}})").find("input.kind") == 0);
    CHECK(error_of(R"({"task":"classification","input":{"kind":"audio","samples":5},"output":{"labels":["a"]}})") ==
          "input.sample_rate: required");
    CHECK(error_of(R"({"task":"classification","input":{"kind":"image","width":4,"height":4,"mean":[1]},"output":{"labels":["a"]}})")
              .find("input.mean: expected an array of 3 numbers") == 0);
    CHECK(error_of(R"({"task":"classification","input":{"kind":"image","width":4,"height":4,"std":[1,0,1]},"output":{"labels":["a"]}})") ==
          "input.std: must not be 0");
    CHECK(error_of(R"({"task":"audio"})") == "input.sample_rate: required");
    CHECK(error_of(R"({"task":"image","output":{"scale":0}})").find("output.scale") == 0);
    CHECK(error_of(R"({"task":"tensor","output":{"shape":[1]}})").find("input.shape: required") == 0);
    CHECK(error_of(R"({"task":"tensor","input":{"shape":[0]},"output":{"shape":[1]}})").find("input.shape") == 0);
    CHECK(error_of(R"({"task":"tensor","input":{"shape":[1],"dtype":"bf16"},"output":{"shape":[1]}})").find("input.dtype") == 0);
    CHECK(error_of(R"({"task":"tensor","name":"","input":{"shape":[1]},"output":{"shape":[1]}})").find("name") == 0);
}
