// The reference tokenizer for Tether's tests: Hugging Face `tokenizers`
// (Rust, through its Node bindings). Reads one job as JSON from the file
// named on the command line and prints the answers as JSON on stdout:
//   {"tokenizer": "<path of tokenizer.json>" | "tokenizer_json": "<text>",
//    "encode": ["text", ...], "add_special_tokens": true,
//    "encode_bytes": ["<base64>", ...],  (raw bytes, invalid UTF-8 allowed)
//    "decode": [[ids], ...], "skip_special_tokens": false,
//    "timing": {"text": "...", "repeat": 3}}           (optional)
// -> {"ids": [[...], ...], "texts": ["...", ...], "timing": {"seconds": s, "bytes": n}}
// Truncation and padding from the file are turned off: the tests compare the
// pipeline, and the agent truncates with its own limits.
import { readFileSync } from 'node:fs';
import { Tokenizer } from 'tokenizers';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const tok = job.tokenizer_json !== undefined ? Tokenizer.fromString(job.tokenizer_json) : Tokenizer.fromFile(job.tokenizer);
tok.disableTruncation();
tok.disablePadding();

const out = { ids: [], texts: [] };
const add = job.add_special_tokens ?? true;
for (const text of job.full ? [] : job.encode ?? []) {
  const enc = await tok.encode(text, null, { addSpecialTokens: add });
  out.ids.push(enc.getIds());
}
// Raw bytes become text as Rust's String::from_utf8_lossy would make it:
// the WHATWG decoder replaces each maximal invalid subpart with one U+FFFD,
// the same rule.
const lossy = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
for (const b64 of job.full ? [] : job.encode_bytes ?? []) {
  const text = lossy.decode(Buffer.from(b64, 'base64'));
  const enc = await tok.encode(text, null, { addSpecialTokens: add });
  out.ids.push(enc.getIds());
}
for (const ids of job.full ? [] : job.decode ?? []) {
  out.texts.push(await tok.decode(ids, job.skip_special_tokens ?? false));
}
// "full": every text encoded with and without special tokens, then those
// encodings and `decode` decoded keeping and skipping special tokens, in one
// process: {"with_special": [[ids]], "without_special": [[ids]],
// "decoded": [text], "decoded_skip": [text]} over with ++ without ++ decode.
if (job.full) {
  const texts = [...(job.encode ?? []), ...(job.encode_bytes ?? []).map((b) => lossy.decode(Buffer.from(b, 'base64')))];
  out.with_special = [];
  out.without_special = [];
  for (const text of texts) {
    out.with_special.push((await tok.encode(text, null, { addSpecialTokens: true })).getIds());
    out.without_special.push((await tok.encode(text, null, { addSpecialTokens: false })).getIds());
  }
  const all = [...out.with_special, ...out.without_special, ...(job.decode ?? [])];
  out.decoded = [];
  out.decoded_skip = [];
  for (const ids of all) {
    out.decoded.push(await tok.decode(ids, false));
    out.decoded_skip.push(await tok.decode(ids, true));
  }
  out.ids = [];
  out.texts = [];
}
if (job.timing) {
  // Encode throughput, one call at a time on one thread (the bindings run
  // one encode per call; their thread pool is not used for a single input).
  const { text, repeat } = job.timing;
  await tok.encode(text, null, { addSpecialTokens: false }); // warm
  const times = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = process.hrtime.bigint();
    await tok.encode(text, null, { addSpecialTokens: false });
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  out.timing = { seconds: times[Math.floor(times.length / 2)], bytes: Buffer.byteLength(text, 'utf8') };
}
process.stdout.write(JSON.stringify(out));
