#include "text/model.hpp"

#include "text/models/bpe.hpp"
#include "text/models/unigram.hpp"
#include "text/models/wordpiece.hpp"

namespace tether::agent::text {

std::unique_ptr<model> make_model(const json_view& j, const model_limits& limits) {
    if (auto t = j.member("type")) {
        const std::string type = t->as_string();
        if (type == "BPE") return make_bpe(j, limits);
        if (type == "WordPiece") return make_wordpiece(j, limits);
        if (type == "WordLevel") return make_wordlevel(j, limits);
        if (type == "Unigram") return make_unigram(j, limits);
        t->fail("unsupported model \"" + type + "\"");
    }
    // The older serialization has no "type": tell the models apart by shape,
    // in the reference's order (BPE, WordPiece, WordLevel, Unigram).
    if (j.member("merges")) return make_bpe(j, limits);
    const auto vocab = j.required("vocab");
    if (vocab.is_array()) return make_unigram(j, limits);
    if (j.member("continuing_subword_prefix") || j.member("max_input_chars_per_word")) return make_wordpiece(j, limits);
    return make_wordlevel(j, limits);
}

} // namespace tether::agent::text
