#include "text/jinja/expression_parser.hpp"

#include "text/jinja/parser.hpp"

#include <charconv>
#include <cstdlib>

namespace tether::agent::text::jinja {

bool expression_parser::tuple_end(std::initializer_list<std::string_view> extra) const {
    const token& t = cur();
    if (t.type == tok::variable_end || t.type == tok::block_end || t.type == tok::eof) return true;
    if (t.type == tok::op && t.text == ")") return true;
    for (auto e : extra)
        if (t.type == tok::name && t.text == e) return true;
    return false;
}

expr_ptr expression_parser::tuple_expr(bool with_condexpr, std::initializer_list<std::string_view> extra,
                    bool explicit_parens) {
    const token at = cur();
    std::vector<expr_ptr> items;
    bool is_tuple = false;
    while (true) {
        if (!items.empty()) expect_op(",");
        if (tuple_end(extra)) break;
        items.push_back(expression(with_condexpr));
        if (is_op(",")) is_tuple = true;
        else break;
    }
    if (!is_tuple) {
        if (!items.empty()) return std::move(items.front());
        if (!explicit_parens) fail("expected an expression, got " + describe(cur()));
    }
    auto t = make(expr_kind::tuple, at);
    t->children = std::move(items);
    return t;
}

expr_ptr expression_parser::expression(bool with_condexpr) {
    depth_guard guard(*this);
    return with_condexpr ? condexpr() : or_expr();
}

expr_ptr expression_parser::condexpr() {
    auto e = or_expr();
    while (is_name("if")) {
        const token at = cur();
        advance();
        auto cond = or_expr();
        expr_ptr otherwise;
        if (skip_name("else")) otherwise = condexpr();
        auto c = make(expr_kind::condition, at);
        c->children.push_back(std::move(cond));
        c->children.push_back(std::move(e));
        c->children.push_back(std::move(otherwise)); // may be null: undefined
        e = std::move(c);
    }
    return e;
}

expr_ptr expression_parser::binary(expr_ptr left, const token& at, std::string op, expr_ptr right) {
    auto b = make(expr_kind::binary, at);
    b->name = std::move(op);
    b->children.push_back(std::move(left));
    b->children.push_back(std::move(right));
    return b;
}

expr_ptr expression_parser::or_expr() {
    auto left = and_expr();
    while (is_name("or")) {
        const token at = cur();
        advance();
        left = binary(std::move(left), at, "or", and_expr());
    }
    return left;
}

expr_ptr expression_parser::and_expr() {
    auto left = not_expr();
    while (is_name("and")) {
        const token at = cur();
        advance();
        left = binary(std::move(left), at, "and", not_expr());
    }
    return left;
}

expr_ptr expression_parser::not_expr() {
    if (is_name("not")) {
        const token at = cur();
        advance();
        depth_guard guard(*this);
        auto u = make(expr_kind::unary, at);
        u->name = "not";
        u->children.push_back(not_expr());
        return u;
    }
    return compare();
}

expr_ptr expression_parser::compare() {
    const token at = cur();
    auto first = math1();
    std::vector<std::string> ops;
    std::vector<expr_ptr> rest;
    while (true) {
        if (cur().type == tok::op &&
            (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
             cur().text == ">" || cur().text == ">=")) {
            ops.push_back(cur().text);
            advance();
        } else if (is_name("in")) {
            ops.emplace_back("in");
            advance();
        } else if (is_name("not") && look().type == tok::name && look().text == "in") {
            ops.emplace_back("notin");
            advance();
            advance();
        } else {
            break;
        }
        rest.push_back(math1());
    }
    if (ops.empty()) return first;
    auto c = make(expr_kind::compare, at);
    c->children.push_back(std::move(first));
    for (auto& r : rest) c->children.push_back(std::move(r));
    c->ops = std::move(ops);
    return c;
}

expr_ptr expression_parser::math1() {
    auto left = concat();
    while (is_op("+") || is_op("-")) {
        const token at = cur();
        advance();
        left = binary(std::move(left), at, at.text, concat());
    }
    return left;
}

expr_ptr expression_parser::concat() {
    auto left = math2();
    while (is_op("~")) {
        const token at = cur();
        advance();
        left = binary(std::move(left), at, "~", math2());
    }
    return left;
}

expr_ptr expression_parser::math2() {
    auto left = power();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
        const token at = cur();
        advance();
        left = binary(std::move(left), at, at.text, power());
    }
    return left;
}

expr_ptr expression_parser::power() {
    auto left = unary(true);
    while (is_op("**")) {
        const token at = cur();
        advance();
        left = binary(std::move(left), at, "**", unary(true));
    }
    return left;
}

expr_ptr expression_parser::unary(bool with_filter) {
    depth_guard guard(*this);
    expr_ptr e;
    if (is_op("-") || is_op("+")) {
        const token at = cur();
        advance();
        e = make(expr_kind::unary, at);
        e->name = at.text;
        e->children.push_back(unary(false));
    } else {
        e = primary();
    }
    e = postfix(std::move(e));
    if (with_filter) e = filter_expr(std::move(e));
    return e;
}

expr_ptr expression_parser::primary() {
    const token t = cur();
    switch (t.type) {
    case tok::name: {
        advance();
        auto e = make(expr_kind::literal, t);
        if (t.text == "true" || t.text == "True") e->literal = value(true);
        else if (t.text == "false" || t.text == "False") e->literal = value(false);
        else if (t.text == "none" || t.text == "None") e->literal = value::none();
        else {
            e->kind = expr_kind::name;
            e->name = t.text;
        }
        return e;
    }
    case tok::string: {
        std::string s = t.text;
        advance();
        while (cur().type == tok::string) { // adjacent literals join
            s += cur().text;
            advance();
        }
        auto e = make(expr_kind::literal, t);
        e->literal = value(std::move(s));
        return e;
    }
    case tok::integer: {
        advance();
        auto e = make(expr_kind::literal, t);
        std::int64_t v = 0;
        auto [p, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
        if (ec != std::errc{}) e->literal = value(std::strtod(t.text.c_str(), nullptr));
        else e->literal = value(v);
        return e;
    }
    case tok::floating: {
        advance();
        auto e = make(expr_kind::literal, t);
        e->literal = value(std::strtod(t.text.c_str(), nullptr));
        return e;
    }
    case tok::op:
        if (t.text == "(") {
            advance();
            auto e = tuple_expr(true, {}, true);
            expect_op(")");
            return e;
        }
        if (t.text == "[") {
            advance();
            auto e = make(expr_kind::list, t);
            while (!is_op("]")) {
                if (!e->children.empty()) expect_op(",");
                if (is_op("]")) break;
                e->children.push_back(expression(true));
            }
            expect_op("]");
            return e;
        }
        if (t.text == "{") {
            advance();
            auto e = make(expr_kind::dict, t);
            while (!is_op("}")) {
                if (!e->children.empty()) expect_op(",");
                if (is_op("}")) break;
                e->children.push_back(expression(true));
                expect_op(":");
                e->children.push_back(expression(true));
            }
            expect_op("}");
            return e;
        }
        break;
    default:
        break;
    }
    fail("unexpected " + describe(t));
}

expr_ptr expression_parser::postfix(expr_ptr e) {
    while (true) {
        if (is_op(".") || is_op("[")) e = subscript(std::move(e));
        else if (is_op("(")) e = call(std::move(e));
        else return e;
    }
}

expr_ptr expression_parser::filter_expr(expr_ptr e) {
    while (true) {
        if (is_op("|")) {
            advance();
            e = filter_call(std::move(e));
        } else if (is_name("is")) {
            e = test(std::move(e));
        } else if (is_op("(")) {
            e = call(std::move(e));
        } else {
            return e;
        }
    }
}

expr_ptr expression_parser::subscript(expr_ptr obj) {
    const token at = cur();
    advance();
    if (at.text == ".") {
        const token attr = cur();
        advance();
        if (attr.type == tok::name) {
            auto g = make(expr_kind::getattr, at);
            g->name = attr.text;
            g->children.push_back(std::move(obj));
            return g;
        }
        if (attr.type != tok::integer) fail_at("expected name or number", attr);
        auto idx = make(expr_kind::literal, attr);
        idx->literal = value(static_cast<std::int64_t>(std::strtoll(attr.text.c_str(), nullptr, 10)));
        auto g = make(expr_kind::getitem, at);
        g->children.push_back(std::move(obj));
        g->children.push_back(std::move(idx));
        return g;
    }
    // [ … ]: an index or a slice (a tuple of several is refused: no use in templates)
    std::vector<expr_ptr> parts; // slice: start, stop, step (null when absent)
    bool is_slice = false;
    if (is_op(":")) {
        is_slice = true;
        parts.emplace_back(nullptr);
    } else {
        parts.push_back(expression(true));
        if (is_op(":")) is_slice = true;
    }
    if (is_slice) {
        advance(); // the first ':'
        if (is_op(":") || is_op("]")) parts.emplace_back(nullptr);
        else parts.push_back(expression(true));
        if (skip_op(":")) {
            if (is_op("]")) parts.emplace_back(nullptr);
            else parts.push_back(expression(true));
        } else {
            parts.emplace_back(nullptr);
        }
    }
    expect_op("]");
    auto g = make(is_slice ? expr_kind::slice : expr_kind::getitem, at);
    g->children.push_back(std::move(obj));
    for (auto& p : parts) g->children.push_back(std::move(p));
    return g;
}

// ( args, name=value, *list, **dict ), in Jinja2's order.
void expression_parser::call_args(expr& into) {
    expect_op("(");
    bool comma = false;
    while (!is_op(")")) {
        if (comma) {
            expect_op(",");
            if (is_op(")")) break;
        }
        if (is_op("*") || is_op("**")) {
            const bool keywords = is_op("**");
            if (keywords ? into.star_kwargs != nullptr : (into.star_args != nullptr || into.star_kwargs != nullptr))
                fail(keywords ? "only one **dict argument" : "one *list argument, before any **dict");
            advance();
            (keywords ? into.star_kwargs : into.star_args) = expression(true);
            comma = true;
            continue;
        }
        if (into.star_kwargs) fail("an argument after **dict");
        if (cur().type == tok::name && look().type == tok::op && look().text == "=") {
            std::string key = cur().text;
            advance();
            advance();
            into.kwargs.push_back({std::move(key), expression(true)});
        } else {
            if (!into.kwargs.empty()) fail("a positional argument after a keyword argument");
            into.children.push_back(expression(true));
        }
        comma = true;
    }
    expect_op(")");
}

expr_ptr expression_parser::call(expr_ptr callee) {
    auto c = make(expr_kind::call, cur());
    c->children.push_back(std::move(callee));
    call_args(*c);
    return c;
}

expr_ptr expression_parser::filter_call(expr_ptr operand) {
    const token at = cur();
    std::string name = expect_name();
    if (!known_filter(name)) fail_at("no filter named '" + name + "'", at);
    auto f = make(expr_kind::filter, at);
    f->name = std::move(name);
    f->children.push_back(std::move(operand)); // null inside {% filter %} / {% set %} blocks
    if (is_op("(")) call_args(*f);
    return f;
}

expr_ptr expression_parser::test(expr_ptr operand) {
    const token at = cur();
    advance(); // is
    const bool negated = skip_name("not");
    const token name_tok = cur();
    std::string name = expect_name();
    if (!known_test(name)) fail_at("no test named '" + name + "'", name_tok);
    auto t = make(expr_kind::test, at);
    t->name = std::move(name);
    t->negated = negated;
    t->children.push_back(std::move(operand));
    if (is_op("(")) {
        call_args(*t);
    } else if ((cur().type == tok::name || cur().type == tok::string || cur().type == tok::integer ||
                cur().type == tok::floating || is_op("(") || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
        if (is_name("is")) fail("You cannot chain multiple tests with is");
        t->children.push_back(postfix(primary()));
    }
    return t;
}

} // namespace tether::agent::text::jinja
