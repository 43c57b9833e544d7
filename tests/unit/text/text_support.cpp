#include "text_support.hpp"

#include "testkit/child_process.hpp"
#include "text/tokenizer.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace tether::text_test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string find_on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::stringstream ss(path ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(ss, dir, ':')) {
        const fs::path p = fs::path(dir) / name;
        std::error_code ec;
        if (fs::is_regular_file(p, ec)) return p.string();
    }
    return {};
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_text(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary);
    out << s;
}

std::string ids_json(const std::vector<std::uint32_t>& ids) {
    std::string s = "[";
    for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
    return s + "]";
}

std::string base64(const std::string& bytes) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const auto v = (std::uint32_t(std::uint8_t(bytes[i])) << 16) | (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8) |
                       std::uint8_t(bytes[i + 2]);
        for (int k = 18; k >= 0; k -= 6) out += alphabet[(v >> k) & 63];
    }
    if (i < bytes.size()) {
        std::uint32_t v = std::uint32_t(std::uint8_t(bytes[i])) << 16;
        if (i + 1 < bytes.size()) v |= std::uint32_t(std::uint8_t(bytes[i + 1])) << 8;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

} // namespace

std::string quote_json(const std::string& s) {
    std::string out = "\"";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += ch;
            }
        }
    }
    return out + "\"";
}

fs::path source_dir() {
    return TETHER_SOURCE_DIR;
}

fs::path shared_tokenizers() {
    const fs::path p = source_dir().parent_path() / "shared" / "tokenizers";
    INFO("the real tokenizer files are expected in " << p.string() << " (../shared beside the checkout)");
    REQUIRE(fs::is_directory(p));
    return p;
}

const std::string& scratch() {
    static testkit::temp_dir dir("tether-text-test-");
    return dir.path();
}

oracle_answer run_oracle(const oracle_job& job) {
    const fs::path script = source_dir() / "tests" / "text" / "oracle.mjs";
    const fs::path modules = source_dir() / "tests" / "text" / "node_modules" / "tokenizers";
    INFO("the reference library is installed by scripts/test.sh (npm ci in tests/text)");
    REQUIRE(fs::is_directory(modules));
    const std::string node = find_on_path("node");
    REQUIRE(!node.empty());
    std::string j = "{";
    if (job.tokenizer_json) j += "\"tokenizer_json\":" + quote_json(*job.tokenizer_json);
    else j += "\"tokenizer\":" + quote_json(job.tokenizer_file);
    j += ",\"add_special_tokens\":" + std::string(job.add_special_tokens ? "true" : "false");
    j += ",\"skip_special_tokens\":" + std::string(job.skip_special_tokens ? "true" : "false");
    j += ",\"encode\":[";
    for (std::size_t i = 0; i < job.encode.size(); ++i) j += (i ? "," : "") + quote_json(job.encode[i]);
    j += "],\"encode_bytes\":[";
    for (std::size_t i = 0; i < job.encode_bytes.size(); ++i) j += (i ? "," : "") + quote_json(base64(job.encode_bytes[i]));
    j += "],\"decode\":[";
    for (std::size_t i = 0; i < job.decode.size(); ++i) j += (i ? "," : "") + ids_json(job.decode[i]);
    j += "]";
    if (job.full) j += ",\"full\":true";
    if (job.timing_text)
        j += ",\"timing\":{\"text\":" + quote_json(*job.timing_text) + ",\"repeat\":" + std::to_string(job.timing_repeat) + "}";
    j += "}";
    static int counter = 0;
    const fs::path job_file = fs::path(scratch()) / ("oracle-" + std::to_string(++counter) + ".json");
    write_text(job_file, j);
    auto r = testkit::run_to_completion({node, script.string(), job_file.string()}, {"RAYON_NUM_THREADS=1"}, scratch(), 300s);
    INFO("oracle: " << r.status.describe() << "\n" << r.err.substr(0, 4000));
    REQUIRE(r.status.exited);
    REQUIRE(r.status.code == 0);
    simdjson::dom::parser p;
    simdjson::dom::element root;
    REQUIRE(!p.parse(r.out).get(root));
    oracle_answer a;
    for (auto list : root["ids"].get_array()) {
        std::vector<std::uint32_t> ids;
        for (auto id : list.get_array()) ids.push_back(static_cast<std::uint32_t>(std::uint64_t(id.get_uint64())));
        a.ids.push_back(std::move(ids));
    }
    for (auto t : root["texts"].get_array()) a.texts.emplace_back(std::string_view(t.get_string()));
    if (job.full) {
        for (auto [key, into] : {std::pair{"with_special", &a.with_special}, std::pair{"without_special", &a.without_special}})
            for (auto list : root[key].get_array()) {
                std::vector<std::uint32_t> ids;
                for (auto id : list.get_array()) ids.push_back(static_cast<std::uint32_t>(std::uint64_t(id.get_uint64())));
                into->push_back(std::move(ids));
            }
        for (auto t : root["decoded"].get_array()) a.decoded.emplace_back(std::string_view(t.get_string()));
        for (auto t : root["decoded_skip"].get_array()) a.decoded_skip.emplace_back(std::string_view(t.get_string()));
    }
    simdjson::dom::element timing;
    if (!root["timing"].get(timing)) {
        a.seconds = double(timing["seconds"].get_double());
        a.bytes = static_cast<std::size_t>(std::uint64_t(timing["bytes"].get_uint64()));
    }
    fs::remove(job_file);
    return a;
}

std::string run_python(const std::string& script, const std::string& json_input, const std::vector<std::string>& extra_args) {
    static int counter = 0;
    const fs::path input = fs::path(scratch()) / ("python-" + std::to_string(++counter) + ".json");
    write_text(input, json_input);
    std::vector<std::string> argv{"/usr/bin/python3", (source_dir() / script).string(), input.string()};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    auto r = testkit::run_to_completion(argv, {}, scratch(), 300s);
    INFO("python3 " << script << ": " << r.status.describe() << "\n" << r.err.substr(0, 4000));
    REQUIRE(r.status.exited);
    REQUIRE(r.status.code == 0);
    fs::remove(input);
    return r.out;
}

fs::path assembled(const std::string& family) {
    static const fs::path out = fs::path(scratch()) / "assembled";
    static bool done = false;
    if (!done) {
        auto r = testkit::run_to_completion(
            {"/usr/bin/python3", (source_dir() / "tests/text/assemble_tokenizers.py").string(),
             shared_tokenizers().string(), out.string()},
            {}, scratch(), 120s);
        INFO(r.err);
        REQUIRE(r.status.code == 0);
        done = true;
    }
    return out / family;
}

std::vector<fs::path> project_tokenizers() {
    static const fs::path out = fs::path(scratch()) / "project-tokenizers";
    static std::vector<fs::path> files;
    if (files.empty()) {
        auto r = testkit::run_to_completion({"/usr/bin/python3", (source_dir() / "tests/text/make_tokenizers.py").string(),
                                             (source_dir() / "tests/text/corpus.txt").string(), out.string()},
                                            {}, scratch(), 120s);
        INFO(r.err);
        REQUIRE(r.status.code == 0);
        simdjson::dom::parser p;
        simdjson::dom::element root;
        REQUIRE(!p.load((out / "index.json").string()).get(root));
        for (auto name : root.get_array()) files.push_back(out / (std::string(std::string_view(name.get_string())) + ".json"));
        REQUIRE(files.size() > 20);
    }
    return files;
}

std::vector<std::string> fixed_corpus() {
    const std::string text = read_text(source_dir() / "tests" / "text" / "corpus.txt");
    std::vector<std::string> out;
    std::stringstream ss(text);
    std::string line;
    while (std::getline(ss, line)) out.push_back(line);
    out.push_back(text);
    out.emplace_back("");
    // The multilingual inputs Python transformers' baselines were made from.
    const fs::path inputs = shared_tokenizers() / "expected/swift-transformers/multilingual_v2/inputs.json";
    simdjson::dom::parser p;
    simdjson::dom::element root;
    REQUIRE(!p.load(inputs.string()).get(root));
    for (auto item : root.get_array()) out.emplace_back(std::string_view(item["text"].get_string()));
    return out;
}

std::vector<std::string> hostile_corpus(std::uint32_t seed, std::size_t n, const std::vector<std::string>& specials) {
    static const std::vector<std::string> fragments = {
        "hello", "Hello", "HELLO", "world", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r\n\r\n", "\r",
        "\xC2\xA0", "\xC2\x85", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE3\x80\x80", "\xE2\x80\x8B", "\xEF\xBB\xBF",
        "'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'Ll", "'d", "'D",
        "don't", "DON'T", "y'all", "0", "12", "123", "1234", "12345678901234567890", "3.14", "1,000", "٣٤٥", "１２３",
        "中文", "漢字", "日本語", "カタカナ", "ﾊﾝｶｸ", "한국어", "ไทย", "العربية", "עברית", "हिन्दी", "Ελληνικά", "Привет",
        "😀", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇩🇪", "❤️", "1️⃣", "\xE2\x80\x8D", "\xEF\xB8\x8F",
        "e\xCC\x81", "a\xCC\x88\xCC\x81", "\xC3\xA9", "\xEF\xAC\x81", "\xE2\x91\xA0", "\xE2\x85\xAB", "\xC2\xBD",
        "\xCC\x81", "\xCC\x81\xCC\x82\xCC\x83", "İ", "ı", "ß", "ẞ", "Σ", "ς", "ǅ", "ﬀ", "ｈａｌｆ",
        "!", "?", "...", "—", "–", "\"", "'", "`", "«»", "()", "[]", "{}", "<>", "@#$%^&*", "_", "__init__", "->",
        "<", ">", "</", "/>", "<s>", "</s>", "<unk>", "[CLS]", "<|", "|>", "<<", ">>", "▁", "▁▁", "Ġ", "Ċ",
        "\x01", "\x07", "\x1B[31m", "\x7F", "\xC2\x80", "\xEF\xBF\xBD", "\xF0\x9F\xA7\xAA", "\xF4\x8F\xBF\xBF",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ababababababababab", "x", "Q", "z",
        "https://example.com/a?b=c", "foo.bar_baz-qux", "snake_case", "camelCaseWord", "UPPER_CASE"};
    std::mt19937 rng(seed);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t parts = 1 + rng() % 24;
        std::string s;
        for (std::size_t k = 0; k < parts; ++k) {
            if (!specials.empty() && rng() % 9 == 0) s += specials[rng() % specials.size()];
            else s += fragments[rng() % fragments.size()];
        }
        out.push_back(std::move(s));
    }
    // Long runs: one Metaspace word of thousands of characters, many spaces.
    out.push_back(std::string(3000, 'a'));
    out.push_back(std::string(500, ' ') + "x" + std::string(500, ' '));
    std::string mixed;
    for (int k = 0; k < 400; ++k) mixed += fragments[static_cast<std::size_t>(k * 7) % fragments.size()];
    out.push_back(mixed);
    return out;
}

std::vector<std::string> invalid_utf8_corpus(std::uint32_t seed, std::size_t n) {
    static const std::vector<std::string> bad = {
        "\x80", "\xBF", "\x80\x80\x80", "\xC0\xAF", "\xC1\xBF", "\xE0\x80\xAF", "\xF0\x80\x80\xAF", // overlong
        "\xC3", "\xE2\x82", "\xF0\x9F\x98", "\xF0\x9F",                                               // truncated
        "\xED\xA0\x80", "\xED\xBF\xBF", "\xED\xA0\xBD\xED\xB8\x80",                                 // surrogates
        "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xF8\x88\x80\x80\x80", "\xFE", "\xFF", "\xFF\xFE", // past U+10FFFF
        "\xE2\x28\xA1", "\xC3\x28", "\xF0\x28\x8C\xBC", "\xEF\xBB", std::string(1, '\0')};
    static const std::vector<std::string> good = {"hello", " ", "world", "'s", "中文", "😀", "é", "\n", "12", "▁", "<s>", "  "};
    std::mt19937 rng(seed);
    std::vector<std::string> out;
    for (const auto& b : bad) out.push_back(b);
    for (std::size_t i = 0; i < n; ++i) {
        std::string s;
        const std::size_t parts = 1 + rng() % 12;
        for (std::size_t k = 0; k < parts; ++k) s += (rng() % 2 ? bad[rng() % bad.size()] : good[rng() % good.size()]);
        out.push_back(std::move(s));
    }
    return out;
}

namespace {

std::vector<std::string> added_contents(const fs::path& file) {
    simdjson::dom::parser p;
    simdjson::dom::element root;
    REQUIRE(!p.load(file.string()).get(root));
    std::vector<std::string> out;
    simdjson::dom::array list;
    if (root["added_tokens"].get(list)) return out;
    for (auto t : list) out.emplace_back(std::string_view(t["content"].get_string()));
    return out;
}

std::string show(const std::string& s) {
    return quote_json(s.size() > 300 ? s.substr(0, 300) + "…" : s);
}

std::string show(const std::vector<std::uint32_t>& ids) {
    std::ostringstream o;
    o << '[';
    for (std::size_t i = 0; i < ids.size() && i < 60; ++i) o << (i ? "," : "") << ids[i];
    if (ids.size() > 60) o << ",…(" << ids.size() << ")";
    o << ']';
    return o.str();
}

} // namespace

void compare_with_reference(const fs::path& file, std::uint32_t seed, std::size_t hostile_count) {
    INFO("tokenizer " << file.string());
    const auto tok = agent::text::tokenizer::from_file(file);
    auto texts = fixed_corpus();
    auto hostile = hostile_corpus(seed, hostile_count, added_contents(file));
    texts.insert(texts.end(), hostile.begin(), hostile.end());
    const auto invalid = invalid_utf8_corpus(seed, 60);

    std::vector<std::vector<std::uint32_t>> random_ids;
    std::mt19937 rng(seed);
    const auto vocab = static_cast<std::uint32_t>(tok.vocab_size());
    for (int k = 0; k < 60; ++k) {
        std::vector<std::uint32_t> ids;
        const int n = 1 + static_cast<int>(rng() % 40);
        for (int i = 0; i < n; ++i) ids.push_back(rng() % vocab);
        random_ids.push_back(std::move(ids));
    }

    oracle_job job;
    job.tokenizer_file = file.string();
    job.encode = texts;
    job.encode_bytes = invalid;
    job.decode = random_ids;
    job.full = true;
    const auto ref = run_oracle(job);
    const std::size_t n = texts.size() + invalid.size();
    REQUIRE(ref.with_special.size() == n);
    REQUIRE(ref.without_special.size() == n);
    REQUIRE(ref.decoded.size() == 2 * n + random_ids.size());
    REQUIRE(ref.decoded_skip.size() == ref.decoded.size());

    std::vector<const std::vector<std::uint32_t>*> decode_inputs;
    for (const bool special : {true, false}) {
        const auto& expected = special ? ref.with_special : ref.without_special;
        std::size_t failures = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const auto& text = i < texts.size() ? texts[i] : invalid[i - texts.size()];
            decode_inputs.push_back(&expected[i]);
            const auto ours = tok.encode(text, special);
            if (ours == expected[i]) continue;
            if (++failures <= 5) {
                std::size_t at = 0;
                while (at < ours.size() && at < expected[i].size() && ours[at] == expected[i][at]) ++at;
                UNSCOPED_INFO("add_special_tokens=" << special << " text " << i << " " << show(text)
                                                    << "\n  first difference at id " << at << "\n  ours      "
                                                    << show(ours) << "\n  reference " << show(expected[i]));
            }
        }
        CHECK(failures == 0);
    }
    for (const auto& ids : random_ids) decode_inputs.push_back(&ids);
    for (const bool skip : {false, true}) {
        const auto& expected = skip ? ref.decoded_skip : ref.decoded;
        std::size_t failures = 0;
        for (std::size_t i = 0; i < decode_inputs.size(); ++i) {
            const auto ours = tok.decode(*decode_inputs[i], skip);
            if (ours == expected[i]) continue;
            if (++failures <= 5)
                UNSCOPED_INFO("decode skip_special=" << skip << " ids " << show(*decode_inputs[i]) << "\n  ours      "
                                                     << show(ours) << "\n  reference " << show(expected[i]));
        }
        CHECK(failures == 0);
    }
}

} // namespace tether::text_test
