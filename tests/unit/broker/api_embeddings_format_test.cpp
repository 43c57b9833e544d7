#include "api/embeddings_format.hpp"

#include "tether/shared/base64.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <cstring>

using namespace tether::broker::api;
using Catch::Matchers::Contains;

namespace {

std::string bad(std::string_view body) {
    openai_error err;
    auto r = parse_embeddings_request(body, err);
    REQUIRE_FALSE(r);
    CHECK(err.status == boost::beast::http::status::bad_request);
    return err.message;
}

std::string rows_of(const std::vector<float>& v) {
    std::string s(v.size() * 4, '\0');
    std::memcpy(s.data(), v.data(), s.size());
    return s;
}

} // namespace

TEST_CASE("embeddings: a string or a list of strings becomes the agent's params.input", "[openai][embeddings]") {
    openai_error err;
    auto one = parse_embeddings_request(R"({"model":"e","input":"héllo","user":"u1"})", err);
    REQUIRE(one);
    CHECK(one->model == "e");
    CHECK(one->inputs == 1);
    CHECK_FALSE(one->base64);
    CHECK(one->params_json == R"({"task":"embeddings","input":["héllo"]})");
    auto many = parse_embeddings_request(R"({"model":"e","input":["a","b\n"],"encoding_format":"base64","dimensions":64})", err);
    REQUIRE(many);
    CHECK(many->inputs == 2);
    CHECK(many->base64);
    CHECK(many->params_json == R"({"task":"embeddings","input":["a","b\n"],"dimensions":64})");
}

TEST_CASE("embeddings: what cannot be served is refused naming the field", "[openai][embeddings]") {
    CHECK_THAT(bad(R"({"input":"x"})"), Contains("'model'"));
    CHECK_THAT(bad(R"({"model":"e"})"), Contains("'input' is required"));
    CHECK_THAT(bad(R"({"model":"e","input":""})"), Contains("empty string"));
    CHECK_THAT(bad(R"({"model":"e","input":[]})"), Contains("empty array"));
    CHECK_THAT(bad(R"({"model":"e","input":["a",""]})"), Contains("'input[1]' cannot be an empty string"));
    CHECK_THAT(bad(R"({"model":"e","input":["a",7]})"), Contains("token ids"));
    CHECK_THAT(bad(R"({"model":"e","input":[[1,2]]})"), Contains("token ids"));
    CHECK_THAT(bad(R"({"model":"e","input":{"a":1}})"), Contains("a string or an array"));
    CHECK_THAT(bad(R"({"model":"e","input":"x","encoding_format":"int8"})"), Contains("encoding_format"));
    CHECK_THAT(bad(R"({"model":"e","input":"x","dimensions":0})"), Contains("dimensions"));
    CHECK_THAT(bad(R"({"model":"e","input":"x","dimensions":1.5})"), Contains("dimensions"));
    CHECK_THAT(bad("[1]"), Contains("JSON object"));
    CHECK_THAT(bad("{"), Contains("not valid JSON"));
    std::string many = R"({"model":"e","input":[)";
    for (int i = 0; i < 2049; ++i) many += i ? ",\"x\"" : "\"x\"";
    CHECK_THAT(bad(many + "]}"), Contains("2049 items; at most 2048"));
}

TEST_CASE("embeddings: the agent's rows become OpenAI's list, as floats or base64", "[openai][embeddings]") {
    const auto r = read_embeddings_result(
        R"({"result":{"output":"2 embeddings","count":2,"dimensions":3,"usage":{"prompt_tokens":9,"total_tokens":9},)"
        R"("files":[{"blob":4,"name":"embeddings.f32","mime":"application/octet-stream","size":24}]}})");
    REQUIRE(r.has_file);
    CHECK(r.blob == 4);
    CHECK(r.count == 2);
    CHECK(r.dimensions == 3);
    CHECK(r.prompt_tokens == 9);
    const std::vector<float> v{0.1F, -2.5F, 3e-8F, 1.0F, 0.0F, -0.333333F};
    const auto json = embeddings_response_json(r, rows_of(v), "e", false);
    REQUIRE(json);
    simdjson::dom::parser p;
    simdjson::dom::element root;
    REQUIRE(!p.parse(*json).get(root));
    CHECK(std::string_view(root["object"].get_string()) == "list");
    CHECK(std::string_view(root["model"].get_string()) == "e");
    CHECK(std::uint64_t(root["usage"]["prompt_tokens"].get_uint64()) == 9);
    auto data = root["data"].get_array();
    REQUIRE(data.size() == 2);
    std::size_t k = 0;
    for (auto d : data) {
        CHECK(std::uint64_t(d["index"].get_uint64()) == k / 3);
        for (auto x : d["embedding"].get_array()) CHECK(static_cast<float>(double(x.get_double())) == v[k++]);
    }
    CHECK_THAT(*json, Contains("0.1,")); // the shortest text of the float, not of the double it widens to
    const auto b64 = embeddings_response_json(r, rows_of(v), "e", true);
    REQUIRE(b64);
    simdjson::dom::element broot;
    REQUIRE(!p.parse(*b64).get(broot));
    const auto first = tether::base64_decode(std::string_view(broot["data"].at(0)["embedding"].get_string()));
    REQUIRE(first);
    CHECK(*first == rows_of(v).substr(0, 12));
    // Rows that do not match count x dimensions are not answered.
    CHECK_FALSE(embeddings_response_json(r, rows_of(v).substr(4), "e", false));
    CHECK_FALSE(read_embeddings_result(R"({"result":{"output":"x"}})").has_file);
}

TEST_CASE("embeddings: counts and sizes from the agent are bounded before use", "[openai][embeddings]") {
    // 2^62 rows of 4 dimensions would wrap count x dimensions x 4 to 0.
    const auto r = read_embeddings_result(
        R"({"result":{"count":4611686018427387904,"dimensions":4,"files":[{"blob":1,"name":"embeddings.f32","size":0}]}})");
    CHECK(r.count == 0);
    CHECK_FALSE(embeddings_response_json(r, "", "e", false));
    embeddings_result forged;
    forged.has_file = true;
    forged.count = 1ULL << 62;
    forged.dimensions = 4;
    CHECK_FALSE(embeddings_response_json(forged, "", "e", false));
    const auto wide = read_embeddings_result(R"({"result":{"count":1,"dimensions":70000}})");
    CHECK(wide.dimensions == 0);
}
