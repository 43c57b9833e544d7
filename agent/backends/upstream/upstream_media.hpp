#pragma once
// Audio between a request and an upstream that is not a model of ours:
// inputs converted to WAV for upstreams that read nothing else (#audio=wav),
// and an upstream's audio answer (text to speech, denoising) converted to the
// format the request asks for (params.response_format or params.format:
// wav, mp3, opus), both through the agent's media layer.

#include "backends/backend.hpp"
#include "backends/upstream/upstream_url.hpp"

#include <optional>
#include <string>

namespace tether::agent {

// Replaces each audio or video input of `j` (its MIME type audio/* or
// video/*) by a 16-bit mono WAV at the URL's audio rate (or its own) when
// the URL says #audio=wav. The error, naming the file, when one cannot be
// decoded (the input's fault); nullopt when all went well.
std::optional<std::string> inputs_as_wav(const upstream_url& url, job& j);

// An upstream's answer file, in the audio format the request asked for.
struct answer_file {
    output_file file;
    std::string note;  // what was done ("converted from pcm_s16le in wav at 24000 Hz to mp3"), "" for nothing
    std::string error; // the conversion failed; the job fails with it
};
// `f` as it is unless it is audio (audio/* or bytes the media layer reads)
// and `j`'s params name an audio format it is not in. A format name the
// media layer does not write (the upstream's own, say) leaves it as it is.
answer_file answer_in_requested_format(const job& j, output_file f);

} // namespace tether::agent
