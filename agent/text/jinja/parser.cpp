#include "text/jinja/parser.hpp"

#include "text/unicode.hpp"

#include <charconv>
#include <cstdlib>
#include <initializer_list>

namespace tether::agent::text::jinja {
namespace {

constexpr int max_depth = 200;

class parser {
  public:
    explicit parser(std::vector<token> tokens) : t_(std::move(tokens)) {}

    template_ast run() {
        template_ast ast;
        ast.nodes = statements({});
        if (cur().type != tok::eof) fail("unexpected '" + cur().text + "'");
        return ast;
    }

  private:
    // ------------------------------------------------------------ tokens
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
        explicit depth_guard(parser& p) : p_(p) {
            if (++p_.depth_ > max_depth) p_.fail("the template is nested too deeply");
        }
        ~depth_guard() { --p_.depth_; }
        parser& p_;
    };

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

    // ------------------------------------------------------------ expressions
    bool tuple_end(std::initializer_list<std::string_view> extra) const {
        const token& t = cur();
        if (t.type == tok::variable_end || t.type == tok::block_end || t.type == tok::eof) return true;
        if (t.type == tok::op && t.text == ")") return true;
        for (auto e : extra)
            if (t.type == tok::name && t.text == e) return true;
        return false;
    }

    expr_ptr tuple_expr(bool with_condexpr, std::initializer_list<std::string_view> extra = {},
                        bool explicit_parens = false) {
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

    expr_ptr expression(bool with_condexpr) {
        depth_guard guard(*this);
        return with_condexpr ? condexpr() : or_expr();
    }

    expr_ptr condexpr() {
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

    expr_ptr binary(expr_ptr left, const token& at, std::string op, expr_ptr right) {
        auto b = make(expr_kind::binary, at);
        b->name = std::move(op);
        b->children.push_back(std::move(left));
        b->children.push_back(std::move(right));
        return b;
    }

    expr_ptr or_expr() {
        auto left = and_expr();
        while (is_name("or")) {
            const token at = cur();
            advance();
            left = binary(std::move(left), at, "or", and_expr());
        }
        return left;
    }

    expr_ptr and_expr() {
        auto left = not_expr();
        while (is_name("and")) {
            const token at = cur();
            advance();
            left = binary(std::move(left), at, "and", not_expr());
        }
        return left;
    }

    expr_ptr not_expr() {
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

    expr_ptr compare() {
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

    expr_ptr math1() {
        auto left = concat();
        while (is_op("+") || is_op("-")) {
            const token at = cur();
            advance();
            left = binary(std::move(left), at, at.text, concat());
        }
        return left;
    }

    expr_ptr concat() {
        auto left = math2();
        while (is_op("~")) {
            const token at = cur();
            advance();
            left = binary(std::move(left), at, "~", math2());
        }
        return left;
    }

    expr_ptr math2() {
        auto left = power();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const token at = cur();
            advance();
            left = binary(std::move(left), at, at.text, power());
        }
        return left;
    }

    expr_ptr power() {
        auto left = unary(true);
        while (is_op("**")) {
            const token at = cur();
            advance();
            left = binary(std::move(left), at, "**", unary(true));
        }
        return left;
    }

    expr_ptr unary(bool with_filter) {
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

    expr_ptr primary() {
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

    expr_ptr postfix(expr_ptr e) {
        while (true) {
            if (is_op(".") || is_op("[")) e = subscript(std::move(e));
            else if (is_op("(")) e = call(std::move(e));
            else return e;
        }
    }

    expr_ptr filter_expr(expr_ptr e) {
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

    expr_ptr subscript(expr_ptr obj) {
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
    void call_args(expr& into) {
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

    expr_ptr call(expr_ptr callee) {
        auto c = make(expr_kind::call, cur());
        c->children.push_back(std::move(callee));
        call_args(*c);
        return c;
    }

    expr_ptr filter_call(expr_ptr operand) {
        const token at = cur();
        std::string name = expect_name();
        if (!known_filter(name)) fail_at("no filter named '" + name + "'", at);
        auto f = make(expr_kind::filter, at);
        f->name = std::move(name);
        f->children.push_back(std::move(operand)); // null inside {% filter %} / {% set %} blocks
        if (is_op("(")) call_args(*f);
        return f;
    }

    expr_ptr test(expr_ptr operand) {
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

    std::vector<token> t_;
    std::size_t pos_ = 0;
    int depth_ = 0;
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
