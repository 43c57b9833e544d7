// `tether-agent tokenize DIR`: what operators run to check a model folder.
// Ids on stdout for text on stdin, --decode, --chat [--ids], and exit status
// 2 with the file and JSON path named for a folder that cannot be used.
#include "app/tokenize_command.hpp"

#include "testkit/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace tether;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

struct run {
    int status;
    std::string out, err;
};

run tokenize(std::vector<std::string> args, const std::string& input) {
    args.insert(args.begin(), "tokenize");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    std::istringstream in(input);
    std::ostringstream out, err;
    const int status = agent::tokenize_command(static_cast<int>(argv.size()), argv.data(), in, out, err);
    return {status, out.str(), err.str()};
}

std::string tinyllama() {
    const fs::path p = fs::path(TETHER_SOURCE_DIR).parent_path() / "shared/tokenizers/llama2/tinyllama-1.1b-chat-v1.0";
    REQUIRE(fs::is_directory(p));
    return p.string();
}

} // namespace

TEST_CASE("tokenize prints ids, with and without the special tokens", "[agent][tokenize]") {
    auto r = tokenize({tinyllama()}, "Hello, world!");
    CHECK(r.status == 0);
    CHECK(r.out == "[1,15043,29892,3186,29991]\n"); // <s> ▁Hello , ▁world !
    r = tokenize({tinyllama(), "--no-special"}, "Hello, world!");
    CHECK(r.out == "[15043,29892,3186,29991]\n");
}

TEST_CASE("tokenize --decode prints the text of ids", "[agent][tokenize]") {
    auto r = tokenize({tinyllama(), "--decode"}, "[1, 15043, 29892, 3186, 29991]");
    CHECK(r.status == 0);
    CHECK(r.out == "<s> Hello, world!");
    r = tokenize({tinyllama(), "--decode", "--skip-special"}, "[1, 15043, 29892, 3186, 29991]");
    CHECK(r.out == "Hello, world!");
    r = tokenize({tinyllama(), "--decode"}, "[1, \"x\"]");
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Contains("whole number"));
}

TEST_CASE("tokenize --chat renders the folder's template, and --ids encodes it once", "[agent][tokenize]") {
    auto r = tokenize({tinyllama(), "--chat"}, R"([{"role":"user","content":"Hi"}])");
    CHECK(r.status == 0);
    CHECK(r.out == "<|user|>\nHi</s>\n<|assistant|>\n");
    r = tokenize({tinyllama(), "--chat", "--no-generation-prompt"}, R"([{"role":"user","content":"Hi"}])");
    CHECK(r.out == "<|user|>\nHi</s>\n");
    r = tokenize({tinyllama(), "--chat", "--ids"}, R"([{"role":"user","content":"Hi"}])");
    CHECK(r.status == 0);
    CHECK(r.out.rfind("[529,29989,1792", 0) == 0); // no BOS added to the rendered prompt
    r = tokenize({tinyllama(), "--chat"}, "not json");
    CHECK(r.status == 2);
}

TEST_CASE("a folder tokenize cannot use exits 2 and names the file and the JSON path", "[agent][tokenize]") {
    testkit::temp_dir dir("tether-tokenize-");
    auto r = tokenize({dir.path()}, "x");
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Contains("no tokenizer.json"));

    {
        std::ofstream f(fs::path(dir.path()) / "tokenizer.json");
        f << R"({"version":"1.0","model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Mystery"}]}})";
    }
    r = tokenize({dir.path()}, "x");
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Contains("tokenizer.json") && Contains("pre_tokenizer.pretokenizers[0].type") && Contains("Mystery"));

    {
        std::ofstream f(fs::path(dir.path()) / "tokenizer.json");
        f << R"({"version":"1.0","model":{"type":"BPE","vocab":{"a":0},"merges":[]}})";
        std::ofstream c(fs::path(dir.path()) / "tokenizer_config.json");
        c << R"({"chat_template":"{% for m in messages %}{{ m.content | no_such_filter }}{% endfor %}"})";
    }
    r = tokenize({dir.path()}, "a");
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Contains("chat_template") && Contains(":1:") && Contains("no_such_filter"));

    fs::remove(fs::path(dir.path()) / "tokenizer_config.json");
    r = tokenize({dir.path(), "--chat"}, "[]");
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Contains("no chat template"));
    r = tokenize({dir.path(), "--ids"}, "a");
    CHECK(r.status == 2);
}
