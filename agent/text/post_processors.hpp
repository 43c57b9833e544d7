#pragma once
// The post-processor stage of a tokenizer.json: the special tokens a single
// sequence gets around it when add_special_tokens is set
// (TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence).
// Pairs of sequences are not used by the agent and not handled.

#include "text/json_view.hpp"
#include "text/pieces.hpp"

#include <memory>
#include <vector>

namespace tether::agent::text {

class post_processor {
  public:
    virtual ~post_processor() = default;
    virtual void process(std::vector<token_id>& ids, bool add_special_tokens) const = 0;
    // How many ids process() adds to a single sequence.
    virtual std::size_t added_tokens() const = 0;
};

std::unique_ptr<post_processor> make_post_processor(const json_view& j);

} // namespace tether::agent::text
