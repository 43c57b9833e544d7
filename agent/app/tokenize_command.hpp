#pragma once
// `tether-agent tokenize DIR`: for operators checking a model folder. Reads
// stdin, writes stdout: text -> a JSON array of ids (--no-special leaves out
// what the post-processor adds), --decode: a JSON array of ids -> text,
// --chat: a JSON array of messages -> the rendered prompt (--ids: its ids).
// A bad folder exits 2 naming the file and the JSON path.

#include <iosfwd>

namespace tether::agent {

// argv[0] is "tokenize". Returns the exit status.
int tokenize_command(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err);

} // namespace tether::agent
