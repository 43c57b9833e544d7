#pragma once
// The expression half of the template parser: a cursor over the lexer's
// tokens and Jinja2's expression grammar with its precedence (conditional,
// or/and/not, comparisons and tests, + - ~ * / // % **, unary, filters,
// calls, attributes, subscripts and slices, literals). parser.cpp's
// statement parser builds on it. Internal to agent/text/jinja.

#include "text/jinja/ast.hpp"
#include "text/jinja/lexer.hpp"

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent::text::jinja {

class expression_parser {
  public:
    explicit expression_parser(std::vector<token> tokens) : t_(std::move(tokens)) {}

  protected:
    static constexpr int max_depth = 200;

    const token& cur() const { return t_[pos_]; }
    const token& look() const { return t_[std::min(pos_ + 1, t_.size() - 1)]; }
    void advance() {
        if (pos_ + 1 < t_.size()) ++pos_;
    }
    [[noreturn]] void fail(const std::string& message) const { fail_at(message, cur()); }
    [[noreturn]] static void fail_at(const std::string& message, const token& at) {
        throw template_error(message, at.line, at.column);
    }
    bool is_op(std::string_view op) const { return cur().type == tok::op && cur().text == op; }
    bool is_name(std::string_view n) const { return cur().type == tok::name && cur().text == n; }
    bool skip_op(std::string_view op) {
        if (!is_op(op)) return false;
        advance();
        return true;
    }
    bool skip_name(std::string_view n) {
        if (!is_name(n)) return false;
        advance();
        return true;
    }
    void expect_op(std::string_view op) {
        if (!skip_op(op)) fail("expected '" + std::string(op) + "', got " + describe(cur()));
    }
    std::string expect_name() {
        if (cur().type != tok::name) fail("expected a name, got " + describe(cur()));
        std::string n = cur().text;
        advance();
        return n;
    }
    void expect_block_end() {
        if (cur().type != tok::block_end) fail("expected '%}', got " + describe(cur()));
        advance();
    }
    static std::string describe(const token& t) {
        switch (t.type) {
        case tok::eof: return "end of template";
        case tok::block_end: return "'%}'";
        case tok::variable_end: return "'}}'";
        case tok::string: return "a string";
        default: return "'" + t.text + "'";
        }
    }

    expr_ptr make(expr_kind k, const token& at) {
        auto e = std::make_unique<expr>();
        e->kind = k;
        e->line = at.line;
        e->column = at.column;
        return e;
    }
    node_ptr make_node(node_kind k, const token& at) {
        auto n = std::make_unique<node>();
        n->kind = k;
        n->line = at.line;
        n->column = at.column;
        return n;
    }

    struct depth_guard {
        explicit depth_guard(expression_parser& p) : p_(p) {
            if (++p_.depth_ > max_depth) p_.fail("the template is nested too deeply");
        }
        ~depth_guard() { --p_.depth_; }
        expression_parser& p_;
    };

    // ------------------------------------------------------------ expressions
    bool tuple_end(std::initializer_list<std::string_view> extra) const;
    expr_ptr tuple_expr(bool with_condexpr, std::initializer_list<std::string_view> extra = {},
                        bool explicit_parens = false);
    expr_ptr expression(bool with_condexpr);
    expr_ptr condexpr();
    expr_ptr binary(expr_ptr left, const token& at, std::string op, expr_ptr right);
    expr_ptr or_expr();
    expr_ptr and_expr();
    expr_ptr not_expr();
    expr_ptr compare();
    expr_ptr math1();
    expr_ptr concat();
    expr_ptr math2();
    expr_ptr power();
    expr_ptr unary(bool with_filter);
    expr_ptr primary();
    expr_ptr postfix(expr_ptr e);
    expr_ptr filter_expr(expr_ptr e);
    expr_ptr subscript(expr_ptr obj);
    void call_args(expr& into);
    expr_ptr call(expr_ptr callee);
    expr_ptr filter_call(expr_ptr operand);
    expr_ptr test(expr_ptr operand);

    std::vector<token> t_;
    std::size_t pos_ = 0;
    int depth_ = 0;
};

} // namespace tether::agent::text::jinja
