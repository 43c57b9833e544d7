#!/usr/bin/python3
"""Encoder model folders with random weights, for the encoder tests and the
bench: config.json and model.safetensors as transformers saves each
architecture (its base model's prefix, its head's names), with the real
tokenizers of ../shared/tokenizers: WordPiece (bert) for BERT and DistilBERT,
byte-level BPE (roberta) for RoBERTa, Unigram (t5) for XLM-RoBERTa.

usage: make_encoders.py OUT_DIR [NAME ...]     (the test variants when no NAME)

Test variants (width 64, 2 layers):
  bert-cls            BertForSequenceClassification, 3 labels, 64 positions
  roberta-multilabel  RobertaForSequenceClassification, multi-label (sigmoid), 4 labels
  distilbert-cls      DistilBertForSequenceClassification, 2 labels
  xlmr-st             an XLM-RoBERTa sentence-transformers folder: mean pooling,
                      Normalize, max_seq_length 40
  bert-st-cls         a BERT sentence-transformers folder: CLS pooling, not normalised
  bert-embed          a bare BertModel (no prefix, no head): mean pooling, normalised
  vit-cls             ViTForImageClassification, 32x32 images in 8x8 patches, 5 labels
  bart-test           BartForConditionalGeneration, 2+2 layers, 64 positions, distilbart-cnn's
                      generation settings (4 beams, length_penalty 2, no repeated 3-grams, min_length 8)
                      and a final_logits_bias that makes </s> likely
Bench shapes: bert-base-shape (12 layers, width 768, embeddings),
vit-base-shape (224x224, 16x16 patches, 12 layers, 1000 labels) and
bart-base-shape (6+6 layers, width 768, 1024 positions).
Deterministic: the same seed gives the same files.
"""
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'llm'))
import safetensors_io  # noqa: E402

TOKENIZERS = os.environ.get('TETHER_TOKENIZERS') or os.path.join(HERE, '..', '..', '..', 'shared', 'tokenizers')

SMALL = dict(d=64, layers=2, heads=4, ffn=128)
BASE = dict(d=768, layers=12, heads=12, ffn=3072)
VARIANTS = {
    'bert-cls': dict(SMALL, arch='bert', tok='bert', head='cls', labels=['sadness', 'joy', 'anger'], positions=64, seed=11),
    'roberta-multilabel': dict(SMALL, arch='roberta', tok='roberta', head='cls', labels=['toxic', 'insult', 'threat', 'obscene'],
                               multi=True, positions=66, seed=12),
    'distilbert-cls': dict(SMALL, arch='distilbert', tok='bert', head='cls', labels=['NEGATIVE', 'POSITIVE'], positions=64,
                           seed=13),
    'xlmr-st': dict(SMALL, arch='xlm-roberta', tok='t5', head=None, st='mean', normalize=True, max_seq=40, positions=130,
                    seed=14),
    'bert-st-cls': dict(SMALL, arch='bert', tok='minilm', head=None, st='cls', normalize=False, max_seq=64, positions=128,
                        seed=15),
    'bert-embed': dict(SMALL, arch='bert', tok='bert', head=None, prefix=False, positions=64, seed=16),
    'vit-cls': dict(SMALL, arch='vit', head='cls', image=32, patch=8, labels=['cat', 'dog', 'bird', 'fish', 'frog'], seed=17),
    'bart-test': dict(SMALL, arch='bart', tok='roberta', positions=64, eos_bias=17.0, seed=18),
    'bert-base-shape': dict(BASE, arch='bert', tok='minilm', head=None, prefix=False, positions=512, seed=21),
    'vit-base-shape': dict(BASE, arch='vit', head='cls', image=224, patch=16, labels=[f'class {i}' for i in range(1000)],
                           seed=22),
    'bart-base-shape': dict(d=768, layers=6, heads=12, ffn=3072, arch='bart', tok='roberta', positions=1024, eos_bias=0.0,
                            seed=23),
}
TEST_VARIANTS = ['bert-cls', 'roberta-multilabel', 'distilbert-cls', 'xlmr-st', 'bert-st-cls', 'bert-embed', 'vit-cls',
                 'bart-test']

# name: (tokenizer.json, other files copied from the same folder, vocab size, pad id)
TOKENIZER_FILES = {
    'bert': ('bert/tokenizer.json', ['bert/vocab.txt'], 30522, 0),
    'minilm': ('bert/all-MiniLM-L6-v2.tokenizer.json', ['bert/vocab.txt'], 30522, 0),
    'roberta': ('roberta/tokenizer.json', ['roberta/tokenizer_config.json', 'roberta/vocab.json', 'roberta/merges.txt'],
                50265, 1),
    't5': ('t5/tokenizer.json', ['t5/tokenizer_config.json'], 32100, 0),
}


def weights(v, vocab, pad):
    g = torch.Generator().manual_seed(v['seed'])
    d, ffn = v['d'], v['ffn']

    def rnd(*shape, std=0.02):
        return torch.randn(*shape, generator=g) * std

    t = {}

    def linear(name, out, inp, bias=True):
        t[name + '.weight'] = rnd(out, inp, std=inp ** -0.5)
        if bias:
            t[name + '.bias'] = rnd(out)

    def ln(name):
        t[name + '.weight'] = 1.0 + rnd(d, std=0.1)
        t[name + '.bias'] = rnd(d, std=0.1)

    arch = v['arch']
    labels = len(v.get('labels', []))
    if arch == 'bart':
        t['model.shared.weight'] = rnd(vocab, d, std=0.5)
        for side in ('encoder', 'decoder'):
            p = f'model.{side}.'
            t[p + 'embed_positions.weight'] = rnd(v['positions'] + 2, d, std=0.5)
            ln(p + 'layernorm_embedding')
            for i in range(v['layers']):
                q = f'{p}layers.{i}.'
                for a in (['self_attn', 'encoder_attn'] if side == 'decoder' else ['self_attn']):
                    for x in ('q_proj', 'k_proj', 'v_proj', 'out_proj'):
                        linear(q + a + '.' + x, d, d)
                    ln(q + a + '_layer_norm')
                linear(q + 'fc1', ffn, d)
                linear(q + 'fc2', d, ffn)
                ln(q + 'final_layer_norm')
        bias = rnd(1, vocab, std=0.5)
        bias[0, 2] = v['eos_bias']  # </s> likelier, so summaries end before max_length
        t['final_logits_bias'] = bias
        return t
    if arch == 'vit':
        p = 'vit.'
        n = (v['image'] // v['patch']) ** 2
        t[p + 'embeddings.cls_token'] = rnd(1, 1, d, std=0.5)
        t[p + 'embeddings.position_embeddings'] = rnd(1, n + 1, d, std=0.5)
        t[p + 'embeddings.patch_embeddings.projection.weight'] = rnd(d, 3, v['patch'], v['patch'], std=(3 * v['patch'] ** 2) ** -0.5)
        t[p + 'embeddings.patch_embeddings.projection.bias'] = rnd(d)
        for i in range(v['layers']):
            q = f'{p}encoder.layer.{i}.'
            for x in ('query', 'key', 'value'):
                linear(q + 'attention.attention.' + x, d, d)
            linear(q + 'attention.output.dense', d, d)
            linear(q + 'intermediate.dense', ffn, d)
            linear(q + 'output.dense', d, ffn)
            ln(q + 'layernorm_before')
            ln(q + 'layernorm_after')
        ln(p + 'layernorm')
        linear('classifier', labels, d)
        return t
    if arch == 'distilbert':
        p = 'distilbert.'
        t[p + 'embeddings.word_embeddings.weight'] = rnd(vocab, d, std=0.5)
        t[p + 'embeddings.position_embeddings.weight'] = rnd(v['positions'], d, std=0.5)
        ln(p + 'embeddings.LayerNorm')
        for i in range(v['layers']):
            q = f'{p}transformer.layer.{i}.'
            for x in ('q_lin', 'k_lin', 'v_lin', 'out_lin'):
                linear(q + 'attention.' + x, d, d)
            ln(q + 'sa_layer_norm')
            linear(q + 'ffn.lin1', ffn, d)
            linear(q + 'ffn.lin2', d, ffn)
            ln(q + 'output_layer_norm')
        linear('pre_classifier', d, d)
        linear('classifier', labels, d)
        return t
    base = 'bert.' if arch == 'bert' else 'roberta.'
    p = base if (v['head'] and v.get('prefix', True)) else ''
    types = 2 if arch == 'bert' else 1
    t[p + 'embeddings.word_embeddings.weight'] = rnd(vocab, d, std=0.5)
    t[p + 'embeddings.position_embeddings.weight'] = rnd(v['positions'], d, std=0.5)
    t[p + 'embeddings.token_type_embeddings.weight'] = rnd(types, d, std=0.5)
    ln(p + 'embeddings.LayerNorm')
    for i in range(v['layers']):
        q = f'{p}encoder.layer.{i}.'
        for x in ('query', 'key', 'value'):
            linear(q + 'attention.self.' + x, d, d)
        linear(q + 'attention.output.dense', d, d)
        ln(q + 'attention.output.LayerNorm')
        linear(q + 'intermediate.dense', ffn, d)
        linear(q + 'output.dense', d, ffn)
        ln(q + 'output.LayerNorm')
    if arch == 'bert':
        linear(p + 'pooler.dense', d, d)  # BertModel has its pooler too (unused for embeddings)
        if v['head']:
            linear('classifier', labels, d)
    elif v['head']:
        linear('classifier.dense', d, d)
        linear('classifier.out_proj', labels, d)
    return t


def config(v, name, vocab, pad):
    arch = v['arch']
    labels = v.get('labels')
    c = {'_name_or_path': name, 'model_type': arch, 'torch_dtype': 'float32', 'transformers_version': '4.44.0'}
    if arch == 'bart':
        c.update({'architectures': ['BartForConditionalGeneration'], 'vocab_size': vocab, 'd_model': v['d'],
                  'encoder_layers': v['layers'], 'decoder_layers': v['layers'], 'encoder_attention_heads': v['heads'],
                  'decoder_attention_heads': v['heads'], 'encoder_ffn_dim': v['ffn'], 'decoder_ffn_dim': v['ffn'],
                  'activation_function': 'gelu', 'max_position_embeddings': v['positions'], 'scale_embedding': False,
                  'pad_token_id': 1, 'bos_token_id': 0, 'eos_token_id': 2, 'decoder_start_token_id': 2,
                  'forced_bos_token_id': 0, 'forced_eos_token_id': 2, 'normalize_before': False})
        return c
    if arch == 'vit':
        c.update({'architectures': ['ViTForImageClassification'], 'hidden_size': v['d'], 'num_hidden_layers': v['layers'],
                  'num_attention_heads': v['heads'], 'intermediate_size': v['ffn'], 'hidden_act': 'gelu',
                  'layer_norm_eps': 1e-12, 'image_size': v['image'], 'patch_size': v['patch'], 'num_channels': 3,
                  'qkv_bias': True, 'encoder_stride': v['patch']})
    elif arch == 'distilbert':
        c.update({'architectures': ['DistilBertForSequenceClassification'], 'vocab_size': vocab, 'dim': v['d'],
                  'n_layers': v['layers'], 'n_heads': v['heads'], 'hidden_dim': v['ffn'], 'activation': 'gelu',
                  'max_position_embeddings': v['positions'], 'pad_token_id': pad, 'sinusoidal_pos_embds': False,
                  'seq_classif_dropout': 0.2, 'dropout': 0.1, 'attention_dropout': 0.1})
    else:
        cls = {'bert': 'Bert', 'roberta': 'Roberta', 'xlm-roberta': 'XLMRoberta'}[arch]
        c.update({'architectures': [cls + ('ForSequenceClassification' if v['head'] else 'Model')], 'vocab_size': vocab,
                  'hidden_size': v['d'], 'num_hidden_layers': v['layers'], 'num_attention_heads': v['heads'],
                  'intermediate_size': v['ffn'], 'hidden_act': 'gelu', 'max_position_embeddings': v['positions'],
                  'type_vocab_size': 2 if arch == 'bert' else 1, 'layer_norm_eps': 1e-5 if arch != 'bert' else 1e-12,
                  'pad_token_id': pad, 'position_embedding_type': 'absolute', 'hidden_dropout_prob': 0.1})
    if labels:
        c['id2label'] = {str(i): l for i, l in enumerate(labels)}
        c['label2id'] = {l: i for i, l in enumerate(labels)}
        if v.get('multi'):
            c['problem_type'] = 'multi_label_classification'
    return c


def make(out_dir, name):
    v = VARIANTS[name]
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    vocab, pad = 0, 0
    if v['arch'] != 'vit':
        tok, extra, vocab, pad = TOKENIZER_FILES[v['tok']]
        shutil.copy(os.path.join(TOKENIZERS, tok), os.path.join(folder, 'tokenizer.json'))
        for f in extra:
            shutil.copy(os.path.join(TOKENIZERS, f), os.path.join(folder, os.path.basename(f)))
    json.dump(config(v, name, vocab, pad), open(os.path.join(folder, 'config.json'), 'w'), indent=2)
    if v['arch'] == 'bart':
        # What distilbart-cnn's generation settings look like, scaled to the test's 64 positions.
        json.dump({'decoder_start_token_id': 2, 'bos_token_id': 0, 'eos_token_id': 2, 'pad_token_id': 1,
                   'forced_bos_token_id': 0, 'forced_eos_token_id': 2, 'num_beams': 4, 'length_penalty': 2.0,
                   'max_length': min(142, v['positions']), 'min_length': 8, 'no_repeat_ngram_size': 3,
                   'early_stopping': True},
                  open(os.path.join(folder, 'generation_config.json'), 'w'), indent=2)
    if v['arch'] == 'vit':
        json.dump({'do_resize': True, 'size': {'height': v['image'], 'width': v['image']}, 'resample': 2,
                   'do_rescale': True, 'rescale_factor': 1 / 255, 'do_normalize': True,
                   'image_mean': [0.485, 0.456, 0.406], 'image_std': [0.229, 0.224, 0.225],
                   'image_processor_type': 'ViTImageProcessor'},
                  open(os.path.join(folder, 'preprocessor_config.json'), 'w'), indent=2)
    if v.get('st'):
        modules = [{'idx': 0, 'name': '0', 'path': '', 'type': 'sentence_transformers.models.Transformer'},
                   {'idx': 1, 'name': '1', 'path': '1_Pooling', 'type': 'sentence_transformers.models.Pooling'}]
        if v['normalize']:
            modules.append({'idx': 2, 'name': '2', 'path': '2_Normalize', 'type': 'sentence_transformers.models.Normalize'})
        json.dump(modules, open(os.path.join(folder, 'modules.json'), 'w'), indent=2)
        os.makedirs(os.path.join(folder, '1_Pooling'), exist_ok=True)
        json.dump({'word_embedding_dimension': v['d'], 'pooling_mode_cls_token': v['st'] == 'cls',
                   'pooling_mode_mean_tokens': v['st'] == 'mean', 'pooling_mode_max_tokens': False,
                   'pooling_mode_mean_sqrt_len_tokens': False, 'pooling_mode_weightedmean_tokens': False,
                   'pooling_mode_lasttoken': False, 'include_prompt': True},
                  open(os.path.join(folder, '1_Pooling', 'config.json'), 'w'), indent=2)
        json.dump({'max_seq_length': v['max_seq'], 'do_lower_case': False},
                  open(os.path.join(folder, 'sentence_bert_config.json'), 'w'), indent=2)
    safetensors_io.write(os.path.join(folder, 'model.safetensors'), weights(v, vocab, pad), metadata={'format': 'pt'})


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or TEST_VARIANTS
    for n in names:
        if n not in VARIANTS:
            sys.exit(f'make_encoders.py: no variant {n} ({", ".join(VARIANTS)})')
        make(out, n)


if __name__ == '__main__':
    main()
