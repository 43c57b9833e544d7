#pragma once
// An encoder folder's configuration, read once and checked before any weight
// is touched: config.json of a BERT, RoBERTa, XLM-RoBERTa, DistilBERT or ViT
// model (sizes, the head its `architectures` names, `id2label`,
// `problem_type`), a sentence-transformers folder's modules.json with its
// pooling and length settings, and a ViT folder's preprocessor_config.json.
// Torch-free.

#include "backends/hf/lm_config.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent::hf {

enum class encoder_family {
    bert,       // bert: word + position + token type embeddings, post-norm layers, a pooler
    roberta,    // roberta, xlm-roberta: BERT's layers, positions counted from the padding id + 1
    distilbert, // distilbert: no token types, its own names
    vit,        // vit: patches of an image, pre-norm layers
};

// What the folder serves.
enum class encoder_task {
    text_classification,  // *ForSequenceClassification
    embeddings,           // an encoder without a head (or a sentence-transformers folder)
    image_classification, // ViTForImageClassification
};

// How scores become confidences (transformers' text-classification pipeline).
enum class label_scores {
    softmax, // single-label (the default for more than one label)
    sigmoid, // problem_type multi_label_classification, or a single label
    none,    // problem_type regression: the raw score
};

enum class pooling_mode { mean, cls, max, mean_sqrt_len };

struct image_preprocess {
    bool resize = true;
    std::uint32_t width = 224, height = 224;
    int resample = 2; // PIL's filters: 0 nearest, 2 bilinear, 3 bicubic
    bool rescale = true;
    double rescale_factor = 1.0 / 255.0;
    bool normalize = true;
    double mean[3] = {0.5, 0.5, 0.5};
    double std[3] = {0.5, 0.5, 0.5};
};

struct encoder_config {
    std::string model_type; // as config.json says
    encoder_family family = encoder_family::bert;
    encoder_task task = encoder_task::embeddings;
    std::int64_t vocab_size = 0; // text models
    std::int64_t hidden_size = 0;
    std::int64_t num_layers = 0;
    std::int64_t num_heads = 0;
    std::int64_t intermediate_size = 0;
    std::int64_t max_position = 0;   // rows of the position table
    std::int64_t type_vocab_size = 0; // bert, roberta: token type rows (0: none)
    std::int64_t pad_token_id = 0;   // roberta: positions start after it
    double norm_eps = 1e-12;
    activation act = activation::gelu;
    // vit
    std::int64_t image_size = 0, patch_size = 0, num_channels = 3;
    bool qkv_bias = true;
    image_preprocess image;
    // heads
    std::vector<std::string> labels; // id2label in id order
    label_scores scores = label_scores::softmax;
    // embeddings
    pooling_mode pooling = pooling_mode::mean;
    bool normalize = true;
    bool sentence_transformers = false; // modules.json was read
    std::optional<std::int64_t> max_seq_length; // sentence_bert_config.json
    std::string torch_dtype;

    // The longest input in tokens the position table allows (RoBERTa's offset taken off).
    std::int64_t max_tokens() const;
};

// True for the model types read_encoder_config takes.
bool is_encoder_model_type(std::string_view model_type);

// Reads dir's config.json and, where present, modules.json (and the pooling
// module's config.json, sentence_bert_config.json) and preprocessor_config.json.
// Throws folder_error naming the file and the field.
encoder_config read_encoder_config(const std::filesystem::path& dir);

// The parts from their text (tests, fuzzing); "" for an absent file.
// `pooling_json` is the pooling module's config.json.
encoder_config parse_encoder_config(std::string_view config_json, std::string_view modules_json = {},
                                    std::string_view pooling_json = {}, std::string_view sentence_bert_json = {},
                                    std::string_view preprocessor_json = {});

} // namespace tether::agent::hf
