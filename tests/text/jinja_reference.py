#!/usr/bin/python3
"""The reference for Tether's chat-template tests: Python's Jinja2 (Debian's
python3-jinja2), set up the way transformers renders chat templates.

transformers (utils/chat_template_utils.py) uses
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[AssistantTracker, loopcontrols]), a `tojson` filter that calls
json.dumps with ensure_ascii=False, and the globals raise_exception and
strftime_now. This script sets up the same, with the {% generation %} tag
rendering its body unchanged (AssistantTracker only records where it is) and
strftime_now fixed to the time given, so renders are reproducible.

usage: jinja_reference.py JOB.json
  JOB: {"now": "2025-07-10T12:00:00", "cases": [{"template": "...",
        "context": {...}, "trim": true}, ...]}
  A case may name a model folder instead of a template ("folder": DIR):
  the template and special tokens are then read from its
  tokenizer_config.json and chat_template.jinja as transformers reads them,
  and added to the context with tools and documents None.
prints: [{"ok": "rendered"} | {"error": "...", "raised": true|false}, ...]
"""
import datetime
import json
import os
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationTag(Extension):
    tags = {'generation'}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(('name:endgeneration',), drop_needle=True)
        return nodes.CallBlock(self.call_method('_render', []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


class Raised(Exception):
    pass


def environment(trim, now):
    env = ImmutableSandboxedEnvironment(trim_blocks=trim, lstrip_blocks=trim,
                                        extensions=[GenerationTag, jinja2.ext.loopcontrols])

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def raise_exception(message):
        raise Raised(message)

    def strftime_now(fmt):
        return now.strftime(fmt)

    env.filters['tojson'] = tojson
    env.globals['raise_exception'] = raise_exception
    env.globals['strftime_now'] = strftime_now
    return env


SPECIALS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']


def from_folder(folder, context):
    """transformers' apply_chat_template: the template (chat_template.jinja
    over tokenizer_config's; a list of named templates gives "default"),
    rendered with the special tokens as strings."""
    config = {}
    path = os.path.join(folder, 'tokenizer_config.json')
    if os.path.exists(path):
        config = json.load(open(path, encoding='utf-8'))
    template = config.get('chat_template')
    if isinstance(template, list):
        template = {t['name']: t['template'] for t in template}['default']
    jinja_file = os.path.join(folder, 'chat_template.jinja')
    if os.path.exists(jinja_file):
        template = open(jinja_file, encoding='utf-8').read()
    variables = {'tools': None, 'documents': None}
    for key in SPECIALS:
        value = config.get(key)
        if isinstance(value, dict):
            value = value.get('content')
        if isinstance(value, str):
            variables[key] = value
    variables.update(context)
    return template, variables


def main():
    job = json.load(open(sys.argv[1], encoding='utf-8'))
    now = datetime.datetime.fromisoformat(job.get('now', '2025-07-10T12:00:00'))
    envs = {True: environment(True, now), False: environment(False, now)}
    out = []
    for case in job['cases']:
        try:
            source, context = case.get('template'), case.get('context', {})
            if 'folder' in case:
                source, context = from_folder(case['folder'], context)
            template = envs[bool(case.get('trim', True))].from_string(source)
            out.append({'ok': template.render(**context)})
        except Raised as e:
            out.append({'error': str(e), 'raised': True})
        except Exception as e:  # a template error, or one the template caused
            out.append({'error': '%s: %s' % (type(e).__name__, e), 'raised': False})
    sys.stdout.write(json.dumps(out, ensure_ascii=False))


if __name__ == '__main__':
    main()
