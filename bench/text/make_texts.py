#!/usr/bin/python3
"""Texts for the tokenizer benchmark, made the same way every run (seeded):

  english.txt  1 MiB of English-like prose: words of tests/text/corpus.txt's
               English lines drawn with a Zipf-like skew, in sentences with
               capitals, punctuation, numbers, contractions and paragraphs;
  cjk.txt      1 MiB of Chinese and Japanese: characters drawn with a skew from
               the CJK lines of the corpus and the whole U+4E00-U+9FFF block,
               kana, full-width punctuation and line breaks.

usage: make_texts.py CORPUS OUT_DIR
"""
import os
import random
import re
import sys

SIZE = 1 << 20


def cut(text):
    data = text.encode('utf-8')[:SIZE]
    return data.decode('utf-8', errors='ignore')


def english(corpus, rng):
    words = [w for w in re.findall(r"[A-Za-z]+(?:'[a-z]+)?", corpus)]
    vocab = sorted(set(w.lower() for w in words))
    rng.shuffle(vocab)
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
    out, size = [], 0
    while size < SIZE + 1000:
        n = rng.randint(4, 22)
        sentence = rng.choices(vocab, weights, k=n)
        if rng.random() < 0.3:
            sentence.insert(rng.randrange(len(sentence)), str(rng.randint(0, 99999)))
        sentence[0] = sentence[0].capitalize()
        s = ' '.join(sentence)
        if rng.random() < 0.3:
            k = rng.randrange(1, len(s))
            s = s[:k] + ',' + s[k:] if s[k] == ' ' else s
        s += rng.choice(['.', '.', '.', '?', '!', ';'])
        s += '\n\n' if rng.random() < 0.1 else ' '
        out.append(s)
        size += len(s)
    return cut(''.join(out))


def cjk(corpus, rng):
    seen = sorted(set(c for c in corpus if '\u4e00' <= c <= '\u9fff' or '\u3040' <= c <= '\u30ff'))
    block = [chr(c) for c in range(0x4E00, 0xA000)]
    punct = ['，', '。', '、', '「', '」', '！', '？', '：']
    out, size = [], 0
    while size < SIZE + 1000:
        r = rng.random()
        if r < 0.55:
            c = rng.choice(seen)
        elif r < 0.85:
            c = rng.choice(block[:3500])  # the block's low end holds many common characters
        elif r < 0.95:
            c = rng.choice(block)
        else:
            c = rng.choice(punct)
        if rng.random() < 0.01:
            c += '\n'
        out.append(c)
        size += len(c.encode('utf-8'))
    return cut(''.join(out))


def main():
    corpus = open(sys.argv[1], encoding='utf-8').read()
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(2026)
    open(os.path.join(out, 'english.txt'), 'w', encoding='utf-8').write(english(corpus, rng))
    open(os.path.join(out, 'cjk.txt'), 'w', encoding='utf-8').write(cjk(corpus, rng))


if __name__ == '__main__':
    main()
