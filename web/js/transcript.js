// A transcript's segments ({start, end, text}, from a speech model's result)
// shown with their times, and written as plain text or SRT for download.

import { h } from './dom.js';

export function clock(seconds, sep = '.') {
  const ms = Math.round(Math.max(0, seconds) * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  const hours = Math.floor(ms / 3600000);
  return `${hours ? `${pad(hours)}:` : ''}${pad(Math.floor(ms / 60000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}${sep}${pad(ms % 1000, 3)}`;
}

export function read_segments(extra) {
  const list = extra && Array.isArray(extra.segments) ? extra.segments : [];
  return list.filter((s) => s && typeof s.start === 'number' && typeof s.end === 'number' && typeof s.text === 'string');
}

export function to_srt(segments) {
  const full = (s) => {
    const ms = Math.round(Math.max(0, s) * 1000);
    const pad = (n, w = 2) => String(n).padStart(w, '0');
    return `${pad(Math.floor(ms / 3600000))}:${pad(Math.floor(ms / 60000) % 60)}:${pad(Math.floor(ms / 1000) % 60)},${pad(ms % 1000, 3)}`;
  };
  return segments.map((s, i) => `${i + 1}\n${full(s.start)} --> ${full(s.end)}\n${s.text.trim()}\n`).join('\n');
}

export function to_text(segments) {
  return segments.map((s) => s.text.trim()).filter((t) => t).join('\n') + '\n';
}

// The segment table and download links; null when there are no segments.
export function transcript_view(extra, basename = 'transcript') {
  const segments = read_segments(extra);
  if (!segments.length) return null;
  const link = (body, type, name, label, testid) => h('a', {
    href: URL.createObjectURL(new Blob([body], { type })), download: name, dataset: { testid },
  }, label);
  return h('div', { class: 'transcript', dataset: { testid: 'transcript' } },
    h('h3', {}, 'Transcript', extra.language ? h('span', { class: 'muted' }, ` (${extra.language})`) : null),
    h('ol', { class: 'segments' }, segments.map((s) => h('li', { dataset: { testid: 'segment' } },
      h('span', { class: 'mono muted' }, `${clock(s.start)} → ${clock(s.end)}`), ' ', h('span', {}, s.text.trim())))),
    h('p', { class: 'actions' },
      link(to_text(segments), 'text/plain', `${basename}.txt`, 'Download text', 'download-txt'), ' ',
      link(to_srt(segments), 'application/x-subrip', `${basename}.srt`, 'Download SRT', 'download-srt')));
}
