#!/usr/bin/python3
"""Small tokenizers the project makes itself, for the oracle tests.

Trains tiny vocabularies on tests/text/corpus.txt with the project's own
trainers (BPE over bytes or characters, with or without a continuing-subword
prefix or end-of-word suffix; WordPiece and WordLevel vocabularies; Unigram
pieces scored by frequency), then writes one tokenizer.json per component
variant, so that every normalizer, pre-tokenizer, model option, post-processor,
decoder and added-token flag the agent supports is run against the reference
library on its own. The files are ordinary tokenizer.json: the reference reads
them with Tokenizer.fromFile, the agent with tokenizer::from_file.

usage: make_tokenizers.py CORPUS OUT_DIR   (writes OUT_DIR/*.json and OUT_DIR/index.json)

Deterministic: the same corpus gives the same files.
"""
import collections
import json
import math
import os
import re
import sys
import unicodedata


# --- the GPT-2 byte alphabet -------------------------------------------------

def byte_alphabet():
    keep = list(range(ord('!'), ord('~') + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTES = byte_alphabet()


# --- words to train on ---------------------------------------------------------

def words_of(text):
    """(leading space?, word) for runs of letters/digits and runs of other
    non-space characters."""
    out = []
    for m in re.finditer(r'(\s?)(\w+|[^\w\s]+)', text):
        out.append((m.group(1) != '', m.group(2)))
    return out


def byte_word(space, word):
    return ''.join(BYTES[b] for b in ((' ' if space else '') + word).encode('utf-8'))


# --- BPE trainer -----------------------------------------------------------------

def train_bpe(word_counts, alphabet, merges_wanted, prefix='', suffix=''):
    """Classic BPE: repeatedly merge the most frequent adjacent pair (ties by
    the pair itself). Symbols after the first carry `prefix`, the last one
    carries `suffix`, as the tokenizers library splits a word before merging."""
    words = []
    for word, count in sorted(word_counts.items()):
        chars = list(word)
        symbols = [c if i == 0 else prefix + c for i, c in enumerate(chars)]
        symbols[-1] += suffix
        words.append((symbols, count))
    vocab = set()
    for c in alphabet:
        vocab.add(c)
        if prefix:
            vocab.add(prefix + c)
        if suffix:
            vocab.add(c + suffix)
            if prefix:
                vocab.add(prefix + c + suffix)
    for symbols, _ in words:
        vocab.update(symbols)
    merges = []
    for _ in range(merges_wanted):
        pairs = collections.Counter()
        for symbols, count in words:
            for a, b in zip(symbols, symbols[1:]):
                pairs[(a, b)] += count
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        a, b = best
        merged = a + (b[len(prefix):] if prefix and b.startswith(prefix) else b)
        merges.append(best)
        vocab.add(merged)
        for symbols, _ in words:
            i = 0
            while i < len(symbols) - 1:
                if symbols[i] == a and symbols[i + 1] == b:
                    symbols[i:i + 2] = [merged]
                else:
                    i += 1
    return vocab, merges


def ordered_vocab(first, rest):
    """first (in order) then the rest sorted by length, then text."""
    out, seen = {}, set()
    for t in first:
        if t not in seen:
            out[t] = len(out)
            seen.add(t)
    for t in sorted(rest - seen, key=lambda t: (len(t), t)):
        out[t] = len(out)
    return out


# --- tokenizer.json pieces ---------------------------------------------------------

def tokenizer(model, normalizer=None, pre=None, post=None, decoder=None, added=()):
    return {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': list(added), 'normalizer': normalizer, 'pre_tokenizer': pre,
        'post_processor': post, 'decoder': decoder, 'model': model,
    }


def added_tokens(vocab, specs):
    """specs: (content, special, flags); ids follow the model's vocabulary for
    tokens it does not hold, as the library assigns them."""
    out, next_id = [], max(vocab.values()) + 1
    for content, special, flags in specs:
        if content in vocab:
            tid = vocab[content]
        else:
            tid, next_id = next_id, next_id + 1
        out.append({'id': tid, 'content': content, 'single_word': flags.get('single_word', False),
                    'lstrip': flags.get('lstrip', False), 'rstrip': flags.get('rstrip', False),
                    'normalized': flags.get('normalized', not special), 'special': special})
    return out


def bpe(vocab, merges, pairs=False, **options):
    m = {'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': None,
         'end_of_word_suffix': None, 'fuse_unk': False, 'byte_fallback': False, 'ignore_merges': False,
         'vocab': vocab, 'merges': [list(p) if pairs else p[0] + ' ' + p[1] for p in merges]}
    m.update(options)
    return m


def split(pattern, behavior, invert=False, regex=True):
    return {'type': 'Split', 'pattern': {'Regex' if regex else 'String': pattern}, 'behavior': behavior,
            'invert': invert}


def byte_level_pre(add_prefix_space=False, use_regex=True):
    return {'type': 'ByteLevel', 'add_prefix_space': add_prefix_space, 'trim_offsets': True, 'use_regex': use_regex}


def seq(kind, key, items):
    return {'type': 'Sequence', key: items}


def template(single, specials):
    return {'type': 'TemplateProcessing', 'single': single,
            'pair': single + [{'Sequence': {'id': 'B', 'type_id': 1}}],
            'special_tokens': {t: {'id': t, 'ids': [i], 'tokens': [t]} for t, i in specials}}


def piece(token):
    if token == '$A':
        return {'Sequence': {'id': 'A', 'type_id': 0}}
    return {'SpecialToken': {'id': token, 'type_id': 0}}


BYTE_LEVEL_DECODER = {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': True, 'use_regex': True}
LLAMA_DECODER = seq('decoder', 'decoders', [
    {'type': 'Replace', 'pattern': {'String': '\u2581'}, 'content': ' '},
    {'type': 'ByteFallback'}, {'type': 'Fuse'},
    {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}])


def main():
    corpus_path, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    text = open(corpus_path, encoding='utf-8').read()
    words = words_of(text)
    files = {}

    # Byte-level BPE (GPT-2 style).
    counts = collections.Counter(byte_word(s, w) for s, w in words)
    alphabet = [BYTES[b] for b in range(256)]
    v, merges = train_bpe(counts, alphabet, 600)
    byte_vocab = ordered_vocab(alphabet, v)
    specs = [('<|endoftext|>', True, {}), ('<mask>', True, {'lstrip': True}), ('[END]', True, {'rstrip': True}),
             ('<|im_start|>', True, {}), ('hello world', False, {}), ('word', False, {'single_word': True}),
             ('ab', False, {'normalized': False}), ('abab', False, {}), ('  ', False, {}),
             ('Hello', False, {'normalized': True})]
    byte_added = added_tokens(byte_vocab, specs)
    eot = next(a['id'] for a in byte_added if a['content'] == '<|endoftext|>')
    start = next(a['id'] for a in byte_added if a['content'] == '<|im_start|>')

    def byte_bpe(pre, normalizer=None, post=None, pairs=False, **opt):
        return tokenizer(bpe(byte_vocab, merges, pairs=pairs, **opt), normalizer=normalizer, pre=pre, post=post,
                         decoder=BYTE_LEVEL_DECODER, added=byte_added)

    files['bytelevel'] = byte_bpe(byte_level_pre(), post=byte_level_pre())
    files['bytelevel_prefix_space_no_regex'] = byte_bpe(byte_level_pre(True, False))
    files['bytelevel_prefix_space_roberta'] = byte_bpe(
        byte_level_pre(True, True), post={'type': 'RobertaProcessing', 'sep': ['<|endoftext|>', eot],
                                          'cls': ['<|im_start|>', start], 'trim_offsets': True,
                                          'add_prefix_space': True})
    files['bytelevel_merges_as_pairs_ignore_merges'] = byte_bpe(byte_level_pre(), pairs=True, ignore_merges=True)
    llama3_regex = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                    r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    files['split_regex_isolated_then_bytelevel'] = byte_bpe(seq('pre', 'pretokenizers', [
        split(llama3_regex, 'Isolated'), byte_level_pre(False, False)]),
        post=seq('post', 'processors', [byte_level_pre(), template([piece('<|im_start|>'), piece('$A')],
                                                                   [('<|im_start|>', start)])]))
    for behavior, pattern, regex in [('Removed', '-', False), ('MergedWithPrevious', r'[.,;:!?]', True),
                                     ('MergedWithNext', r'\s+', True), ('Contiguous', r'\d', True),
                                     ('Isolated', r'\p{P}', True)]:
        for invert in ([False, True] if behavior in ('Removed', 'Isolated', 'MergedWithNext') else [False]):
            name = 'split_%s%s' % (behavior.lower(), '_invert' if invert else '')
            files[name] = byte_bpe(seq('pre', 'pretokenizers', [
                split(pattern, behavior, invert, regex), byte_level_pre(False, False)]))
    files['digits_punctuation_whitespace'] = byte_bpe(seq('pre', 'pretokenizers', [
        {'type': 'Digits', 'individual_digits': True}, {'type': 'Punctuation', 'behavior': 'Contiguous'},
        {'type': 'WhitespaceSplit'}, byte_level_pre(False, False)]))
    files['digits_grouped_punctuation_isolated'] = byte_bpe(seq('pre', 'pretokenizers', [
        {'type': 'Digits', 'individual_digits': False}, {'type': 'Punctuation'}, {'type': 'Whitespace'},
        byte_level_pre(False, False)]))
    files['punctuation_merged_with_previous'] = byte_bpe(seq('pre', 'pretokenizers', [
        {'type': 'Punctuation', 'behavior': 'MergedWithPrevious'}, byte_level_pre(True, True)]))
    files['normalizers_nfd_strip_accents_lowercase'] = byte_bpe(byte_level_pre(), normalizer=seq('n', 'normalizers', [
        {'type': 'NFD'}, {'type': 'StripAccents'}, {'type': 'Lowercase'}]))
    files['normalizers_nfkd_replace'] = byte_bpe(byte_level_pre(), normalizer=seq('n', 'normalizers', [
        # (A Strip here makes the reference panic on normalized added tokens
        # of spaces: "AddedVocabulary bad split"; Strip is tested below.)
        {'type': 'NFKD'},
        {'type': 'Replace', 'pattern': {'String': "''"}, 'content': '"'},
        {'type': 'Replace', 'pattern': {'Regex': r'\d'}, 'content': '0'},
        {'type': 'Replace', 'pattern': {'Regex': r'\s{2,}'}, 'content': ' '}]))
    files['normalizers_nfkc_nmt_prepend'] = byte_bpe(byte_level_pre(False, True), normalizer=seq('n', 'normalizers', [
        {'type': 'Nmt'}, {'type': 'NFKC'}, {'type': 'Prepend', 'prepend': '> '},
        {'type': 'Strip', 'strip_left': False, 'strip_right': True}]))
    files['normalizers_nfc_lowercase_bytelevel'] = byte_bpe(None, normalizer=seq('n', 'normalizers', [
        {'type': 'NFC'}, {'type': 'Lowercase'}, {'type': 'ByteLevel'}]))

    # Character-level BPE over "▁"-joined text (SentencePiece style).
    meta_counts = collections.Counter('\u2581' + w for _, w in words)
    char_freq = collections.Counter(c for w, n in meta_counts.items() for c in w for _ in range(n))
    chars = [c for c, _ in sorted(char_freq.items(), key=lambda kv: (-kv[1], kv[0]))][:120]
    keep = set(chars)
    meta_counts = collections.Counter({w: n for w, n in meta_counts.items() if set(w) <= keep})
    v, meta_merges = train_bpe(meta_counts, chars, 500)
    byte_tokens = ['<0x%02X>' % b for b in range(256)]
    meta_vocab = ordered_vocab(['<unk>', '<s>', '</s>'] + byte_tokens, v)
    meta_added = added_tokens(meta_vocab, [('<unk>', True, {}), ('<s>', True, {}), ('</s>', True, {}),
                                           ('<|user|>', True, {'rstrip': True}), ('[INST]', False, {'lstrip': True}),
                                           ('\u2581\u2581', False, {})])
    bos = [('<s>', meta_vocab['<s>'])]
    files['llama_prepend_replace_byte_fallback'] = tokenizer(
        bpe(meta_vocab, meta_merges, unk_token='<unk>', fuse_unk=True, byte_fallback=True),
        normalizer=seq('n', 'normalizers', [{'type': 'Prepend', 'prepend': '\u2581'},
                                            {'type': 'Replace', 'pattern': {'String': ' '}, 'content': '\u2581'}]),
        post=template([piece('<s>'), piece('$A')], bos), decoder=LLAMA_DECODER, added=meta_added)
    for scheme, split_words in [('first', False), ('always', True), ('never', True), ('always', False)]:
        files['metaspace_%s%s' % (scheme, '_split' if split_words else '')] = tokenizer(
            bpe(meta_vocab, meta_merges, unk_token='<unk>', byte_fallback=True),
            pre={'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': scheme, 'split': split_words},
            decoder=seq('d', 'decoders', [{'type': 'ByteFallback'}, {'type': 'Metaspace', 'replacement': '\u2581',
                                                                       'prepend_scheme': scheme,
                                                                       'split': split_words}]),
            added=meta_added)
    no_bytes = {t: i for t, i in meta_vocab.items() if not t.startswith('<0x')}
    no_bytes = {t: n for n, t in enumerate(sorted(no_bytes, key=no_bytes.get))}
    for fuse in (True, False):
        files['bpe_unk_%s' % ('fused' if fuse else 'unfused')] = tokenizer(
            bpe(no_bytes, meta_merges, unk_token='<unk>', fuse_unk=fuse),
            pre={'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': 'always', 'split': True},
            # Strip on each token (none is empty here): an "e" off the front, an "o" off the end.
            decoder=seq('d', 'decoders', [{'type': 'Strip', 'content': 'e', 'start': 1, 'stop': 0} if fuse else
                                          {'type': 'Strip', 'content': 'o', 'start': 0, 'stop': 1},
                                          {'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': 'always',
                                           'split': True}]),
            added=added_tokens(no_bytes, [('<unk>', True, {}), ('</s>', True, {})]))

    # BPE with a continuing-subword prefix, and with an end-of-word suffix.
    plain_counts = collections.Counter(w.lower() for _, w in words if set(w.lower()) <= keep)
    v, prefix_merges = train_bpe(plain_counts, [c for c in chars if c != '\u2581'], 400, prefix='##')
    prefix_vocab = ordered_vocab(['[UNK]'], v)
    files['bpe_continuing_subword_prefix'] = tokenizer(
        bpe(prefix_vocab, prefix_merges, unk_token='[UNK]', continuing_subword_prefix='##'),
        normalizer={'type': 'Lowercase'}, pre={'type': 'Whitespace'},
        decoder={'type': 'WordPiece', 'prefix': '##', 'cleanup': False},
        added=added_tokens(prefix_vocab, [('[UNK]', True, {})]))
    v, suffix_merges = train_bpe(plain_counts, [c for c in chars if c != '\u2581'], 400, suffix='</w>')
    suffix_vocab = ordered_vocab(['<unk>'], v)
    files['bpe_end_of_word_suffix'] = tokenizer(
        bpe(suffix_vocab, suffix_merges, unk_token='<unk>', end_of_word_suffix='</w>', fuse_unk=True),
        normalizer=seq('n', 'normalizers', [{'type': 'NFC'}, {'type': 'Lowercase'}]),
        pre={'type': 'WhitespaceSplit'}, decoder={'type': 'BPEDecoder', 'suffix': '</w>'},
        added=added_tokens(suffix_vocab, [('<unk>', True, {})]))

    # WordPiece: the prefix-BPE vocabulary, the way BERT's looks.
    wp_vocab = ordered_vocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'], set(prefix_vocab) - {'[UNK]'})
    wp_added = added_tokens(wp_vocab, [(t, True, {}) for t in ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']])
    files['wordpiece_bert_uncased'] = tokenizer(
        {'type': 'WordPiece', 'unk_token': '[UNK]', 'continuing_subword_prefix': '##',
         'max_input_chars_per_word': 12, 'vocab': wp_vocab},
        normalizer={'type': 'BertNormalizer', 'clean_text': True, 'handle_chinese_chars': True,
                    'strip_accents': None, 'lowercase': True},
        pre={'type': 'BertPreTokenizer'},
        post={'type': 'BertProcessing', 'sep': ['[SEP]', wp_vocab['[SEP]']], 'cls': ['[CLS]', wp_vocab['[CLS]']]},
        decoder={'type': 'WordPiece', 'prefix': '##', 'cleanup': True}, added=wp_added)
    files['wordpiece_cased_template'] = tokenizer(
        {'type': 'WordPiece', 'unk_token': '[UNK]', 'continuing_subword_prefix': '##',
         'max_input_chars_per_word': 100, 'vocab': wp_vocab},
        normalizer={'type': 'BertNormalizer', 'clean_text': False, 'handle_chinese_chars': False,
                    'strip_accents': False, 'lowercase': False},
        pre=seq('pre', 'pretokenizers', [{'type': 'WhitespaceSplit'}, {'type': 'Punctuation'}]),
        post=template([piece('[CLS]'), piece('$A'), piece('[SEP]')],
                      [('[CLS]', wp_vocab['[CLS]']), ('[SEP]', wp_vocab['[SEP]'])]),
        decoder={'type': 'WordPiece', 'prefix': '##', 'cleanup': False}, added=wp_added)

    # WordLevel: whole words, and no decoder (tokens joined by spaces).
    wl_words = collections.Counter(w.lower() for _, w in words)
    wl_vocab = ordered_vocab(['<unk>', '<pad>'], {w for w, n in wl_words.items() if n >= 2})
    files['wordlevel_no_decoder'] = tokenizer(
        {'type': 'WordLevel', 'unk_token': '<unk>', 'vocab': wl_vocab},
        normalizer=seq('n', 'normalizers', [{'type': 'NFKC'}, {'type': 'Lowercase'}]),
        pre=seq('pre', 'pretokenizers', [{'type': 'Whitespace'}]),
        added=added_tokens(wl_vocab, [('<unk>', True, {}), ('<pad>', True, {})]))

    # Characters for a CTC head (wav2vec2 style): the CTC decoder.
    ctc_chars = ['<pad>', '<unk>', '|'] + sorted(c for c in chars if c not in ('\u2581', ' ', '|'))
    ctc_vocab = {c: i for i, c in enumerate(ctc_chars)}
    files['wordlevel_characters_ctc'] = tokenizer(
        {'type': 'WordLevel', 'unk_token': '<unk>', 'vocab': ctc_vocab},
        normalizer={'type': 'Replace', 'pattern': {'String': ' '}, 'content': '|'},
        pre=split('', 'Isolated', regex=False),
        decoder={'type': 'CTC', 'pad_token': '<pad>', 'word_delimiter_token': '|', 'cleanup': True},
        added=added_tokens(ctc_vocab, [('<pad>', True, {}), ('<unk>', True, {})]))

    # Unigram: every trained piece scored by how often it occurs.
    pieces = collections.Counter()
    for w, n in meta_counts.items():
        for i in range(len(w)):
            for j in range(i + 1, min(len(w), i + 8) + 1):
                if w[i:j] in meta_vocab:
                    pieces[w[i:j]] += n
    total = sum(pieces.values())
    scored = sorted(((p, math.log(n / total)) for p, n in pieces.items()), key=lambda kv: (-kv[1], kv[0]))
    for with_bytes in (False, True):
        head = [['<unk>', 0.0], ['<s>', 0.0], ['</s>', 0.0]]
        if with_bytes:
            head += [[t, 0.0] for t in byte_tokens]
        # Rare single characters left out, so that unknown text meets unk or bytes.
        body = [[p, round(s, 6)] for p, s in scored if len(p) > 1 or pieces[p] > 3]
        uni_vocab = head + body
        index = {p: i for i, (p, _) in enumerate(uni_vocab)}
        name = 'unigram_byte_fallback' if with_bytes else 'unigram_nmt_metaspace'
        files[name] = tokenizer(
            {'type': 'Unigram', 'unk_id': 0, 'vocab': uni_vocab, 'byte_fallback': with_bytes},
            normalizer=seq('n', 'normalizers', [{'type': 'Nmt'}, {'type': 'NFKC'},
                                                {'type': 'Replace', 'pattern': {'Regex': ' {2,}'}, 'content': ' '}]),
            pre={'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': 'always', 'split': True},
            post=template([piece('$A'), piece('</s>')], [('</s>', index['</s>'])]),
            decoder=(seq('d', 'decoders', [{'type': 'ByteFallback'},
                                           {'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': 'always',
                                            'split': True}])
                     if with_bytes else {'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': 'always',
                                         'split': True}),
            added=added_tokens(index, [('<unk>', True, {}), ('<s>', True, {}), ('</s>', True, {})]))

    # Decoders on their own: Replace (regex), Strip both ends, Fuse.
    files['decoders_replace_strip_fuse'] = tokenizer(
        bpe(meta_vocab, meta_merges, unk_token='<unk>', byte_fallback=True),
        pre={'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': 'always', 'split': True},
        decoder=seq('d', 'decoders', [{'type': 'Replace', 'pattern': {'Regex': '\u2581+'}, 'content': ' '},
                                      {'type': 'ByteFallback'}, {'type': 'Fuse'},
                                      # (stop > 0 makes the reference panic on an
                                      # empty token: strip.rs index out of bounds)
                                      {'type': 'Strip', 'content': ' ', 'start': 2, 'stop': 0}]),
        added=meta_added)

    index = []
    for name, tok in files.items():
        with open(os.path.join(out_dir, name + '.json'), 'w', encoding='utf-8') as f:
            json.dump(tok, f, ensure_ascii=False)
        index.append(name)
    with open(os.path.join(out_dir, 'index.json'), 'w', encoding='utf-8') as f:
        json.dump(index, f, indent=1)


if __name__ == '__main__':
    main()
