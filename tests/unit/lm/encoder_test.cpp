// Encoders (BERT, RoBERTa, XLM-RoBERTa, DistilBERT, ViT) run natively
// against the independent Python reference (tests/encoders/encoder_reference.py:
// its own float32 forward, each input alone without padding, its own
// reading of the heads and of sentence-transformers' pooling; PIL for the
// image preprocessing), on folders of random weights with the real
// tokenizers (tests/encoders/make_encoders.py). Also the torch backend's
// answers to requests, and its refusals.
#include "lm_support.hpp"

#include "backends/hf/encoder_config.hpp"
#include "backends/hf/folder_error.hpp"
#include "backends/model/encoder_request.hpp"
#include "backends/model/image_codec.hpp"
#include "backends/torch/encoder/bart_engine.hpp"
#include "backends/torch/encoder/encoder_engine.hpp"
#include "backends/torch/torch_backend.hpp"
#include "testkit/child_process.hpp"
#include "tether/protocol/json_writer.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

using namespace tether;
using namespace tether::agent;
using namespace tether::lm_test;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

fs::path encoder_folder(const std::string& name) { return made_folders("tests/encoders/make_encoders.py", "encoders") / name; }

std::string run_python(const std::string& job_json, const char* script = "tests/encoders/encoder_reference.py") {
    static int counter = 0;
    const fs::path file = fs::path(scratch()) / ("encoder-job-" + std::to_string(++counter) + ".json");
    std::ofstream(file) << job_json;
    auto r = testkit::run_to_completion(
        {python(), (fs::path(TETHER_SOURCE_DIR) / script).string(), file.string()}, {}, scratch(), 600s);
    INFO(script << ": " << r.status.describe() << "\n" << r.err.substr(0, 4000));
    REQUIRE(r.status.exited);
    REQUIRE(r.status.code == 0);
    return r.out;
}

std::vector<std::vector<float>> float_rows(const std::string& json, const char* key) {
    simdjson::dom::parser p;
    simdjson::dom::element root;
    REQUIRE(!p.parse(json).get(root));
    std::vector<std::vector<float>> out;
    for (auto row : root[key].get_array()) {
        out.emplace_back();
        for (auto v : row.get_array()) out.back().push_back(static_cast<float>(double(v.get_double())));
    }
    return out;
}

std::vector<std::vector<float>> reference_text(const fs::path& folder, const std::vector<std::vector<std::int64_t>>& inputs) {
    std::string j = "{\"folder\":\"" + folder.string() + "\",\"inputs\":[";
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        j += i ? ",[" : "[";
        for (std::size_t k = 0; k < inputs[i].size(); ++k) j += (k ? "," : "") + std::to_string(inputs[i][k]);
        j += "]";
    }
    return float_rows(run_python(j + "]}"), "outputs");
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    float m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

// Texts of very different lengths, in several scripts, so that a batch pads.
const std::vector<std::string>& texts() {
    static const std::vector<std::string> t{
        "I love this!",
        "The weather in Lisbon was grey all week, and the trains were late, but the pastries made up for it.",
        "ok",
        "Ünïcödé façade — naïve café, 東京 and Zürich.",
        "Short one here.",
    };
    return t;
}

struct recording_sink final : result_sink {
    std::optional<completion> done;
    std::vector<output_file> files;
    std::string fail_code, fail_message;
    void processing() override {}
    void delta(std::string) override {}
    void file(output_file f) override { files.push_back(std::move(f)); }
    void completed(completion c) override { done = std::move(c); }
    void failed(std::string code, std::string message) override {
        fail_code = std::move(code);
        fail_message = std::move(message);
    }
};

torch_backend serving(const fs::path& folder, std::uint32_t capacity = 1) {
    torch_options o;
    o.device = test_load_options().device.str();
    o.models["s"] = folder.string();
    o.capacity["s"] = capacity;
    o.max_batch = 8;
    return torch_backend(o);
}

job text_job(std::string prompt, std::string params = "{}") {
    job j;
    j.request_id = "00000000-0000-4000-8000-000000000001";
    j.space = "s";
    j.prompt = std::move(prompt);
    j.params_json = std::move(params);
    return j;
}

simdjson::dom::element extra(simdjson::dom::parser& p, const completion& c) {
    simdjson::dom::element root;
    REQUIRE(!p.parse(c.extra_json).get(root));
    return root;
}

std::vector<float> floats_of(const std::string& bytes) {
    REQUIRE(bytes.size() % 4 == 0);
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
}

} // namespace

TEST_CASE("encoders: classifiers' logits and pooled embeddings match the reference, batched and padded", "[encoder]") {
    for (const char* name : {"bert-cls", "roberta-multilabel", "distilbert-cls", "xlmr-st", "bert-st-cls", "bert-embed"}) {
        INFO(name);
        const auto folder = encoder_folder(name);
        auto engine = encoder::load_encoder(folder, test_load_options(), 8, 0us);
        std::vector<std::vector<std::int64_t>> inputs;
        for (const auto& t : texts()) inputs.push_back(engine->tokenize(t).ids);
        const auto ref = reference_text(folder, inputs);
        // All at once: one forward call, padded to the longest, masked.
        const auto batched = engine->run_text(inputs);
        REQUIRE(batched.size() == inputs.size());
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            INFO("input " << i << " (" << inputs[i].size() << " tokens)");
            CHECK(max_abs_diff(batched[i], ref[i]) < 1e-4F);
            // One at a time: the same numbers.
            const auto alone = engine->run_text({inputs[i]});
            CHECK(max_abs_diff(alone.front(), batched[i]) < 1e-5F);
        }
        const auto& c = engine->model().config();
        if (c.task == hf::encoder_task::embeddings) {
            CHECK(batched.front().size() == static_cast<std::size_t>(c.hidden_size));
            double norm = 0;
            for (float v : batched.front()) norm += double(v) * v;
            CHECK((std::fabs(std::sqrt(norm) - 1.0) < 1e-5) == c.normalize);
        }
    }
}

TEST_CASE("encoders: each folder's settings are read as transformers and sentence-transformers read them", "[encoder]") {
    const auto bert = hf::read_encoder_config(encoder_folder("bert-cls"));
    CHECK(bert.task == hf::encoder_task::text_classification);
    CHECK(bert.labels == std::vector<std::string>{"sadness", "joy", "anger"});
    CHECK(bert.scores == hf::label_scores::softmax);
    CHECK(bert.max_tokens() == 64);
    const auto roberta = hf::read_encoder_config(encoder_folder("roberta-multilabel"));
    CHECK(roberta.scores == hf::label_scores::sigmoid);
    CHECK(roberta.max_tokens() == 64); // 66 positions less the padding offset
    CHECK(roberta.norm_eps == 1e-5);
    const auto xlmr = hf::read_encoder_config(encoder_folder("xlmr-st"));
    CHECK(xlmr.task == hf::encoder_task::embeddings);
    CHECK(xlmr.sentence_transformers);
    CHECK(xlmr.pooling == hf::pooling_mode::mean);
    CHECK(xlmr.normalize);
    CHECK(xlmr.max_seq_length == 40);
    const auto st_cls = hf::read_encoder_config(encoder_folder("bert-st-cls"));
    CHECK(st_cls.pooling == hf::pooling_mode::cls);
    CHECK_FALSE(st_cls.normalize);
    const auto vit = hf::read_encoder_config(encoder_folder("vit-cls"));
    CHECK(vit.task == hf::encoder_task::image_classification);
    CHECK(vit.image.width == 32);
    CHECK(vit.image.mean[0] == 0.485);
    CHECK(vit.image.std[2] == 0.225);
}

TEST_CASE("encoders: concurrent requests share forward calls and get their own answers", "[encoder]") {
    const auto folder = encoder_folder("bert-embed");
    auto engine = encoder::load_encoder(folder, test_load_options(), 8, 20ms);
    std::vector<std::vector<std::int64_t>> inputs;
    for (const auto& t : texts()) inputs.push_back(engine->tokenize(t).ids);
    std::vector<std::vector<float>> alone;
    for (const auto& in : inputs) alone.push_back(engine->run_text({in}).front());
    const auto calls_before = engine->calls_run();
    std::vector<std::vector<float>> got(inputs.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < inputs.size(); ++i)
        threads.emplace_back([&, i] { got[i] = engine->run_text({inputs[i]}).front(); });
    for (auto& t : threads) t.join();
    for (std::size_t i = 0; i < inputs.size(); ++i) CHECK(max_abs_diff(got[i], alone[i]) < 1e-5F);
    CHECK(engine->calls_run() - calls_before < inputs.size());
}

TEST_CASE("encoders: ViT's preprocessing matches PIL and its logits the reference", "[encoder]") {
    const auto folder = encoder_folder("vit-cls");
    auto engine = encoder::load_encoder(folder, test_load_options(), 8, 0us);
    const auto& cfg = engine->model().config();
    std::mt19937 rng(7);
    std::vector<fs::path> pngs;
    std::vector<std::vector<float>> ours;
    // Shrunk (antialiased), enlarged, the same size, and a thin strip.
    const std::pair<std::uint32_t, std::uint32_t> sizes[] = {{97, 61}, {20, 24}, {32, 32}, {200, 9}};
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
        image_rgb img;
        img.width = sizes[i].first;
        img.height = sizes[i].second;
        img.pixels.resize(std::size_t{img.width} * img.height * 3);
        for (std::size_t y = 0; y < img.height; ++y)
            for (std::size_t x = 0; x < img.width; ++x)
                for (std::size_t c = 0; c < 3; ++c)
                    img.pixels[(y * img.width + x) * 3 + c] =
                        static_cast<std::uint8_t>((x * 255 / img.width + y * 97 + c * 60 + rng() % 40) % 256);
        pngs.push_back(fs::path(scratch()) / ("vit-" + std::to_string(i) + ".png"));
        std::ofstream(pngs.back(), std::ios::binary) << encode_png(img);
        ours.push_back(preprocess_image(img, cfg.image));
    }
    std::string j = "{\"folder\":\"" + folder.string() + "\",\"images\":[";
    for (std::size_t i = 0; i < pngs.size(); ++i) j += (i ? ",\"" : "\"") + pngs[i].string() + "\"";
    const auto pil = float_rows(run_python(j + "]}"), "pixels");
    for (std::size_t i = 0; i < pngs.size(); ++i) {
        INFO("image " << sizes[i].first << "x" << sizes[i].second);
        CHECK(max_abs_diff(ours[i], pil[i]) < 1e-5F); // the same 8-bit pixels, so the same floats
    }
    // Logits of our pixels, batched, against the reference on the same pixels.
    const fs::path px = fs::path(scratch()) / "vit-pixels.f32";
    std::vector<at::Tensor> batch;
    {
        std::ofstream out(px, std::ios::binary);
        for (auto& p : ours) {
            out.write(reinterpret_cast<const char*>(p.data()), static_cast<std::streamsize>(p.size() * 4));
            batch.push_back(at::from_blob(p.data(), {3, cfg.image_size, cfg.image_size}, at::kFloat).clone());
        }
    }
    const auto ref = float_rows(run_python("{\"folder\":\"" + folder.string() + "\",\"pixels\":\"" + px.string() +
                                           "\",\"count\":" + std::to_string(ours.size()) + "}"),
                                "outputs");
    const auto logits = engine->run_images(std::move(batch));
    for (std::size_t i = 0; i < ours.size(); ++i) CHECK(max_abs_diff(logits[i], ref[i]) < 1e-4F);
}

TEST_CASE("encoders: the torch backend answers classification, embeddings and image requests", "[encoder]") {
    SECTION("a classifier: ranked labels, the top one as output") {
        auto be = serving(encoder_folder("bert-cls"));
        const auto card = be.card("s");
        REQUIRE(card);
        CHECK(card->task == "text-classification");
        CHECK(card->context_length == 64);
        recording_sink sink;
        cancellation_token none;
        be.run(text_job(texts()[1]), none, sink);
        INFO(sink.fail_message);
        REQUIRE(sink.done);
        simdjson::dom::parser p;
        auto x = extra(p, *sink.done);
        auto labels = x["labels"].get_array();
        REQUIRE(labels.size() == 3);
        double sum = 0, last = 1;
        for (auto l : labels) {
            const double c = l["confidence"].get_double();
            CHECK(c <= last);
            last = c;
            sum += c;
        }
        CHECK(std::fabs(sum - 1.0) < 1e-9);
        CHECK(sink.done->output == std::string(std::string_view(labels.at(0)["label"].get_string())));
        REQUIRE(sink.done->confidence);
        CHECK(*sink.done->confidence == Approx(double(labels.at(0)["confidence"].get_double())));
        recording_sink top;
        be.run(text_job(texts()[1], R"({"top_k":1})"), none, top);
        REQUIRE(top.done);
        simdjson::dom::parser p2;
        CHECK(extra(p2, *top.done)["labels"].get_array().size() == 1);
    }
    SECTION("a long text is cut to the model's length, with a note") {
        auto be = serving(encoder_folder("bert-cls"));
        std::string lng;
        for (int i = 0; i < 100; ++i) lng += "word" + std::to_string(i) + " ";
        recording_sink sink;
        cancellation_token none;
        be.run(text_job(lng), none, sink);
        REQUIRE(sink.done);
        simdjson::dom::parser p;
        auto x = extra(p, *sink.done);
        CHECK(bool(x["truncated"].get_bool()));
        CHECK(std::uint64_t(x["tokens"].get_uint64()) == 64);
        CHECK_THAT(std::string(std::string_view(x["note"].get_string())), Contains("64"));
    }
    SECTION("multi-label: each label's own sigmoid") {
        auto be = serving(encoder_folder("roberta-multilabel"));
        recording_sink sink;
        cancellation_token none;
        be.run(text_job(texts()[0]), none, sink);
        REQUIRE(sink.done);
        simdjson::dom::parser p;
        auto engine = encoder::load_encoder(encoder_folder("roberta-multilabel"), test_load_options(), 1, 0us);
        const auto logits = engine->run_text({engine->tokenize(texts()[0]).ids}).front();
        for (auto l : extra(p, *sink.done)["labels"].get_array()) {
            const std::string label(std::string_view(l["label"].get_string()));
            const auto& names = engine->model().config().labels;
            const auto i = static_cast<std::size_t>(std::find(names.begin(), names.end(), label) - names.begin());
            REQUIRE(i < logits.size());
            CHECK(double(l["confidence"].get_double()) == Approx(1.0 / (1.0 + std::exp(-double(logits[i])))).epsilon(1e-6));
        }
    }
    SECTION("embeddings: one for a prompt, base64 rows for params.input, in order") {
        const auto folder = encoder_folder("xlmr-st");
        auto be = serving(folder, 4);
        const auto card = be.card("s");
        REQUIRE(card);
        CHECK(card->task == "embeddings");
        CHECK(card->context_length == 40);
        auto engine = encoder::load_encoder(folder, test_load_options(), 1, 0us);
        std::vector<std::vector<std::int64_t>> inputs;
        for (const auto& t : texts()) inputs.push_back(engine->tokenize(t).ids);
        const auto ref = reference_text(folder, inputs);
        cancellation_token none;
        recording_sink one;
        be.run(text_job(texts()[1]), none, one);
        REQUIRE(one.done);
        simdjson::dom::parser p;
        std::vector<float> got;
        for (auto v : extra(p, *one.done)["embedding"].get_array()) got.push_back(static_cast<float>(double(v.get_double())));
        CHECK(max_abs_diff(got, ref[1]) < 1e-4F);
        std::string list = R"({"task":"embeddings","input":[)";
        for (std::size_t i = 0; i < texts().size(); ++i) list += (i ? "," : "") + protocol::json_string(texts()[i]);
        list += "],\"truncate\":true}";
        recording_sink many;
        be.run(text_job("", list), none, many);
        INFO(many.fail_message);
        REQUIRE(many.done);
        simdjson::dom::parser p2;
        auto x = extra(p2, *many.done);
        REQUIRE(many.files.size() == 1);
        CHECK(many.files[0].name == "embeddings.f32");
        const auto all = floats_of(many.files[0].bytes);
        REQUIRE(all.size() == texts().size() * 64);
        CHECK(std::uint64_t(x["count"].get_uint64()) == texts().size());
        for (std::size_t i = 0; i < texts().size(); ++i)
            CHECK(max_abs_diff(std::vector<float>(all.begin() + static_cast<std::ptrdiff_t>(i * 64),
                                                  all.begin() + static_cast<std::ptrdiff_t>((i + 1) * 64)),
                               ref[i]) < 1e-4F);
        std::size_t tokens = 0;
        for (const auto& in : inputs) tokens += in.size();
        CHECK(std::uint64_t(x["usage"]["prompt_tokens"].get_uint64()) == tokens);
        CHECK(std::uint64_t(x["dimensions"].get_uint64()) == 64);
    }
    SECTION("an image classifier: the upload decoded and resized") {
        auto be = serving(encoder_folder("vit-cls"));
        CHECK(be.card("s")->task == "image-classification");
        image_rgb img;
        img.width = 50;
        img.height = 40;
        img.pixels.assign(std::size_t{50} * 40 * 3, 128);
        job j = text_job("");
        j.files.push_back(input_file{"file", "cat.png", "image/png", 0, encode_png(img), ""});
        j.files.back().size = j.files.back().bytes.size();
        recording_sink sink;
        cancellation_token none;
        be.run(j, none, sink);
        INFO(sink.fail_message);
        REQUIRE(sink.done);
        simdjson::dom::parser p;
        CHECK(extra(p, *sink.done)["labels"].get_array().size() == 5);
    }
}

TEST_CASE("encoders: bad requests are refused with what is wrong", "[encoder]") {
    auto embed = serving(encoder_folder("xlmr-st"));
    auto classify = serving(encoder_folder("bert-cls"));
    auto vit = serving(encoder_folder("vit-cls"));
    cancellation_token none;
    auto refused = [&](torch_backend& be, job j) {
        recording_sink sink;
        be.run(j, none, sink);
        CHECK_FALSE(sink.done);
        CHECK(sink.fail_code == "bad_input");
        return sink.fail_message;
    };
    CHECK_THAT(refused(classify, text_job("")), Contains("empty"));
    CHECK_THAT(refused(embed, text_job("", R"({"input":["a",""]})")), Contains("input[1] is empty"));
    CHECK_THAT(refused(embed, text_job("", R"({"input":[]})")), Contains("empty"));
    CHECK_THAT(refused(embed, text_job("", R"({"input":[[1,2,3]]})")), Contains("token ids"));
    CHECK_THAT(refused(embed, text_job("", R"({"input":{"a":1}})")), Contains("string"));
    std::string many = R"({"input":[)";
    for (int i = 0; i < 2049; ++i) many += (i ? ",\"x\"" : "\"x\"");
    CHECK_THAT(refused(embed, text_job("", many + "]}")), Contains("2049 texts, over the limit of 2048"));
    std::string lng;
    for (int i = 0; i < 100; ++i) lng += "word ";
    CHECK_THAT(refused(embed, text_job("", R"({"input":["ok",")" + lng + R"("]})")), Contains("input[1] is"));
    CHECK_THAT(refused(embed, text_job("hello", R"({"dimensions":32})")), Contains("64 dimensions"));
    CHECK_THAT(refused(classify, text_job("", R"({"task":"embeddings","input":["a"]})")), Contains("makes no embeddings"));
    CHECK_THAT(refused(classify, text_job("hi", R"({"top_k":0})")), Contains("top_k"));
    // Images: none, not an image, over the pixel limit.
    CHECK_THAT(refused(vit, text_job("")), Contains("uploaded file"));
    job not_image = text_job("");
    not_image.files.push_back(input_file{"file", "notes.txt", "text/plain", 5, "hello", ""});
    CHECK_THAT(refused(vit, not_image), Contains("notes.txt"));
    image_rgb huge;
    huge.width = 5000;
    huge.height = 4000;
    huge.pixels.assign(std::size_t{5000} * 4000 * 3, 0);
    job big = text_job("");
    big.files.push_back(input_file{"file", "huge.png", "image/png", 0, encode_png(huge), ""});
    big.files.back().size = big.files.back().bytes.size();
    CHECK_THAT(refused(vit, big), Contains("5000x4000"));
}

TEST_CASE("encoders: broken folders are refused at load, naming the file and the field", "[encoder]") {
    auto broken = [](const std::string& name, const std::function<void(const fs::path&)>& edit) {
        const fs::path dir = fs::path(scratch()) / ("broken-" + name);
        fs::remove_all(dir);
        fs::copy(encoder_folder(name.substr(0, name.find('+'))), dir, fs::copy_options::recursive);
        edit(dir);
        return dir;
    };
    auto load_error = [](const fs::path& dir) {
        try {
            (void)encoder::load_encoder(dir, test_load_options(), 1, 0us);
        } catch (const hf::folder_error& e) {
            return std::string(e.what());
        } catch (const text::text_error& e) {
            return std::string(e.what());
        }
        FAIL("loaded " << dir);
        return std::string();
    };
    auto rewrite = [](const fs::path& file, const std::string& from, const std::string& to) {
        std::ifstream in(file);
        std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const auto at = s.find(from);
        REQUIRE(at != std::string::npos);
        s.replace(at, from.size(), to);
        std::ofstream(file) << s;
    };
    CHECK_THAT(load_error(broken("bert-cls+labels", [&](const fs::path& d) {
                   rewrite(d / "config.json", "\"1\": \"joy\"", "\"7\": \"joy\"");
               })),
               Contains("label 1 is missing"));
    CHECK_THAT(load_error(broken("bert-cls+width", [&](const fs::path& d) {
                   rewrite(d / "config.json", "\"hidden_size\": 64", "\"hidden_size\": 96");
               })),
               Contains("embeddings.word_embeddings.weight"));
    CHECK_THAT(load_error(broken("xlmr-st+dense", [&](const fs::path& d) {
                   rewrite(d / "modules.json", "sentence_transformers.models.Normalize", "sentence_transformers.models.Dense");
               })),
               Contains("Dense"));
    CHECK_THAT(load_error(broken("xlmr-st+pooling", [&](const fs::path& d) {
                   rewrite(d / "1_Pooling" / "config.json", "\"pooling_mode_max_tokens\": false", "\"pooling_mode_max_tokens\": true");
               })),
               Contains("exactly one pooling mode"));
    CHECK_THAT(load_error(broken("xlmr-st+escape", [&](const fs::path& d) {
                   rewrite(d / "modules.json", "\"1_Pooling\"", "\"../../etc\"");
               })),
               Contains("inside the model folder"));
    CHECK_THAT(load_error(broken("vit-cls+size", [&](const fs::path& d) {
                   rewrite(d / "preprocessor_config.json", "\"height\": 32", "\"height\": 48");
               })),
               Contains("the model takes 32x32"));
    CHECK_THAT(load_error(broken("vit-cls+head", [&](const fs::path& d) {
                   rewrite(d / "config.json", "ViTForImageClassification", "ViTModel");
               })),
               Contains("ViTForImageClassification"));
    CHECK_THAT(load_error(broken("distilbert-cls+classifier", [&](const fs::path& d) {
                   rewrite(d / "config.json", "\"dim\": 64", "\"dim\": 64, \"n_heads\": 5");
               })),
               Contains("do not divide"));
}

namespace {

struct bart_job {
    std::vector<std::int64_t> ids;
    encoder::seq2seq_options o;
};

std::string bart_options_json(const encoder::seq2seq_options& o) {
    return fmt::format(R"("num_beams":{},"max_length":{},"min_length":{},"no_repeat_ngram_size":{},"length_penalty":{},"early_stopping":{})",
                       o.num_beams, o.max_length, o.min_length, o.no_repeat_ngram_size, o.length_penalty,
                       o.early_stopping ? "true" : "false");
}

std::string ids_json(const std::vector<std::int64_t>& ids) {
    std::string s = "[";
    for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
    return s + "]";
}

} // namespace

TEST_CASE("bart: logits, greedy and beam-search summaries match the reference", "[encoder][bart]") {
    const auto folder = encoder_folder("bart-test");
    auto engine = encoder::load_bart(folder, test_load_options());
    const auto& model = engine->model();
    auto tokenize = [&](const std::string& t) {
        const auto ids = engine->text().tokens().encode(t, true);
        return std::vector<std::int64_t>(ids.begin(), ids.end());
    };
    // Logits of a whole decoder sequence.
    const auto in = tokenize(texts()[1]);
    const std::vector<std::int64_t> dec{2, 0, 713, 16, 10, 1296};
    const auto ours = model.decoder_logits(dec, model.encode(in)).contiguous();
    const auto ref_logits = float_rows(run_python("{\"folder\":\"" + folder.string() + "\",\"logits\":{\"ids\":" + ids_json(in) +
                                                  ",\"decoder\":" + ids_json(dec) + "}}", "tests/encoders/bart_reference.py"),
                                       "logits");
    REQUIRE(ref_logits.size() == dec.size());
    for (std::size_t i = 0; i < dec.size(); ++i) {
        std::vector<float> row(ours[static_cast<std::int64_t>(i)].data_ptr<float>(),
                               ours[static_cast<std::int64_t>(i)].data_ptr<float>() + model.config().vocab_size);
        CHECK(max_abs_diff(row, ref_logits[i]) < 1e-4F);
    }
    // Generation: the folder's settings (4 beams, length penalty 2, early
    // stopping, no repeated 3-grams, min_length 8), greedy with the same
    // processors, and beams without early stopping.
    std::vector<bart_job> jobs;
    for (const auto& t : {texts()[0], texts()[1], texts()[3]}) {
        jobs.push_back({tokenize(t), engine->defaults()});
        auto greedy = engine->defaults();
        greedy.num_beams = 1;
        jobs.push_back({tokenize(t), greedy});
        auto patient = engine->defaults();
        patient.num_beams = 3;
        patient.early_stopping = false;
        patient.length_penalty = 1.0;
        patient.max_length = 24;
        patient.min_length = 0;
        patient.no_repeat_ngram_size = 0;
        jobs.push_back({tokenize(t), patient});
    }
    std::string j = "{\"folder\":\"" + folder.string() + "\",\"jobs\":[";
    for (std::size_t i = 0; i < jobs.size(); ++i)
        j += (i ? "," : "") + std::string("{\"ids\":") + ids_json(jobs[i].ids) + "," + bart_options_json(jobs[i].o) + "}";
    const auto ref = run_python(j + "]}", "tests/encoders/bart_reference.py");
    simdjson::dom::parser p;
    simdjson::dom::element root;
    REQUIRE(!p.parse(ref).get(root));
    std::size_t i = 0, ended = 0;
    for (auto r : root["results"].get_array()) {
        std::vector<std::int64_t> want;
        for (auto t : r["tokens"].get_array()) want.push_back(std::int64_t(t.get_int64()));
        const auto got = model.generate(jobs[i].ids, jobs[i].o, {}, {});
        INFO("job " << i << ": " << jobs[i].o.num_beams << " beam(s)");
        CHECK(got.tokens == want);
        UNSCOPED_INFO("job " << i << " made " << got.tokens.size() << " tokens");
        if (!got.tokens.empty() && got.tokens.back() == 2 && static_cast<std::int64_t>(got.tokens.size()) + 1 < jobs[i].o.max_length) ++ended;
        CHECK(static_cast<std::int64_t>(got.tokens.size()) + 1 >= std::min<std::int64_t>(jobs[i].o.min_length, jobs[i].o.max_length));
        ++i;
    }
    CHECK(i == jobs.size());
    CHECK(ended > 0); // some summaries end on </s> before the length limit, not all by force
}

TEST_CASE("bart: concurrent summaries share decoder steps and make the tokens they make alone", "[encoder][bart]") {
    const auto folder = encoder_folder("bart-test");
    // Up to 6 requests per step; an idle engine waits up to 1 s for company.
    auto engine = encoder::load_bart(folder, test_load_options(), 6, 1s);
    const auto& model = engine->model();
    auto tokenize = [&](const std::string& t) {
        const auto ids = engine->text().tokens().encode(t, true);
        return std::vector<std::int64_t>(ids.begin(), ids.end());
    };
    // Inputs of different lengths (padded when encoded together), greedy and
    // beam searches of different widths and lengths side by side.
    std::vector<bart_job> jobs;
    auto greedy = engine->defaults();
    greedy.num_beams = 1;
    auto three = engine->defaults();
    three.num_beams = 3;
    three.early_stopping = false;
    three.max_length = 24;
    auto short_greedy = greedy;
    short_greedy.max_length = 6;
    short_greedy.min_length = 0;
    jobs.push_back({tokenize(texts()[1]), engine->defaults()});
    jobs.push_back({tokenize(texts()[0]), greedy});
    jobs.push_back({tokenize(texts()[3]), three});
    jobs.push_back({tokenize(texts()[2]), short_greedy});
    jobs.push_back({tokenize(texts()[1]), greedy});
    std::vector<encoder::seq2seq_output> alone;
    for (const auto& j : jobs) alone.push_back(model.generate(j.ids, j.o, {}, {}));
    // The sixth request cancels itself after its third token; the others go on.
    std::vector<encoder::bart_engine::outcome> together(jobs.size() + 1);
    std::vector<std::vector<std::int64_t>> streamed(jobs.size() + 1);
    std::vector<cancellation_token> cancels(jobs.size() + 1);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i <= jobs.size(); ++i)
        threads.emplace_back([&, i] {
            const auto& j = jobs[i < jobs.size() ? i : 1];
            together[i] = engine->generate(j.ids, j.o, cancels[i], [&, i](std::int64_t t) {
                streamed[i].push_back(t);
                if (i == jobs.size() && streamed[i].size() == 3) cancels[i].cancel();
            });
        });
    for (auto& t : threads) t.join();
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        INFO("job " << i << ", " << jobs[i].o.num_beams << " beam(s), " << jobs[i].ids.size() << " input tokens");
        CHECK(together[i].error.empty());
        CHECK(together[i].out.finish_reason == alone[i].finish_reason);
        CHECK(together[i].out.tokens == alone[i].tokens);
        if (jobs[i].o.num_beams == 1) CHECK(streamed[i] == alone[i].tokens);
        else CHECK(streamed[i].empty());
    }
    CHECK(together.back().out.finish_reason == "cancelled");
    CHECK(streamed.back().size() == 3);
    const auto stats = engine->stats();
    CHECK(stats.widest_step >= 2);
    CHECK(stats.widest_rows >= 5); // 4 beams and a greedy row at least
    CHECK(stats.encoder_calls < jobs.size() + 1);
    UNSCOPED_INFO(stats.steps << " steps, " << stats.encoder_calls << " encoder calls, widest " << stats.widest_step);
    // A capacity of one runs them one after another, and gets the same.
    auto single = encoder::load_bart(folder, test_load_options(), 1, 0us);
    cancellation_token none;
    const auto one = single->generate(jobs[0].ids, jobs[0].o, none, {});
    CHECK(one.out.tokens == alone[0].tokens);
    CHECK(single->stats().widest_step == 1);
}

TEST_CASE("bart: the torch backend streams a greedy summary, answers beam search and refuses bad params", "[encoder][bart]") {
    auto be = serving(encoder_folder("bart-test"));
    const auto card = be.card("s");
    REQUIRE(card);
    CHECK(card->task == "summarization");
    CHECK(card->context_length == 64);
    struct streaming_sink final : result_sink {
        std::vector<std::string> deltas;
        std::optional<completion> done;
        std::string fail_code, fail_message;
        void processing() override {}
        void delta(std::string t) override { deltas.push_back(std::move(t)); }
        void file(output_file) override {}
        void completed(completion c) override { done = std::move(c); }
        void failed(std::string code, std::string message) override {
            fail_code = std::move(code);
            fail_message = std::move(message);
        }
    };
    cancellation_token none;
    streaming_sink greedy;
    be.run(text_job(texts()[1], R"({"num_beams":1})"), none, greedy);
    INFO(greedy.fail_message);
    REQUIRE(greedy.done);
    std::string joined;
    for (const auto& d : greedy.deltas) joined += d;
    CHECK(joined == greedy.done->output);
    CHECK(greedy.deltas.size() > 1);
    streaming_sink beams;
    std::string lng;
    for (int k = 0; k < 80; ++k) lng += "sentence " + std::to_string(k) + " ";
    be.run(text_job(lng), none, beams);
    REQUIRE(beams.done);
    CHECK(beams.deltas.empty());
    simdjson::dom::parser p;
    auto x = extra(p, *beams.done);
    CHECK(std::int64_t(x["num_beams"].get_int64()) == 4);
    CHECK(bool(x["truncated"].get_bool()));
    CHECK(std::uint64_t(x["usage"]["prompt_tokens"].get_uint64()) == 64);
    auto refused = [&](const std::string& params) {
        streaming_sink s;
        be.run(text_job(texts()[0], params), none, s);
        CHECK_FALSE(s.done);
        CHECK(s.fail_code == "bad_input");
        return s.fail_message;
    };
    CHECK_THAT(refused(R"({"num_beams":0})"), Contains("num_beams"));
    CHECK_THAT(refused(R"({"num_beams":17})"), Contains("num_beams"));
    CHECK_THAT(refused(R"({"min_length":70})"), Contains("min_length"));
    CHECK_THAT(refused(R"({"length_penalty":"long"})"), Contains("length_penalty"));
    CHECK_THAT(refused(R"({"task":"embeddings"})"), Contains("no embeddings"));
    streaming_sink empty;
    be.run(text_job(""), none, empty);
    CHECK(empty.fail_code == "bad_input");
    // Cancelled before it starts: no answer at all.
    cancellation_token cancelled;
    cancelled.cancel();
    streaming_sink gone;
    be.run(text_job(texts()[1]), cancelled, gone);
    CHECK_FALSE(gone.done);
    CHECK(gone.fail_code.empty());
}
