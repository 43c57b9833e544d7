#include "text/jinja/interpreter.hpp"

#include "text/jinja/builtins.hpp"
#include "text/jinja/python_text.hpp"
#include "text/unicode.hpp"

#include <cmath>
#include <unordered_map>
#include <unordered_set>

namespace tether::agent::text::jinja {
namespace {

using frame = std::unordered_map<std::string, value>;
using frames = std::vector<std::shared_ptr<frame>>;

enum class flow { normal, break_, continue_ };

[[noreturn]] void fail_at(const std::string& message, const expr& e) {
    throw template_error(message, e.line, e.column);
}

class evaluator final : public runtime {
  public:
    evaluator(const value& variables, const render_options& options) : vars_(variables), opts_(options) {
        scopes_.push_back(std::make_shared<frame>()); // the template's top level
    }
    // A macro lives in a frame its closure holds: a cycle. Every frame a
    // closure captured is emptied here, which breaks them all.
    ~evaluator() override {
        for (const auto& f : captured_) f->clear();
    }
    evaluator(const evaluator&) = delete;
    evaluator& operator=(const evaluator&) = delete;

    std::string run(const template_ast& ast) {
        std::string out;
        exec(ast.nodes, out);
        return out;
    }

    // ------------------------------------------------------------ runtime
    value filter(std::string_view name, const value& operand, call_args& args) override {
        return apply_filter(*this, name, operand, args);
    }
    bool test(std::string_view name, const value& operand, call_args& args) override {
        return apply_test(*this, name, operand, args);
    }
    void spend(std::size_t items) override {
        work_ += items;
        if (work_ > opts_.limits.max_iterations)
            throw template_error("the template did too much work (more than " +
                                 std::to_string(opts_.limits.max_iterations) + " loop iterations)");
    }
    const render_options& options() const override { return opts_; }

  private:
    // ------------------------------------------------------------ names
    value lookup(const std::string& name) const {
        for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
            if (auto f = (*it)->find(name); f != (*it)->end()) return f->second;
        }
        if (vars_.is_dict())
            if (const value* v = vars_.entries().find(std::string_view(name))) return *v;
        return const_cast<evaluator*>(this)->global_or_undefined(name);
    }
    value global_or_undefined(const std::string& name) {
        value g = global_function(*this, name);
        if (!g.is_undefined()) return g;
        return value::undefined(name);
    }
    void assign(const std::string& name, value v) { (*scopes_.back())[name] = std::move(v); }

    void emit(std::string& out, std::string_view text) {
        if (out.size() + text.size() > opts_.limits.max_output)
            throw template_error("the rendered text is larger than " + std::to_string(opts_.limits.max_output) +
                                 " bytes");
        out.append(text);
    }

    // ------------------------------------------------------------ statements
    flow exec(const body& nodes, std::string& out) {
        for (const auto& n : nodes) {
            const flow f = exec(*n, out);
            if (f != flow::normal) return f;
        }
        return flow::normal;
    }

    flow exec(const node& n, std::string& out) {
        switch (n.kind) {
        case node_kind::text:
            emit(out, n.text);
            return flow::normal;
        case node_kind::output:
            emit(out, eval(*n.expression).str());
            return flow::normal;
        case node_kind::if_:
            for (const auto& [cond, b] : n.branches)
                if (eval(*cond).truthy()) return exec(b, out);
            return exec(n.else_body, out);
        case node_kind::for_:
            return exec_for(n, out);
        case node_kind::set: {
            value v = eval(*n.expression);
            if (n.target_object) {
                value ns = eval(*n.target_object);
                if (ns.type() != kind::ns)
                    throw template_error("cannot assign attribute on non-namespace object", n.line, n.column);
                check_storable(v, 0, n);
                ns.entries().set(value(n.target_attribute), std::move(v));
                return flow::normal;
            }
            assign_targets(n.targets, std::move(v), n.line, n.column);
            return flow::normal;
        }
        case node_kind::set_block: {
            std::string captured;
            exec(n.block, captured);
            value v(std::move(captured));
            for (const auto& f : n.filters) v = apply_filter_expr(*f, v);
            assign(n.targets[0], std::move(v));
            return flow::normal;
        }
        case node_kind::macro:
            assign(n.macro_name, make_macro(n, n.macro_name));
            return flow::normal;
        case node_kind::call_block: {
            // The body becomes the called macro's `caller`.
            const expr& call = *n.expression;
            const value callee = eval(*call.children[0]);
            if (!callee.is_callable()) throw template_error("the call block does not call a macro", n.line, n.column);
            call_args a = args_of(call, 1);
            a.keyword.emplace_back("caller", make_macro(n, "caller"));
            emit(out, callee.fn().fn(a).str());
            return flow::normal;
        }
        case node_kind::filter_block: {
            std::string captured;
            exec(n.block, captured);
            value v(std::move(captured));
            for (const auto& f : n.filters) v = apply_filter_expr(*f, v);
            emit(out, v.str());
            return flow::normal;
        }
        case node_kind::break_: return flow::break_;
        case node_kind::continue_: return flow::continue_;
        case node_kind::generation: return exec(n.block, out);
        }
        return flow::normal;
    }

    void assign_targets(const std::vector<std::string>& targets, value v, int line, int column) {
        if (targets.size() == 1) {
            assign(targets[0], std::move(v));
            return;
        }
        std::vector<value> items;
        try {
            items = iterate(v);
        } catch (const template_error&) {
            throw template_error("cannot unpack non-iterable " + v.type_name() + " object", line, column);
        }
        if (items.size() != targets.size())
            throw template_error("expected " + std::to_string(targets.size()) + " values to unpack, got " +
                                     std::to_string(items.size()),
                                 line, column);
        for (std::size_t i = 0; i < targets.size(); ++i) assign(targets[i], items[i]);
    }

    flow exec_for(const node& n, std::string& out) {
        value seq = eval(*n.expression);
        std::vector<value> items;
        try {
            items = iterate(seq);
        } catch (const template_error& e) {
            throw template_error(e.what(), n.expression->line, n.expression->column);
        }
        if (n.loop_filter) {
            // The filter sees each item under the loop's names; loop.* counts what passes.
            std::vector<value> kept;
            for (const auto& item : items) {
                spend(1);
                scopes_.push_back(std::make_shared<frame>());
                bool keep = false;
                try {
                    assign_targets(n.targets, item, n.line, n.column);
                    keep = eval(*n.loop_filter).truthy();
                } catch (...) {
                    scopes_.pop_back();
                    throw;
                }
                scopes_.pop_back();
                if (keep) kept.push_back(item);
            }
            items = std::move(kept);
        }
        if (items.empty()) return exec(n.else_body, out);
        const auto length = static_cast<std::int64_t>(items.size());
        for (std::int64_t i = 0; i < length; ++i) {
            spend(1);
            value loop = value::make_namespace();
            auto& l = loop.entries();
            l.set(value("index"), value(i + 1));
            l.set(value("index0"), value(i));
            l.set(value("revindex"), value(length - i));
            l.set(value("revindex0"), value(length - i - 1));
            l.set(value("first"), value(i == 0));
            l.set(value("last"), value(i == length - 1));
            l.set(value("length"), value(length));
            l.set(value("depth"), value(std::int64_t{1}));
            l.set(value("depth0"), value(std::int64_t{0}));
            l.set(value("previtem"), i > 0 ? items[static_cast<std::size_t>(i - 1)] : value::undefined("previtem"));
            l.set(value("nextitem"), i + 1 < length ? items[static_cast<std::size_t>(i + 1)] : value::undefined("nextitem"));
            l.set(value("cycle"), value::function("cycle", [i](call_args& a) {
                      if (a.positional.empty()) a.fail("no items for cycling given");
                      return a.positional[static_cast<std::size_t>(i) % a.positional.size()];
                  }));
            scopes_.push_back(std::make_shared<frame>());
            flow f = flow::normal;
            try {
                assign("loop", loop);
                assign_targets(n.targets, items[static_cast<std::size_t>(i)], n.line, n.column);
                f = exec(n.block, out);
            } catch (...) {
                scopes_.pop_back();
                throw;
            }
            scopes_.pop_back();
            if (f == flow::break_) break;
        }
        return flow::normal;
    }

    // A macro (or a call block's caller): a function that renders its body in
    // a scope of its own above the scopes it was defined in.
    value make_macro(const node& n, const std::string& name) {
        const frames closure = scopes_;
        for (const auto& f : closure)
            if (captured_set_.insert(f.get()).second) captured_.push_back(f);
        const node* def = &n;
        return value::function(name, [this, closure, def, name](call_args& a) {
            if (++call_depth_ > opts_.limits.max_call_depth) {
                --call_depth_;
                a.fail("macros call each other too deeply (more than " + std::to_string(opts_.limits.max_call_depth) + ")");
            }
            frames saved = std::move(scopes_);
            scopes_ = closure;
            scopes_.push_back(std::make_shared<frame>());
            std::string out;
            try {
                std::vector<value> varargs;
                const auto& params = def->params;
                for (std::size_t k = 0; k < a.positional.size(); ++k) {
                    if (k < params.size()) assign(params[k].name, a.positional[k]);
                    else varargs.push_back(a.positional[k]);
                }
                value kwargs = value::make_dict();
                for (const auto& [key, v] : a.keyword) {
                    bool is_param = key == "caller";
                    for (const auto& p : params) is_param = is_param || p.name == key;
                    if (is_param) assign(key, v);
                    else kwargs.entries().set(value(key), v);
                }
                for (std::size_t k = a.positional.size(); k < params.size(); ++k) {
                    if (scopes_.back()->contains(params[k].name)) continue;
                    assign(params[k].name,
                           params[k].default_value ? eval(*params[k].default_value) : value::undefined(params[k].name));
                }
                assign("varargs", value::list(std::move(varargs)));
                assign("kwargs", kwargs);
                exec(def->block, out);
            } catch (...) {
                scopes_ = std::move(saved);
                --call_depth_;
                throw;
            }
            scopes_ = std::move(saved);
            --call_depth_;
            return value(std::move(out));
        });
    }

    // ------------------------------------------------------------ expressions
    // Namespaces are the only mutable values, so the only way to build a
    // cycle (printing it would never end, freeing it never happens) or
    // nesting as deep as a loop is long (freeing it would overflow the
    // stack). What goes into a namespace holds no namespace and is at most
    // max_nesting deep.
    static constexpr int max_nesting = 100;
    void check_storable(const value& v, int depth, const node& at) {
        if (depth > max_nesting)
            throw template_error("a value nested more than " + std::to_string(max_nesting) + " deep", at.line, at.column);
        if (v.type() == kind::ns) throw template_error("a namespace cannot hold a namespace", at.line, at.column);
        if (v.is_list()) {
            for (const auto& item : v.items())
                if (item.is_list() || item.is_dict()) check_storable(item, depth + 1, at);
        } else if (v.is_dict()) {
            for (const auto& [k, item] : v.entries().items)
                if (item.is_list() || item.is_dict()) check_storable(item, depth + 1, at);
        }
    }

    call_args args_of(const expr& e, std::size_t first_child) {
        call_args a;
        a.line = e.line;
        a.column = e.column;
        for (std::size_t i = first_child; i < e.children.size(); ++i) a.positional.push_back(eval(*e.children[i]));
        if (e.star_args) {
            const value more = eval(*e.star_args);
            if (!more.is_list() && more.type() != kind::tuple)
                fail_at("argument after * must be a list or tuple, not " + more.type_name(), e);
            for (const auto& v : more.items()) a.positional.push_back(v);
        }
        for (const auto& kw : e.kwargs) a.keyword.emplace_back(kw.name, eval(*kw.value));
        if (e.star_kwargs) {
            const value more = eval(*e.star_kwargs);
            if (!more.is_dict()) fail_at("argument after ** must be a mapping, not " + more.type_name(), e);
            for (const auto& [k, v] : more.entries().items) {
                if (!k.is_string()) fail_at("keywords must be strings", e);
                a.keyword.emplace_back(k.as_string(), v);
            }
        }
        return a;
    }

    value apply_filter_expr(const expr& f, const value& operand) {
        call_args a = args_of(f, 1);
        try {
            return apply_filter(*this, f.name, operand, a);
        } catch (const template_raised&) {
            throw;
        } catch (const template_error& e) {
            if (e.line != 0) throw;
            fail_at(e.what(), f);
        }
    }

    value eval(const expr& e) {
        try {
            return eval_inner(e);
        } catch (const template_raised&) {
            throw;
        } catch (const template_error& err) {
            if (err.line != 0) throw;
            fail_at(err.what(), e);
        }
    }

    value eval_inner(const expr& e) {
        switch (e.kind) {
        case expr_kind::literal: return e.literal;
        case expr_kind::name: return lookup(e.name);
        case expr_kind::list:
        case expr_kind::tuple: {
            std::vector<value> items;
            for (const auto& c : e.children) items.push_back(eval(*c));
            return e.kind == expr_kind::list ? value::list(std::move(items)) : value::tuple(std::move(items));
        }
        case expr_kind::dict: {
            value d = value::make_dict();
            for (std::size_t i = 0; i + 1 < e.children.size(); i += 2)
                d.entries().set(eval(*e.children[i]), eval(*e.children[i + 1]));
            return d;
        }
        case expr_kind::getattr: return get_attribute(*this, eval(*e.children[0]), e.name);
        case expr_kind::getitem: return get_item(*this, eval(*e.children[0]), eval(*e.children[1]));
        case expr_kind::slice: return slice(e);
        case expr_kind::call: {
            const value callee = eval(*e.children[0]);
            call_args a = args_of(e, 1);
            if (callee.is_undefined())
                fail_at("'" + (callee.undefined_name().empty() ? std::string("value") : callee.undefined_name()) +
                            "' is undefined",
                        e);
            if (!callee.is_callable()) fail_at("'" + callee.type_name() + "' object is not callable", e);
            return callee.fn().fn(a);
        }
        case expr_kind::filter: return apply_filter_expr(e, eval(*e.children[0]));
        case expr_kind::test: {
            const value operand = eval(*e.children[0]);
            call_args a = args_of(e, 1);
            const bool r = apply_test(*this, e.name, operand, a);
            return value(e.negated ? !r : r);
        }
        case expr_kind::unary: {
            const value v = eval(*e.children[0]);
            if (e.name == "not") return value(!v.truthy());
            if (v.is_undefined()) fail_at("'" + v.undefined_name() + "' is undefined", e);
            if (!v.is_number()) fail_at("bad operand type for unary " + e.name + ": '" + v.type_name() + "'", e);
            if (e.name == "+") return v.is_float() ? v : value(v.as_int());
            return v.is_float() ? value(-v.as_double()) : value(-v.as_int());
        }
        case expr_kind::binary: return binary(e);
        case expr_kind::compare: {
            value left = eval(*e.children[0]);
            for (std::size_t i = 0; i < e.ops.size(); ++i) {
                value right = eval(*e.children[i + 1]);
                const std::string& op = e.ops[i];
                bool r = false;
                if (op == "==") r = left == right;
                else if (op == "!=") r = !(left == right);
                else if (op == "<") r = less_than(left, right);
                else if (op == ">") r = less_than(right, left);
                else if (op == "<=") r = less_than(left, right) || left == right;
                else if (op == ">=") r = less_than(right, left) || left == right;
                else if (op == "in") r = contains(right, left);
                else if (op == "notin") r = !contains(right, left);
                if (!r) return value(false);
                left = std::move(right);
            }
            return value(true);
        }
        case expr_kind::condition: {
            if (eval(*e.children[0]).truthy()) return eval(*e.children[1]);
            if (e.children[2]) return eval(*e.children[2]);
            return value::undefined();
        }
        }
        return value::undefined();
    }

    value slice(const expr& e) {
        const value obj = eval(*e.children[0]);
        auto bound = [&](std::size_t i) -> std::optional<std::int64_t> {
            if (!e.children[i]) return std::nullopt;
            const value v = eval(*e.children[i]);
            if (v.is_none()) return std::nullopt;
            if (!v.is_int() && !v.is_bool()) fail_at("slice indices must be integers or None", e);
            return v.as_int();
        };
        const auto start = bound(1), stop = bound(2), step_v = bound(3);
        const std::int64_t step = step_v.value_or(1);
        if (step == 0) fail_at("slice step cannot be zero", e);
        std::u32string chars;
        std::vector<value> items;
        std::int64_t len = 0;
        if (obj.is_string()) {
            chars = to_code_points(obj.as_string());
            len = static_cast<std::int64_t>(chars.size());
        } else if (obj.is_list() && !obj.is_iterator()) {
            items = obj.items();
            len = static_cast<std::int64_t>(items.size());
        } else if (obj.is_undefined()) {
            fail_at("'" + obj.undefined_name() + "' is undefined", e);
        } else {
            fail_at("'" + obj.type_name() + "' object is not subscriptable", e);
        }
        // Python's slice.indices().
        auto clamp = [&](std::optional<std::int64_t> v, std::int64_t dflt) {
            if (!v) return dflt;
            std::int64_t x = *v;
            if (x < 0) x += len;
            if (step > 0) return std::clamp<std::int64_t>(x, 0, len);
            return std::clamp<std::int64_t>(x, -1, len - 1);
        };
        const std::int64_t b = clamp(start, step > 0 ? 0 : len - 1);
        const std::int64_t en = clamp(stop, step > 0 ? len : -1);
        std::u32string out_chars;
        std::vector<value> out_items;
        for (std::int64_t i = b; step > 0 ? i < en : i > en; i += step) {
            if (obj.is_string()) out_chars.push_back(chars[static_cast<std::size_t>(i)]);
            else out_items.push_back(items[static_cast<std::size_t>(i)]);
        }
        if (obj.is_string()) {
            std::string s;
            for (const char32_t c : out_chars) append_utf8(s, c);
            return value(std::move(s));
        }
        return obj.type() == kind::tuple ? value::tuple(std::move(out_items)) : value::list(std::move(out_items));
    }

    value binary(const expr& e) {
        const std::string& op = e.name;
        if (op == "and") {
            value l = eval(*e.children[0]);
            return l.truthy() ? eval(*e.children[1]) : l;
        }
        if (op == "or") {
            value l = eval(*e.children[0]);
            return l.truthy() ? l : eval(*e.children[1]);
        }
        const value l = eval(*e.children[0]);
        const value r = eval(*e.children[1]);
        if (op == "~") {
            std::string s = l.str() + r.str();
            if (s.size() > opts_.limits.max_output) fail_at("the string is too large", e);
            return value(std::move(s));
        }
        if (l.is_undefined()) fail_at("'" + l.undefined_name() + "' is undefined", e);
        if (r.is_undefined()) fail_at("'" + r.undefined_name() + "' is undefined", e);
        auto type_error = [&]() -> value {
            fail_at("unsupported operand type(s) for " + op + ": '" + l.type_name() + "' and '" + r.type_name() + "'", e);
        };
        if (op == "+") {
            if (l.is_string() && r.is_string()) {
                if (l.as_string().size() + r.as_string().size() > opts_.limits.max_output) fail_at("the string is too large", e);
                return value(l.as_string() + r.as_string());
            }
            if (l.is_list() && r.is_list() && l.type() == r.type() && !l.is_iterator() && !r.is_iterator()) {
                std::vector<value> items = l.items();
                items.insert(items.end(), r.items().begin(), r.items().end());
                if (items.size() > opts_.limits.max_collection) fail_at("the list is too large", e);
                return l.type() == kind::tuple ? value::tuple(std::move(items)) : value::list(std::move(items));
            }
        }
        if (op == "*") {
            auto sequence = [](const value& v) { return v.is_string() || (v.is_list() && !v.is_iterator()); };
            const value* seq = sequence(l) ? &l : sequence(r) ? &r : nullptr;
            const value* count = seq == &l ? &r : &l;
            if (seq != nullptr && (count->is_int() || count->is_bool())) {
                const std::int64_t times = std::max<std::int64_t>(0, count->as_int());
                if (seq->is_string()) {
                    if (static_cast<double>(seq->as_string().size()) * static_cast<double>(times) > static_cast<double>(opts_.limits.max_output))
                        fail_at("the string is too large", e);
                    std::string s;
                    for (std::int64_t i = 0; i < times; ++i) s += seq->as_string();
                    return value(std::move(s));
                }
                if (static_cast<double>(seq->items().size()) * static_cast<double>(times) > static_cast<double>(opts_.limits.max_collection))
                    fail_at("the list is too large", e);
                std::vector<value> items;
                for (std::int64_t i = 0; i < times; ++i) items.insert(items.end(), seq->items().begin(), seq->items().end());
                return seq->type() == kind::tuple ? value::tuple(std::move(items)) : value::list(std::move(items));
            }
        }
        if (op == "%" && l.is_string()) {
            try {
                return value(py_percent_format(l.as_string(), r));
            } catch (const template_error& err) {
                fail_at(err.what(), e);
            }
        }
        if (!l.is_number() || !r.is_number()) return type_error();
        const bool floating = l.is_float() || r.is_float();
        const double x = l.as_double(), y = r.as_double();
        const std::int64_t a = l.as_int(), b = r.as_int();
        std::int64_t res = 0;
        if (op == "+") {
            if (floating) return value(x + y);
            if (__builtin_add_overflow(a, b, &res)) fail_at("integer overflow", e);
            return value(res);
        }
        if (op == "-") {
            if (floating) return value(x - y);
            if (__builtin_sub_overflow(a, b, &res)) fail_at("integer overflow", e);
            return value(res);
        }
        if (op == "*") {
            if (floating) return value(x * y);
            if (__builtin_mul_overflow(a, b, &res)) fail_at("integer overflow", e);
            return value(res);
        }
        if (op == "/") {
            if (y == 0) fail_at("division by zero", e);
            return value(x / y);
        }
        if (op == "//" || op == "%") {
            if (y == 0) fail_at(op == "//" ? "integer division or modulo by zero" : "modulo by zero", e);
            if (floating) {
                const double q = std::floor(x / y);
                return op == "//" ? value(q) : value(x - q * y);
            }
            std::int64_t q = a / b;
            if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
            return op == "//" ? value(q) : value(a - q * b);
        }
        if (op == "**") {
            if (!floating && b >= 0) {
                std::int64_t result = 1;
                for (std::int64_t i = 0; i < b; ++i)
                    if (__builtin_mul_overflow(result, a, &result)) fail_at("integer overflow", e);
                return value(result);
            }
            return value(std::pow(x, y));
        }
        return type_error();
    }

    const value& vars_;
    const render_options& opts_;
    frames scopes_;
    frames captured_;                            // frames closures hold (see the destructor)
    std::unordered_set<const frame*> captured_set_;
    std::size_t work_ = 0;
    std::size_t call_depth_ = 0;
};

} // namespace

std::string render(const template_ast& ast, const value& variables, const render_options& options) {
    return evaluator(variables, options).run(ast);
}

} // namespace tether::agent::text::jinja
