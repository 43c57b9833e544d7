// Follows one request live: queue position, processing, streamed text, and the
// final result or a clear message for every other ending. Used by the space
// page right after a submit and by the request page. Agent output is
// untrusted: it only ever goes into text nodes and into src/href attributes
// that point back at the broker.

import * as api from '../api.js';
import { format_bytes, format_ms, format_time, h, message, replace } from '../dom.js';
import { describe_api_error, describe_ending, is_terminal, read_request } from '../model.js';
import { transcript_view } from '../transcript.js';

const EVENT_NAMES = ['queued', 'processing', 'delta', 'requeued', 'completed', 'failed', 'timeout', 'cancelled'];
const FALLBACK_POLL_MS = 2000;

// A classifier's ranked labels ({"labels":[{"label","confidence"}...]}), each
// with a bar; a regression model's raw scores ({"label","score"}) as numbers.
function ranked_labels(extra) {
  const labels = extra && Array.isArray(extra.labels) ? extra.labels : [];
  const rows = labels.filter((l) => l && typeof l.label === 'string' &&
    (typeof l.confidence === 'number' || typeof l.score === 'number'));
  if (!rows.length) return null;
  return h('ol', { class: 'labels', dataset: { testid: 'labels' } },
    rows.map((l) => (typeof l.confidence === 'number'
      ? h('li', {}, h('span', { class: 'label-name' }, l.label), ' ',
        h('meter', { min: '0', max: '1', value: String(Math.min(1, Math.max(0, l.confidence))) }), ' ',
        h('span', { class: 'muted' }, `${(l.confidence * 100).toFixed(1)} %`))
      : h('li', {}, h('span', { class: 'label-name' }, l.label), ' ', h('span', { class: 'muted' }, l.score.toPrecision(4))))));
}

function result_files(id, files) {
  if (!files.length) return null;
  return h('div', { class: 'result-files' },
    h('h3', {}, 'Files'),
    h('ul', { class: 'file-list' }, files.map((f) => {
      const url = f.url ?? api.file_url(id, f.blob);
      const mime = f.mime.toLowerCase();
      let preview = null;
      if (mime.startsWith('audio/')) {
        preview = h('audio', { controls: true, preload: 'metadata', src: url, 'aria-label': `Play ${f.name}` });
      } else if (mime.startsWith('image/')) {
        preview = h('img', { src: url, alt: `Output image ${f.name}`, class: 'preview', loading: 'lazy' });
      } else if (mime.startsWith('video/')) {
        preview = h('video', { controls: true, preload: 'metadata', src: url, class: 'preview', 'aria-label': `Play ${f.name}` });
      }
      return h('li', { class: 'file', dataset: { testid: 'output-file' } },
        preview,
        h('a', { href: url, download: f.name }, `Download ${f.name}`),
        h('span', { class: 'muted' }, ` ${f.mime}${f.size !== undefined ? `, ${format_bytes(f.size)}` : ''}`));
    })));
}

// Returns {el, stop}. `options.timeout_s` words the timeout message; `options.initial`
// is the submit answer ({request_id, status, position}) when there is one.
export function create_request_panel(id, options = {}) {
  const started_locally = Date.now();
  const status_el = h('p', { class: 'request-status', dataset: { testid: 'request-status' }, 'aria-live': 'polite' });
  const position_el = h('p', { class: 'queue-position', dataset: { testid: 'queue-position' }, hidden: true });
  const note_el = h('div', { class: 'request-note' });
  const output_el = h('pre', { class: 'output', dataset: { testid: 'output' }, tabindex: '0', 'aria-label': 'Output text', hidden: true });
  const result_el = h('div', { class: 'result', dataset: { testid: 'result' } });
  const cancel_btn = h('button', { type: 'button', class: 'danger', dataset: { testid: 'cancel' } }, 'Cancel request');
  const el = h('section', { class: 'card request-panel', dataset: { request: id, testid: 'request-panel' }, 'aria-label': 'Request' },
    h('div', { class: 'request-head' },
      h('h2', {}, 'Request ', h('a', { href: `#/requests/${encodeURIComponent(id)}`, class: 'mono' }, id.slice(0, 8))),
      cancel_btn),
    status_el, position_el, note_el, output_el, result_el);

  let source = null;
  let poll_timer = null;
  let stopped = false;
  let finished = false;
  let last_seq = 0;
  const seq_starts = new Map(); // seq -> length of the text before it, to replace a merged run
  let text = '';
  // A new stream replays the deltas from the start: the first one replaces
  // text shown from a snapshot instead of adding to it.
  let restart_text = false;

  const set_status = (state, label) => {
    el.dataset.state = state;
    status_el.textContent = label;
  };
  const show_position = (pos) => {
    if (typeof pos !== 'number') return;
    position_el.hidden = false;
    // The broker counts from 1 (next to be dispatched).
    position_el.dataset.position = String(pos);
    position_el.textContent = pos <= 1 ? `Position in queue: ${pos} (next in line)` : `Position in queue: ${pos}`;
  };
  const set_text = (value) => {
    text = value;
    output_el.hidden = text.length === 0;
    output_el.textContent = text;
  };

  function stop_streams() {
    if (source) source.close();
    source = null;
    if (poll_timer) clearTimeout(poll_timer);
    poll_timer = null;
  }

  function on_queued(data) {
    if (finished) return;
    set_status('queued', 'Queued: waiting for the agent.');
    show_position(data.position);
  }
  function on_processing() {
    if (finished) return;
    position_el.hidden = true;
    set_status('processing', 'Processing…');
  }
  function on_delta(data) {
    if (finished) return;
    const seq = typeof data.seq === 'number' ? data.seq : last_seq + 1;
    if (seq <= last_seq) return; // already shown (a reconnect replays)
    let base = restart_text ? '' : text;
    // A merged run of deltas (after a reconnect) covers first_seq..seq:
    // it replaces what we had from first_seq on.
    const first = typeof data.first_seq === 'number' ? data.first_seq : seq;
    if (!restart_text && first <= last_seq && seq_starts.has(first)) base = text.slice(0, seq_starts.get(first));
    seq_starts.set(first, base.length);
    last_seq = seq;
    position_el.hidden = true;
    set_status('streaming', 'Streaming…');
    set_text(base + String(data.text ?? ''));
    restart_text = false;
  }
  function on_requeued() {
    if (finished) return;
    // The attempt was lost: the next one streams from the start.
    last_seq = 0;
    seq_starts.clear();
    set_text('');
    replace(note_el, message('warn', 'The agent disconnected; the request went back to the front of the queue.'));
    set_status('queued', 'Queued again: waiting for the agent.');
  }

  function render_final(req) {
    finished = true;
    stop_streams();
    cancel_btn.hidden = true;
    position_el.hidden = true;
    if (req.status === 'completed') {
      set_status('completed', 'Completed');
      if (req.output !== undefined) set_text(req.output);
      const total = req.total_ms ?? Date.now() - started_locally;
      replace(result_el,
        h('dl', { class: 'facts' },
          req.confidence !== undefined
            ? h('div', {}, h('dt', {}, 'Confidence'), h('dd', { dataset: { testid: 'confidence' } }, `${(req.confidence * 100).toFixed(1)} %`))
            : null,
          req.inference_ms !== undefined
            ? h('div', {}, h('dt', {}, 'Processing time'), h('dd', { dataset: { testid: 'processing-time' } }, format_ms(req.inference_ms)))
            : null,
          h('div', {}, h('dt', {}, 'Total time'), h('dd', { dataset: { testid: 'total-time' } }, format_ms(total))),
          req.finished ? h('div', {}, h('dt', {}, 'Finished'), h('dd', {}, format_time(req.finished))) : null),
        ranked_labels(req.extra),
        transcript_view(req.extra, `transcript-${id.slice(0, 8)}`),
        result_files(id, req.files),
        req.extra
          ? h('details', { class: 'extra' }, h('summary', {}, 'More result details'),
            h('pre', { class: 'output', dataset: { testid: 'result-extra' } }, JSON.stringify(req.extra, null, 2)))
          : null);
      return;
    }
    const ending = describe_ending(req.status, req.error, options.timeout_s);
    set_status(req.status || 'failed', ending.title);
    replace(result_el, message(req.status === 'cancelled' ? 'info' : 'error',
      h('strong', {}, `${ending.title}. `), ending.text));
  }

  // Asks GET /api/requests/{id} for the whole record; used at the end (files,
  // timings) and when the event stream is unavailable.
  async function refresh(event_data) {
    let req = read_request({ request_id: id, ...(event_data || {}) });
    try {
      const fetched = read_request(await api.get_request(id));
      req = { ...req, ...Object.fromEntries(Object.entries(fetched).filter(([, v]) => v !== undefined && v !== '')) };
    } catch (err) {
      if (!event_data) throw err;
    }
    return req;
  }

  async function on_terminal(name, data) {
    if (finished) return;
    stop_streams();
    let req;
    try {
      req = await refresh({ ...data, status: name });
    } catch {
      req = read_request({ request_id: id, ...data, status: name });
    }
    if (!req.status || !is_terminal(req.status)) req.status = name;
    if (!stopped) render_final(req);
  }

  function apply_snapshot(req) {
    if (is_terminal(req.status)) {
      render_final(req);
      return;
    }
    if (req.status === 'queued') on_queued({ position: req.position });
    else if (req.status === 'dispatched') set_status('processing', 'Sent to the agent…');
    else on_processing();
    if (req.output && req.output.length > text.length) set_text(req.output);
  }

  function fallback_poll() {
    if (stopped || finished) return;
    poll_timer = setTimeout(async () => {
      try {
        apply_snapshot(await refresh());
      } catch (err) {
        replace(note_el, message('error', describe_api_error(err)));
      }
      fallback_poll();
    }, FALLBACK_POLL_MS);
  }

  function open_stream() {
    if (typeof EventSource === 'undefined') {
      fallback_poll();
      return;
    }
    restart_text = text.length > 0;
    last_seq = 0;
    seq_starts.clear();
    source = new EventSource(api.events_url(id));
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (e) => {
        let data = {};
        try {
          data = e.data ? JSON.parse(e.data) : {};
        } catch {
          data = {};
        }
        if (data === null || typeof data !== 'object') data = {};
        replace(note_el);
        if (name === 'queued') on_queued(data);
        else if (name === 'processing') on_processing(data);
        else if (name === 'delta') on_delta(data);
        else if (name === 'requeued') on_requeued(data);
        else on_terminal(name, data);
      });
    }
    // The broker ends the stream when the credentials that opened it are
    // revoked (signed out elsewhere, account disabled or removed).
    source.addEventListener('revoked', () => {
      stop_streams();
      set_status('unknown', 'Signed out');
      replace(note_el, message('error', 'Your session ended (signed out, or the account was disabled or removed). Sign in again.'));
      api.me().catch(() => {}); // a 401 here takes the page to the sign-in form
    });
    source.addEventListener('error', () => {
      // CONNECTING: the browser reconnects by itself with Last-Event-ID.
      // CLOSED: the broker refused the stream; ask for the state instead.
      if (source && source.readyState === EventSource.CLOSED && !finished) {
        source = null;
        fallback_poll();
      }
    });
  }

  cancel_btn.addEventListener('click', async () => {
    cancel_btn.disabled = true;
    try {
      await api.cancel_request(id);
      if (!source && !finished) apply_snapshot(await refresh());
    } catch (err) {
      if (err.status === 409) {
        // It finished first; show how it ended.
        refresh().then((req) => !stopped && apply_snapshot(req)).catch(() => {});
        return;
      }
      replace(note_el, message('error', `Could not cancel: ${describe_api_error(err)}`));
      cancel_btn.disabled = false;
    }
  });

  if (options.initial) {
    set_status('queued', 'Queued: waiting for the agent.');
    show_position(options.initial.position);
    open_stream();
  } else {
    set_status('loading', 'Loading…');
    refresh().then((req) => {
      if (stopped) return;
      apply_snapshot(req);
      if (!finished) open_stream();
    }).catch((err) => {
      if (stopped) return;
      set_status('unknown', 'Unavailable');
      cancel_btn.hidden = true;
      replace(note_el, message('error', describe_api_error(err)));
    });
  }

  return {
    el,
    stop() {
      stopped = true;
      stop_streams();
    },
  };
}
