#include "text/jinja/parser.hpp"

#include "text/jinja/expression_parser.hpp"
#include "text/unicode.hpp"

#include <initializer_list>

namespace tether::agent::text::jinja {
namespace {

// The statements ({% if %}, {% for %}, {% set %}, macros, call and filter
// blocks, …) over the expression parser.
class parser final : expression_parser {
  public:
    explicit parser(std::vector<token> tokens) : expression_parser(std::move(tokens)) {}

    template_ast run() {
        template_ast ast;
        ast.nodes = statements({});
        if (cur().type != tok::eof) fail("unexpected '" + cur().text + "'");
        return ast;
    }

  private:
    // ------------------------------------------------------------ statements
    // Parses until one of `ends` is the tag name at a block begin (left unconsumed).
    body statements(std::initializer_list<std::string_view> ends) {
        depth_guard guard(*this);
        body out;
        while (true) {
            const token& t = cur();
            if (t.type == tok::eof) {
                if (ends.size() > 0) fail("unexpected end of template, expected '" + std::string(*ends.begin()) + "'");
                return out;
            }
            if (t.type == tok::data) {
                auto n = make_node(node_kind::text, t);
                n->text = t.text;
                out.push_back(std::move(n));
                advance();
                continue;
            }
            if (t.type == tok::variable_begin) {
                advance();
                auto n = make_node(node_kind::output, t);
                n->expression = tuple_expr(true);
                if (cur().type != tok::variable_end) fail("expected '}}', got " + describe(cur()));
                advance();
                out.push_back(std::move(n));
                continue;
            }
            if (t.type == tok::block_begin) {
                const token& name = look();
                for (auto e : ends)
                    if (name.type == tok::name && name.text == e) return out;
                advance();
                out.push_back(statement());
                continue;
            }
            fail("unexpected " + describe(t));
        }
    }

    // After a `{% name ... %}` that ends a body: consume `{% end %}`.
    void end_tag(std::string_view name) {
        if (cur().type != tok::block_begin) fail("expected '{% " + std::string(name) + " %}'");
        advance();
        if (!skip_name(name)) fail("expected '" + std::string(name) + "'");
        expect_block_end();
    }

    node_ptr statement() {
        const token& t = cur();
        if (t.type != tok::name) fail("expected a tag name, got " + describe(t));
        const std::string kw = t.text;
        if (kw == "if") return if_statement();
        if (kw == "for") return for_statement();
        if (kw == "set") return set_statement();
        if (kw == "macro") return macro_statement();
        if (kw == "call") return call_statement();
        if (kw == "filter") return filter_statement();
        if (kw == "generation") {
            advance();
            expect_block_end();
            auto n = make_node(node_kind::generation, t);
            n->block = statements({"endgeneration"});
            end_tag("endgeneration");
            return n;
        }
        if (kw == "break" || kw == "continue") {
            if (loop_depth_ == 0) fail("'" + kw + "' outside of a loop");
            advance();
            expect_block_end();
            return make_node(kw == "break" ? node_kind::break_ : node_kind::continue_, t);
        }
        if (kw == "raw") fail("unexpected 'raw'");
        fail("unknown tag '" + kw + "' (chat templates may use if, for, set, macro, call, filter, break, "
             "continue and generation)");
    }

    node_ptr if_statement() {
        auto n = make_node(node_kind::if_, cur());
        advance(); // if
        while (true) {
            auto cond = tuple_expr(false);
            expect_block_end();
            auto b = statements({"elif", "else", "endif"});
            n->branches.emplace_back(std::move(cond), std::move(b));
            advance(); // {%
            const std::string which = cur().text;
            advance();
            if (which == "elif") continue;
            if (which == "else") {
                expect_block_end();
                n->else_body = statements({"endif"});
                end_tag("endif");
            } else {
                expect_block_end();
            }
            return n;
        }
    }

    // Names for `for a, b in` / `set a, b =`.
    std::vector<std::string> target_names() {
        std::vector<std::string> names;
        const bool paren = skip_op("(");
        while (true) {
            if (cur().type != tok::name) fail("expected a name to assign to, got " + describe(cur()));
            names.push_back(cur().text);
            advance();
            if (!skip_op(",")) break;
            if (cur().type != tok::name || is_name("in")) break; // a trailing comma
        }
        if (paren) expect_op(")");
        return names;
    }

    node_ptr for_statement() {
        auto n = make_node(node_kind::for_, cur());
        advance(); // for
        n->targets = target_names();
        if (!skip_name("in")) fail("expected 'in', got " + describe(cur()));
        n->expression = tuple_expr(false, {"recursive"});
        if (skip_name("if")) n->loop_filter = expression(true);
        if (is_name("recursive")) fail("recursive loops are not supported in chat templates");
        expect_block_end();
        ++loop_depth_;
        n->block = statements({"endfor", "else"});
        --loop_depth_;
        advance(); // {%
        const std::string which = cur().text;
        advance();
        expect_block_end();
        if (which == "else") {
            n->else_body = statements({"endfor"});
            end_tag("endfor");
        }
        return n;
    }

    node_ptr set_statement() {
        const token& at = cur();
        advance(); // set
        // ns.attr = …
        if (cur().type == tok::name && look().type == tok::op && look().text == ".") {
            auto n = make_node(node_kind::set, at);
            auto obj = make(expr_kind::name, cur());
            obj->name = cur().text;
            advance();
            advance(); // .
            n->target_object = std::move(obj);
            n->target_attribute = expect_name();
            expect_op("=");
            n->expression = tuple_expr(true);
            expect_block_end();
            return n;
        }
        auto names = target_names();
        if (skip_op("=")) {
            auto n = make_node(node_kind::set, at);
            n->targets = std::move(names);
            n->expression = tuple_expr(true);
            expect_block_end();
            return n;
        }
        if (names.size() != 1) fail("a block set assigns one name");
        auto n = make_node(node_kind::set_block, at);
        n->targets = std::move(names);
        while (skip_op("|")) n->filters.push_back(filter_call(nullptr));
        expect_block_end();
        n->block = statements({"endset"});
        end_tag("endset");
        return n;
    }

    std::vector<macro_param> signature() {
        std::vector<macro_param> params;
        expect_op("(");
        while (!is_op(")")) {
            if (!params.empty()) expect_op(",");
            if (is_op(")")) break;
            macro_param p;
            p.name = expect_name();
            if (skip_op("=")) p.default_value = expression(true);
            params.push_back(std::move(p));
        }
        expect_op(")");
        return params;
    }

    node_ptr macro_statement() {
        auto n = make_node(node_kind::macro, cur());
        advance(); // macro
        n->macro_name = expect_name();
        n->params = signature();
        expect_block_end();
        const int saved = loop_depth_;
        loop_depth_ = 0;
        n->block = statements({"endmacro"});
        loop_depth_ = saved;
        end_tag("endmacro");
        return n;
    }

    node_ptr call_statement() {
        auto n = make_node(node_kind::call_block, cur());
        advance(); // call
        if (is_op("(")) n->params = signature();
        auto c = expression(true);
        if (c->kind != expr_kind::call) fail("expected a call");
        n->expression = std::move(c);
        expect_block_end();
        n->block = statements({"endcall"});
        end_tag("endcall");
        return n;
    }

    node_ptr filter_statement() {
        auto n = make_node(node_kind::filter_block, cur());
        advance(); // filter
        n->filters.push_back(filter_call(nullptr));
        while (skip_op("|")) n->filters.push_back(filter_call(nullptr));
        expect_block_end();
        n->block = statements({"endfilter"});
        end_tag("endfilter");
        return n;
    }

    int loop_depth_ = 0;
};

} // namespace

template_ast parse(std::string_view source, const lexer_options& options) {
    if (const auto good = first_invalid_utf8(source); good != std::string_view::npos) {
        // Where: the line and column of the first bad byte.
        int line = 1, column = 1;
        for (std::size_t i = 0; i < good && i < source.size(); ++i) {
            if (source[i] == '\n') {
                ++line;
                column = 1;
            } else if ((static_cast<unsigned char>(source[i]) & 0xC0) != 0x80) {
                ++column;
            }
        }
        throw template_error("the template is not valid UTF-8", line, column);
    }
    return parser(lex(source, options)).run();
}

} // namespace tether::agent::text::jinja
