#include "app/tokenize_command.hpp"

#include "text/model_text.hpp"
#include "text/unicode.hpp"

#include <CLI/CLI.hpp>
#include <simdjson.h>

#include <iostream>
#include <iterator>
#include <sstream>

namespace tether::agent {
namespace {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;
constexpr std::size_t max_stdin = 64U << 20;

std::string read_all(std::istream& in) {
    std::string s;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        s.append(buf, static_cast<std::size_t>(in.gcount()));
        if (s.size() > max_stdin) throw std::runtime_error("more than 64 MiB on stdin");
    }
    return s;
}

void print_ids(std::ostream& out, const std::vector<text::token_id>& ids) {
    out << '[';
    for (std::size_t i = 0; i < ids.size(); ++i) out << (i ? "," : "") << ids[i];
    out << "]\n";
}

} // namespace

int tokenize_command(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err) {
    CLI::App app{"tether-agent tokenize: run a model folder's tokenizer and chat template on stdin"};
    std::string dir;
    bool no_special = false, decode = false, skip_special = false, chat = false, ids = false, no_prompt = false;
    app.add_option("dir", dir, "Hugging Face model folder (tokenizer.json, tokenizer_config.json, …)")->required();
    app.add_flag("--no-special", no_special, "Encode without the special tokens the post-processor adds");
    app.add_flag("--decode", decode, "Read a JSON array of ids and print their text");
    app.add_flag("--skip-special", skip_special, "With --decode: leave special tokens out");
    app.add_flag("--chat", chat, "Read a JSON array of messages and print the rendered prompt");
    app.add_flag("--ids", ids, "With --chat: print the prompt's ids instead");
    app.add_flag("--no-generation-prompt", no_prompt, "With --chat: render with add_generation_prompt false");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e, out, err) == 0 ? exit_ok : exit_usage;
    }
    if ((decode && chat) || ((ids || no_prompt) && !chat) || (skip_special && !decode)) {
        err << "tether-agent tokenize: --decode and --chat exclude each other; --ids and --no-generation-prompt go "
               "with --chat, --skip-special with --decode\n";
        return exit_usage;
    }
    std::optional<text::model_text> m;
    try {
        m.emplace(text::model_text::load(dir));
    } catch (const text::text_error& e) {
        err << "tether-agent tokenize: " << e.what() << '\n';
        return exit_usage;
    }
    if (chat && m->chat() == nullptr) {
        err << "tether-agent tokenize: " << dir
            << ": no chat template (tokenizer_config.json chat_template or chat_template.jinja)\n";
        return exit_usage;
    }
    try {
        const std::string input = read_all(in);
        if (decode) {
            simdjson::dom::parser p;
            simdjson::dom::array arr;
            if (p.parse(input).get_array().get(arr)) {
                err << "tether-agent tokenize --decode: stdin must be a JSON array of ids\n";
                return exit_usage;
            }
            std::vector<text::token_id> v;
            for (auto e : arr) {
                std::uint64_t id = 0;
                if (e.get_uint64().get(id) || id > UINT32_MAX) {
                    err << "tether-agent tokenize --decode: every element must be an id (a whole number)\n";
                    return exit_usage;
                }
                v.push_back(static_cast<text::token_id>(id));
            }
            out << m->tokens().decode(v, skip_special);
            return exit_ok;
        }
        if (chat) {
            const std::string prompt = m->render_chat_json(input, !no_prompt);
            if (ids) print_ids(out, m->tokens().encode(prompt, false));
            else out << prompt;
            return exit_ok;
        }
        print_ids(out, m->tokens().encode(input, !no_special));
        return exit_ok;
    } catch (const text::chat_refused& e) {
        err << "tether-agent tokenize: " << e.what() << '\n';
        return exit_failure;
    } catch (const text::text_error& e) {
        // Input the folder cannot take: messages that are not JSON, a word
        // without an unk token to stand for it, a template that fails.
        err << "tether-agent tokenize: " << e.what() << '\n';
        return exit_usage;
    } catch (const std::runtime_error& e) {
        err << "tether-agent tokenize: " << e.what() << '\n';
        return exit_usage;
    }
}

} // namespace tether::agent
