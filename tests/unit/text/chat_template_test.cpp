// Tether's Jinja interpreter against Python's Jinja2 set up as transformers
// sets it up (tests/text/jinja_reference.py, run live), and against the
// stored renders of huggingface.js: the 53 real chat templates, the 161 unit
// cases, and templates the project writes to use every construct the issue
// lists, each with system/user/assistant/tool messages and
// add_generation_prompt on and off.
#include "text_support.hpp"

#include "text/chat_template.hpp"
#include "text/json_view.hpp"
#include "text/model_text.hpp"
#include "text/jinja/interpreter.hpp"
#include "text/jinja/parser.hpp"
#include "text/jinja/value.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <ctime>
#include <fstream>
#include <set>
#include <sstream>

using namespace tether;
using namespace tether::agent::text;
using namespace tether::text_test;
using Catch::Matchers::Contains;

namespace {

struct render_case {
    std::string name;
    std::string source;
    std::string context_json = "{}";
    bool trim = true;
    std::string folder; // set: the template and special tokens come from this model folder
};

struct outcome {
    bool ok = false;
    bool raised = false; // raise_exception in the template
    std::string text;    // the render, or the error message
};

// 2025-07-10 12:00 local time: what the stored renders mocked.
std::chrono::system_clock::time_point fixed_now() {
    std::tm tm{};
    tm.tm_year = 2025 - 1900;
    tm.tm_mon = 6;
    tm.tm_mday = 10;
    tm.tm_hour = 12;
    tm.tm_isdst = -1;
    return std::chrono::system_clock::from_time_t(std::mktime(&tm));
}

outcome ours_from_folder(const render_case& c) {
    outcome o;
    try {
        const auto m = model_text::load(c.folder);
        simdjson::dom::parser p;
        simdjson::dom::element ctx;
        REQUIRE(!p.parse(c.context_json).get(ctx));
        chat_request r;
        r.messages = jinja::from_json(simdjson::minify(ctx["messages"]));
        r.add_generation_prompt = bool(ctx["add_generation_prompt"].get_bool());
        r.tools = jinja::from_json(simdjson::minify(ctx["tools"]));
        r.now = fixed_now();
        o.text = m.render_chat(r);
        o.ok = true;
    } catch (const chat_refused& e) {
        o.raised = true;
        o.text = e.what();
    } catch (const text_error& e) {
        o.text = e.what();
    }
    return o;
}

outcome ours(const render_case& c) {
    if (!c.folder.empty()) return ours_from_folder(c);
    outcome o;
    try {
        const auto ast = jinja::parse(c.source, jinja::lexer_options{c.trim, c.trim});
        jinja::render_options options;
        options.now = fixed_now();
        o.text = jinja::render(ast, jinja::from_json(c.context_json), options);
        o.ok = true;
    } catch (const jinja::template_raised& e) {
        o.raised = true;
        o.text = e.what();
    } catch (const jinja::template_error& e) {
        o.text = e.what();
    }
    return o;
}

std::vector<outcome> python(const std::vector<render_case>& cases) {
    std::string job = R"({"now":"2025-07-10T12:00:00","cases":[)";
    for (std::size_t i = 0; i < cases.size(); ++i) {
        job += (i ? "," : "") + std::string(R"({"template":)") + quote_json(cases[i].source) +
               ",\"context\":" + cases[i].context_json + ",\"trim\":" + (cases[i].trim ? "true" : "false");
        if (!cases[i].folder.empty()) job += ",\"folder\":" + quote_json(cases[i].folder);
        job += "}";
    }
    job += "]}";
    const std::string out = run_python("tests/text/jinja_reference.py", job);
    simdjson::dom::parser p;
    simdjson::dom::element root;
    REQUIRE(!p.parse(out).get(root));
    std::vector<outcome> results;
    for (auto r : root.get_array()) {
        outcome o;
        std::string_view s;
        if (!r["ok"].get(s)) {
            o.ok = true;
            o.text = std::string(s);
        } else {
            o.text = std::string(std::string_view(r["error"].get_string()));
            o.raised = bool(r["raised"].get_bool());
        }
        results.push_back(std::move(o));
    }
    REQUIRE(results.size() == cases.size());
    return results;
}

// Ours and Python agree: the same text, or both refuse (raise_exception in
// both, or an error in both). Returns the number of disagreements.
std::size_t compare_with_python(const std::vector<render_case>& cases, std::string& report) {
    const auto ref = python(cases);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto got = ours(cases[i]);
        const bool same = got.ok == ref[i].ok && (got.ok ? got.text == ref[i].text : got.raised == ref[i].raised);
        if (!same && ++bad <= 6)
            report += cases[i].name + "\n  ours   " + (got.ok ? "" : got.raised ? "raised: " : "error: ") +
                      quote_json(got.text.substr(0, 600)) + "\n  python " +
                      (ref[i].ok ? "" : ref[i].raised ? "raised: " : "error: ") + quote_json(ref[i].text.substr(0, 600)) +
                      "\n";
    }
    return bad;
}

std::string minified(simdjson::dom::element e) {
    return simdjson::minify(e);
}

std::filesystem::path cases_file(const std::string& name) {
    return shared_tokenizers() / "chat_template_tests" / name;
}


} // namespace

TEST_CASE("the 53 real chat templates render as stored and as Python Jinja2 renders them", "[text][jinja]") {
    simdjson::dom::parser p;
    simdjson::dom::element root;
    REQUIRE(!p.load(cases_file("hfjs_jinja_e2e_cases.json").string()).get(root));
    std::vector<render_case> cases;
    std::vector<std::string> targets;
    for (auto c : root["cases"].get_array()) {
        render_case rc;
        rc.name = std::string(std::string_view(c["name"].get_string()));
        rc.source = std::string(std::string_view(c["chat_template"].get_string()));
        rc.context_json = minified(c["data"]);
        cases.push_back(rc);
        targets.emplace_back(std::string_view(c["target"].get_string()));
    }
    REQUIRE(cases.size() == 53);

    // The stored renders, except Hammer2.1's: huggingface.js prints a list of
    // dicts as JSON where Python (and so transformers) prints its repr.
    std::size_t bad = 0;
    std::string report;
    for (std::size_t i = 0; i < cases.size(); ++i) {
        if (cases[i].name == "MadeAgents/Hammer2.1") continue;
        const auto got = ours(cases[i]);
        if (got.ok && got.text == targets[i]) continue;
        if (++bad <= 4)
            report += cases[i].name + "\n  ours   " + quote_json(got.text.substr(0, 800)) + "\n  stored " +
                      quote_json(targets[i].substr(0, 800)) + "\n";
    }
    INFO(report);
    CHECK(bad == 0);

    // All 53 with Python live (its {% generation %} renders its body).
    std::string py_report;
    const auto py_bad = compare_with_python(cases, py_report);
    INFO(py_report);
    CHECK(py_bad == 0);
}

TEST_CASE("the huggingface.js unit cases render as Python Jinja2 renders them", "[text][jinja]") {
    simdjson::dom::parser p;
    simdjson::dom::element root;
    REQUIRE(!p.load(cases_file("hfjs_jinja_unit_cases.json").string()).get(root));
    std::set<std::string> skip;
    for (auto n : root["non_json_context"].get_array()) skip.emplace(std::string_view(n.get_string()));
    std::vector<render_case> cases;
    for (auto c : root["cases"].get_array()) {
        render_case rc;
        rc.name = std::string(std::string_view(c["name"].get_string()));
        if (skip.count(rc.name)) continue; // JavaScript functions in the context
        rc.source = std::string(std::string_view(c["template"].get_string()));
        rc.context_json = minified(c["context"]);
        rc.trim = false; // as they were written
        cases.push_back(rc);
    }
    REQUIRE(cases.size() == 158);
    std::string report;
    const auto bad = compare_with_python(cases, report);
    INFO(report);
    CHECK(bad == 0);
}

namespace {

// Templates the project writes so that every construct chat templates use
// is rendered by both: control flow and loop.*, set and namespace(),
// macros and call blocks, the filters, the tests, str and dict methods,
// slicing and operators, whitespace control, raise_exception, tojson.
const std::vector<std::pair<std::string, std::string>>& project_templates() {
    static const std::vector<std::pair<std::string, std::string>> t = {
        {"control flow and loop", R"JINJA({{- bos_token -}}
{%- for m in messages -%}
{{ loop.index }}/{{ loop.length }} {{ loop.index0 }} {{ loop.revindex }} {{ loop.revindex0 }} {{ 'first' if loop.first }}{{ 'last' if loop.last else '' }} {{ loop.cycle('odd', 'even') }}
{%- if loop.previtem is defined %} prev={{ loop.previtem.role }}{% endif %}{% if loop.nextitem is defined %} next={{ loop.nextitem.role }}{% endif %}
{% if m.role == 'system' %}[S]{{ m.content }}
{% elif m.role == 'user' %}[U]{{ m.content | trim }}
{% elif m.role == 'assistant' %}[A]{{ m.content }}{% if m.tool_calls is defined %}{% for call in m.tool_calls %}{{ call.function.name }}({{ call.function.arguments | tojson }}){% endfor %}{% endif %}
{% else %}[{{ m.role | upper }}]{{ m.content }}
{% endif %}
{% endfor -%}
{%- for x in [] %}never{% else %}empty-else{% endfor %}
{% for i in range(10) %}{% if i is even %}{% continue %}{% endif %}{% if i > 7 %}{% break %}{% endif %}{{ i }}{% endfor %}
{% for a, b in [(1, 'one'), (2, 'two')] %}{{ a }}={{ b }} {% endfor %}
{% if add_generation_prompt %}<assistant>{% endif %})JINJA"},
        {"set, namespace and scoping", R"JINJA({%- set ns = namespace(found=false, count=0, names=[]) -%}
{%- set outer = 'outer' -%}
{%- for m in messages -%}
  {%- set outer = 'inner' -%}
  {%- if m.role == 'tool' %}{% set ns.found = true %}{% endif -%}
  {%- set ns.count = ns.count + 1 -%}
  {%- set ns.names = ns.names + [m.role] -%}
{%- endfor -%}
{{ outer }} {{ ns.found }} {{ ns.count }} {{ ns.names | join(',') }} {{ ns.names }}
{% set block %}captured {{ messages | length }}{% endset %}{{ block | upper }}
{% set a, b = 1, 2 %}{{ a + b }} {{ messages | length > 1 }}
)JINJA"},
        {"macros and call", R"JINJA({%- macro render(m, prefix='> ', upper=false) -%}
{{ prefix }}{{ (m.content | upper) if upper else m.content }}
{%- endmacro -%}
{%- macro wrap(tag) -%}<{{ tag }}>{{ caller() }}</{{ tag }}>{%- endmacro -%}
{%- for m in messages if m.content is string %}{{ render(m) }}|{{ render(m, prefix='# ', upper=true) }}
{% endfor -%}
{% call wrap('b') %}{{ messages | length }} messages{% endcall %}
)JINJA"},
        {"filters", R"JINJA({{ messages | length }} {{ messages | map(attribute='role') | join(', ') }}
{{ messages | selectattr('role', 'equalto', 'user') | list | length }}
{{ messages | rejectattr('role', 'in', ['system', 'tool']) | map(attribute='role') | list }}
{% if messages %}{{ (messages | first).role }} {{ (messages | last).role }}{% endif %}
{{ "  x  " | trim }}|{{ undefined_var | default('dflt') }}|{{ '' | default('empty', true) }}|{{ none | default('kept') }}
{{ {'b': 1, 'a': 2, 'c': 0} | dictsort }} {{ {'b': 1, 'a': 2} | items | list }}
{{ [3, 1, 2] | reverse | list }} {{ '42' | int + 1 }} {{ 3.7 | int }} {{ 'x' | int }} {{ 12 | string ~ '!' }}
{{ tools | tojson }}
{{ tools | tojson(indent=2) }}
{{ messages | selectattr('content', 'string') | map(attribute='content') | map('upper') | join('/') }}
{{ [1, 2, 3] | sum }} {{ [3, 1, 2] | sort | list }} {{ ['a', 'b', 'a'] | unique | list }} {{ 'hello world' | title }} {{ 'abc' | capitalize }} {{ -3 | abs }} {{ 2.567 | round(1) }}
{{ 'a\nb' | replace('\n', '\\n') }} {{ 'Ünïcödé ' ~ ('é' | upper) }} {{ {'ü': 'ö', 'n': [1, 2.5, none, true]} | tojson }}
)JINJA"},
        {"tests", R"JINJA({% for v in [none, 'str', 1, 1.5, [1], {'a': 1}, true] %}{{ v is none }},{{ v is string }},{{ v is mapping }},{{ v is iterable }},{{ v is number }},{{ v is sequence }},{{ v is boolean }},{{ v is integer }},{{ v is float }};{% endfor %}
{{ messages[0] is defined }} {{ nothing is defined }} {{ nothing is undefined }} {{ 'a' in 'cat' }} {{ 'z' not in ['a'] }}
{{ 3 is divisibleby 3 }} {{ 4 is odd }} {{ 'A' is upper }} {{ 1 is equalto 1 }} {{ 'x' is in ['x'] }} {{ tools is none }} {{ tools is not none }}
{% if messages %}{{ messages[0].role is equalto 'system' }} {{ messages[0].content is string }}{% endif %}
)JINJA"},
        {"str and dict methods, slicing, operators", R"JINJA({% set s = '  Hello, World  ' %}[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}] {{ s.strip().startswith('Hello') }} {{ s.strip().endswith(('x', 'd')) }}
{{ 'a,b,,c'.split(',') }} {{ 'a b  c'.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'hello'.replace('l', 'L') }} {{ 'hello world'.title() }} {{ 'Hi'.upper() }}{{ 'Hi'.lower() }}
{{ 'abcdef'[::-1] }} {{ 'abcdef'[1:3] }} {{ 'abcdef'[-2:] }} {{ [1, 2, 3, 4][::2] }} {{ messages[1:] | length }} {% if messages %}{{ messages[-1].role }} {{ messages[::-1] | map(attribute='role') | join(' ') }}{% endif %}
{% set d = {'k': 'v', 'n': 1} %}{{ d.get('k') }} {{ d.get('missing', 'fallback') }} {{ d.get('missing') }} {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ d.keys() | list }} {{ d.values() | list }} {{ d['k'] }} {{ d.k }}
{{ 'x' ~ 1 ~ none }} {{ 'yes' if messages else 'no' }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }} {{ 'ab' * 3 }} {{ 1 < 2 < 3 }} {{ -7 // 2 }} {{ 1 + 2 * 3 - 4 }} {{ not true or false and true }}
{{ "%s has %d items" % ('list', 3) if false else 'no format' }} {{ (1, 2) }} {{ [1, 'a', none, 2.0] }} {{ {'a': [1, {'b': none}]} }}
)JINJA"},
        {"whitespace control", R"JINJA(<start>
  {% if true %}
    indented
  {% endif %}
  {%- for m in messages %}
    {{ m.role }}
  {%+ endfor %}
{# a comment #}
{% raw %}{{ not rendered }}{% endraw %}
end   {{- ' tight ' -}}   done
{%- if add_generation_prompt %}

<gen>
{%- endif %}
)JINJA"},
        {"role alternation (raise_exception)", R"JINJA({{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set sys = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set sys = false %}{% endif %}
{%- for message in loop_messages %}
{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
{%- endif %}
{%- if loop.index0 == 0 and sys %}{% set content = sys ~ '\n\n' ~ message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}
{%- if message['role'] == 'user' %}{{ '[INST] ' + content | trim + ' [/INST]' }}{% else %}{{ ' ' + content | trim + eos_token }}{% endif %}
{%- endfor %})JINJA"},
        {"tools, content parts and the generation tag", R"JINJA({%- if tools %}<tools>
{%- for t in tools %}
{{ t | tojson }}
{%- endfor %}
</tools>
{% endif %}
{%- for m in messages %}<|{{ m.role }}|>
{%- if m.content is string %}{{ m.content }}
{%- elif m.content is iterable %}{% for part in m.content %}{% if part.type == 'text' %}{{ part.text }}{% elif part.type == 'image' %}<image>{% endif %}{% endfor %}
{%- endif %}
{%- if m.role == 'assistant' %}{% generation %}{{ m.content if m.content is string else '' }}{% endgeneration %}{% endif %}
{%- if m.tool_calls %}{% for c in m.tool_calls %}<call>{{ c.function | tojson }}</call>{% endfor %}{% endif %}
{%- if m.role == 'tool' %} (for {{ m.tool_call_id | default('?') }}){% endif %}
{% endfor %}
{%- if add_generation_prompt %}<|assistant|>{% endif %}
{{- strftime_now('%Y-%m-%d %H:%M %d %b %Y') }})JINJA"},
    };
    return t;
}

// Conversations: system/user/assistant turns, tool calls and results,
// content parts, odd text, and none at all.
const std::vector<std::string>& conversations() {
    static const std::vector<std::string> c = {
        R"([{"role":"system","content":"You are terse."},{"role":"user","content":"  Hello there  "},{"role":"assistant","content":"Hi."},{"role":"user","content":"What is 2+2?"}])",
        R"([{"role":"user","content":"héllo 😀 中文\n\"quoted\" \\ back <tag> & 'apos'"}])",
        R"([{"role":"user","content":"Weather in Paris?"},{"role":"assistant","content":"","tool_calls":[{"type":"function","function":{"name":"get_weather","arguments":{"city":"Paris","unit":"celsius","days":3}}}]},{"role":"tool","content":"{\"temp\": 21}","tool_call_id":"call_1"},{"role":"assistant","content":"21 °C."}])",
        R"([{"role":"user","content":[{"type":"text","text":"What is in "},{"type":"image"},{"type":"text","text":"this picture?"}]}])",
        R"([{"role":"user","content":"one"},{"role":"user","content":"two in a row"}])",
        R"([])",
    };
    return c;
}

const char* tools_json =
    R"([{"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name, e.g. Zürich"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"]}}}])";

} // namespace

TEST_CASE("templates the project writes render as Python Jinja2 renders them", "[text][jinja]") {
    std::vector<render_case> cases;
    for (const auto& [name, source] : project_templates()) {
        for (std::size_t k = 0; k < conversations().size(); ++k) {
            for (const bool agp : {false, true}) {
                render_case rc;
                rc.name = name + " / conversation " + std::to_string(k) + (agp ? " / add_generation_prompt" : "");
                rc.source = source;
                rc.context_json = std::string(R"({"bos_token":"<s>","eos_token":"</s>","add_generation_prompt":)") +
                                  (agp ? "true" : "false") + ",\"tools\":" + (k % 2 ? "null" : tools_json) +
                                  ",\"messages\":" + conversations()[k] + "}";
                cases.push_back(std::move(rc));
            }
        }
    }
    std::string report;
    const auto bad = compare_with_python(cases, report);
    INFO(report);
    CHECK(bad == 0);

    // The alternation check did refuse, and with the template's words.
    const auto refused = ours(cases[7 * conversations().size() * 2 + 4 * 2]);
    CHECK(refused.raised);
    CHECK_THAT(refused.text, Contains("Conversation roles must alternate"));
}

TEST_CASE("templates that go wrong at render time fail as Python's do", "[text][jinja]") {
    const std::vector<std::string> sources = {
        "{{ messages.append(1) }}",          // the sandbox is immutable
        "{% set x = [] %}{{ x.append(1) }}", // even for the template's own lists
        "{{ nothing.attr }}",                // attribute of undefined
        "{{ 1 / 0 }}",
        "{{ 'a' + 1 }}",
        "{{ raise_exception('stop here') }}",
        "{{ messages[0].content.nope() }}",
        "{% for a, b in [1] %}{% endfor %}", // cannot unpack
        "{{ {'a': 1} | dictsort(by='nothing') }}",
        "{{ undefined_function() }}",
    };
    std::vector<render_case> cases;
    for (const auto& s : sources) cases.push_back({s, s, R"({"messages":[{"role":"user","content":"x"}]})", true, {}});
    std::string report;
    const auto bad = compare_with_python(cases, report);
    INFO(report);
    CHECK(bad == 0);
}

TEST_CASE("a template using what is not supported fails at load with its line and column", "[text][jinja]") {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"hello\n  {% include 'other.jinja' %}", "chat_template.jinja:2:"},
        {"{% extends 'base' %}", "chat_template.jinja:1:"},
        {"{% import 'm' as m %}", "chat_template.jinja:1:"},
        {"line1\nline2 {{ x | no_such_filter }}", "chat_template.jinja:2:"},
        {"{% if x is no_such_test %}{% endif %}", "chat_template.jinja:1:"},
        {"{% for x in y %}", "chat_template.jinja:1:"}, // never closed
        {"{{ x ", "chat_template.jinja:1:"},
        {"{% macro f(*args) %}{% endmacro %}", "chat_template.jinja:1:"},
        {"{% with a = 1 %}{% endwith %}", "chat_template.jinja:1:"},
        {"a\nb\nc {% endfor %}", "chat_template.jinja:3:"},
    };
    for (const auto& [source, where] : bad) {
        INFO(source);
        try {
            chat_template t(source, "chat_template.jinja");
            FAIL("loaded");
        } catch (const text_error& e) {
            CHECK_THAT(e.what(), Contains(where));
        }
    }
}

namespace {

// A model folder in the scratch directory with the real configuration files
// of `rel` and, where the family's tokenizer.json is not in ../shared, GPT-2's
// standing in for it (rendering does not look at the vocabulary).
std::string folder_of(const std::string& rel) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(scratch()) / "folders" / rel;
    fs::create_directories(dir);
    for (const char* f : {"tokenizer_config.json", "chat_template.jinja", "tokenizer.json", "generation_config.json"}) {
        const fs::path from = shared_tokenizers() / rel / f;
        if (fs::exists(from) && !fs::exists(dir / f)) fs::copy_file(from, dir / f);
    }
    if (!fs::exists(dir / "tokenizer.json")) fs::copy_file(shared_tokenizers() / "gpt2/tokenizer.json", dir / "tokenizer.json");
    return dir.string();
}

} // namespace

TEST_CASE("the chat templates of real model folders render as transformers would", "[text][jinja]") {
    const std::vector<std::string> folders = {
        "llama2/tinyllama-1.1b-chat-v1.0", "phi3/phi-3-mini-4k-instruct", "phi3/phi-3-mini-128k-instruct",
        "qwen2/qwen2.5-instruct",          "qwen2/qwen3",                 "qwen2/qwen1.5-chat",
        "llama3/meta-llama-3-8b-instruct", "gemma/gemma-it",              "smollm3",
        "extras/gpt-oss",                  "extras/phi-4-mini"};
    std::vector<render_case> cases;
    for (const auto& rel : folders) {
        const auto dir = folder_of(rel);
        for (std::size_t k = 0; k < conversations().size(); ++k) {
            for (const bool agp : {false, true}) {
                render_case rc;
                rc.name = rel + " / conversation " + std::to_string(k) + (agp ? " / add_generation_prompt" : "");
                rc.folder = dir;
                rc.context_json = std::string(R"({"add_generation_prompt":)") + (agp ? "true" : "false") +
                                  ",\"tools\":" + (k == 2 ? tools_json : "null") + ",\"messages\":" + conversations()[k] + "}";
                cases.push_back(std::move(rc));
            }
        }
    }
    std::string report;
    const auto bad = compare_with_python(cases, report);
    INFO(report);
    CHECK(bad == 0);
}

TEST_CASE("a rendered prompt is tokenized without a second BOS", "[text][jinja]") {
    const auto m = model_text::load(folder_of("llama2/tinyllama-1.1b-chat-v1.0"));
    const std::string prompt = m.render_chat_json(R"([{"role":"user","content":"Hi"}])", true);
    REQUIRE(prompt.rfind("<|user|>", 0) == 0);
    // TinyLlama's template has no BOS; the tokenizer's template adds one.
    const auto with = m.tokens().encode(prompt, true);
    const auto without = m.tokens().encode(prompt, false);
    REQUIRE(m.bos_id());
    CHECK(with.front() == *m.bos_id());
    CHECK(without.front() != *m.bos_id());

    // Phi-3 128k's template starts with {{ bos_token }}: encoding the prompt
    // without special tokens keeps exactly one.
    const auto phi = model_text::load(folder_of("phi3/phi-3-mini-128k-instruct"));
    const std::string p2 = phi.render_chat_json(R"([{"role":"user","content":"Hi"}])", true);
    REQUIRE(p2.rfind("<s>", 0) == 0);
    const auto ids = phi.tokens().encode(p2, false);
    CHECK(ids.front() == *phi.bos_id());
    CHECK(ids[1] != *phi.bos_id());
}

TEST_CASE("an operator's fallback template serves a folder without one, and never replaces a folder's own", "[text][jinja]") {
    tether::testkit::temp_dir dir("tether-fallback-");
    const std::filesystem::path folder = std::filesystem::path(dir.path()) / "gpt2";
    std::filesystem::create_directories(folder);
    std::filesystem::copy_file(shared_tokenizers() / "gpt2/tokenizer.json", folder / "tokenizer.json");
    const auto file = std::filesystem::path(dir.path()) / "plain.jinja";
    std::ofstream(file) << "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                           "{% if add_generation_prompt %}assistant:{% endif %}";
    CHECK(model_text::load(folder).chat() == nullptr);
    const auto m = model_text::load(folder, file);
    REQUIRE(m.chat() != nullptr);
    CHECK(m.render_chat_json(R"([{"role":"user","content":"Hi"}])", true) == "user: Hi\nassistant:");
    // A folder's own template wins.
    const auto own = model_text::load(folder_of("llama2/tinyllama-1.1b-chat-v1.0"), file);
    CHECK(own.render_chat_json(R"([{"role":"user","content":"Hi"}])", true).rfind("<|user|>", 0) == 0);
    CHECK_THROWS_WITH(model_text::load(folder, std::filesystem::path(dir.path()) / "missing.jinja"),
                      Catch::Contains("no such file (--chat-template)"));
    std::ofstream(file, std::ios::trunc) << "{% for m in messages %}";
    CHECK_THROWS_AS(model_text::load(folder, file), text_error);
}
