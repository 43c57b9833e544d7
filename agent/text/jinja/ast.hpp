#pragma once
// The syntax tree of a parsed template: expressions and statements as Jinja2
// builds them. Plain data, produced by the parser and walked by the
// interpreter; every node keeps its line and column for error messages.

#include "text/jinja/value.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tether::agent::text::jinja {

struct expr;
using expr_ptr = std::unique_ptr<expr>;

enum class expr_kind {
    literal,
    name,
    list,
    tuple,
    dict,
    getattr,   // a.name
    getitem,   // a[b]
    slice,     // a[b:c:d]
    call,      // f(args, kw=…)
    filter,    // a | name(args)
    test,      // a is [not] name(args)
    unary,     // not a, -a, +a
    binary,    // + - * / // % ** ~ and or
    compare,   // a == b < c …
    condition, // a if b else c
};

struct keyword_arg {
    std::string name;
    expr_ptr value;
};

struct expr {
    expr_kind kind;
    int line = 0, column = 0;
    value literal;                   // literal
    std::string name;                // name, getattr attribute, filter/test name, operator
    std::vector<expr_ptr> children;  // operands, items, args (see the parser for each kind's layout)
    std::vector<keyword_arg> kwargs; // call / filter / test keyword arguments
    std::vector<std::string> ops;    // compare: the operators between children
    bool negated = false;            // test: `is not`
    expr_ptr star_args;              // call: f(…, *list): more positional arguments
    expr_ptr star_kwargs;            // call: f(…, **dict): more keyword arguments
};

struct node;
using node_ptr = std::unique_ptr<node>;
using body = std::vector<node_ptr>;

enum class node_kind {
    text,
    output,
    if_,
    for_,
    set,
    set_block,
    macro,
    call_block,
    filter_block,
    break_,
    continue_,
    generation, // {% generation %} (transformers' assistant-mask tag): renders its body
};

struct macro_param {
    std::string name;
    expr_ptr default_value; // may be null
};

struct node {
    node_kind kind;
    int line = 0, column = 0;
    std::string text;                                  // text
    expr_ptr expression;                               // output, set value, for iterable, call_block call
    std::vector<std::pair<expr_ptr, body>> branches;   // if/elif (condition, body)
    body else_body;                                    // if, for
    body block;                                        // for, set_block, macro, call_block, filter_block, generation
    std::vector<std::string> targets;                  // for / set names (several: unpacking)
    expr_ptr target_object;                            // set ns.attr: the namespace expression
    std::string target_attribute;                      // set ns.attr: the attribute
    expr_ptr loop_filter;                              // for … if cond
    bool recursive = false;                            // for … recursive
    std::string macro_name;
    std::vector<macro_param> params;                   // macro, call_block caller
    std::vector<expr_ptr> filters;                     // set_block / filter_block: filter chain (operand null)
};

struct template_ast {
    body nodes;
};

} // namespace tether::agent::text::jinja
