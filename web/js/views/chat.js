// A conversation with a space whose model has a chat template (its agent says
// so when it registers): the messages so far, the reply streaming in, and a
// box for the next message. Each turn is one streamed POST
// /v1/chat/completions with the whole conversation as `messages` (the agent
// renders the model's own template), so it is an ordinary request: queued,
// stored, in the user's history. Stopping a reply closes the stream, which
// cancels the request at the agent. Model text only ever goes into text nodes.

import { field, h, message, replace } from '../dom.js';

const DEFAULT_TEMPERATURE = 0.7;
const DEFAULT_MAX_TOKENS = 256;

// Reads a text/event-stream body: calls on_data with each `data:` payload.
async function read_sse(body, on_data) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (data !== '') on_data(data);
    }
  }
}

function error_text(status, body) {
  try {
    const e = JSON.parse(body).error;
    if (e && typeof e.message === 'string') return e.message;
  } catch { /* not JSON */ }
  return `The broker answered ${status}.`;
}

// Returns {el, stop}. `space`: read_space's shape, with space.model set.
export function create_chat(space) {
  const context = space.model.context_length || 0;
  const history = []; // {role, content} sent so far
  const log = h('ol', { class: 'chat-log', dataset: { testid: 'chat-log' }, 'aria-live': 'polite', 'aria-label': 'Conversation' });
  const input = h('textarea', { name: 'message', rows: '3', dataset: { testid: 'chat-input' }, placeholder: 'Write a message…' });
  const temperature = h('input', { type: 'number', min: '0', max: '2', step: '0.1', value: String(DEFAULT_TEMPERATURE), dataset: { testid: 'chat-temperature' } });
  const max_tokens = h('input', {
    type: 'number', min: '1', max: context ? String(context - 1) : null, step: '1',
    value: String(context ? Math.min(DEFAULT_MAX_TOKENS, context - 1) : DEFAULT_MAX_TOKENS), dataset: { testid: 'chat-max-tokens' },
  });
  const send = h('button', { type: 'submit', dataset: { testid: 'chat-send' } }, 'Send');
  const stop_btn = h('button', { type: 'button', class: 'danger', hidden: true, dataset: { testid: 'chat-stop' } }, 'Stop');
  const reset = h('button', { type: 'button', class: 'secondary', dataset: { testid: 'chat-reset' } }, 'New conversation');
  const status = h('div', { class: 'form-status', dataset: { testid: 'chat-status' } });
  const settings = h('details', { class: 'chat-settings' }, h('summary', {}, 'Settings'),
    field('Temperature', temperature, '0 always picks the most likely token; higher is more varied (up to 2).'),
    field('Max tokens', max_tokens, context ? `The reply's length limit; the model's context is ${context} tokens.` : 'The reply\'s length limit.'));
  const form = h('form', { class: 'card chat', 'aria-label': `Chat with ${space.name}` },
    h('p', { class: 'muted' }, `Model ${space.model.name}`, context ? ` · context ${context} tokens` : ''),
    log, field('Message', input), settings, h('div', { class: 'actions' }, send, stop_btn, reset), status);

  let running = null; // the AbortController of the reply being streamed

  function bubble(role, text) {
    const body = h('div', { class: 'chat-text' }, text);
    const li = h('li', { class: `chat-msg chat-${role}`, dataset: { role, testid: 'chat-message' } },
      h('span', { class: 'chat-role' }, role === 'user' ? 'You' : space.name), body);
    log.append(li);
    li.scrollIntoView({ block: 'nearest' });
    return { li, body };
  }

  function settings_values() {
    const t = Number(temperature.value);
    const m = Number(max_tokens.value);
    if (!Number.isFinite(t) || t < 0 || t > 2) return { error: 'Temperature must be a number from 0 to 2.' };
    if (!Number.isInteger(m) || m < 1 || (context && m >= context)) {
      return { error: `Max tokens must be a whole number from 1${context ? ` to ${context - 1}` : ''}.` };
    }
    return { temperature: t, max_tokens: m };
  }

  async function turn(text) {
    const values = settings_values();
    if (values.error) {
      replace(status, message('error', values.error));
      return;
    }
    replace(status);
    history.push({ role: 'user', content: text });
    bubble('user', text);
    const reply = bubble('assistant', '');
    reply.li.dataset.state = 'waiting';
    const note = h('p', { class: 'muted chat-note', dataset: { testid: 'chat-note' } }, 'Waiting for the model…');
    reply.li.append(note);
    running = new AbortController();
    send.disabled = true;
    stop_btn.hidden = false;
    let content = '';
    let finish = null;
    let usage = null;
    let failure = null;
    try {
      const res = await fetch('/v1/chat/completions', {
        method: 'POST', credentials: 'same-origin', signal: running.signal,
        headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
        body: JSON.stringify({
          model: space.name, messages: history, stream: true, stream_options: { include_usage: true },
          temperature: values.temperature, max_tokens: values.max_tokens,
        }),
      });
      if (!res.ok) {
        failure = error_text(res.status, await res.text());
      } else {
        await read_sse(res.body, (data) => {
          if (data === '[DONE]') return;
          let chunk;
          try { chunk = JSON.parse(data); } catch { return; }
          if (chunk.error) {
            failure = chunk.error.message || 'The request failed.';
            return;
          }
          if (chunk.usage) usage = chunk.usage;
          const choice = chunk.choices && chunk.choices[0];
          if (!choice) return;
          if (choice.delta && typeof choice.delta.content === 'string' && choice.delta.content !== '') {
            content += choice.delta.content;
            reply.body.textContent = content;
            reply.li.dataset.state = 'streaming';
            note.textContent = '';
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        });
      }
    } catch (err) {
      failure = err.name === 'AbortError' ? null : `The connection failed: ${err.message}`;
      if (err.name === 'AbortError') finish = 'stopped';
    } finally {
      running = null;
      send.disabled = false;
      stop_btn.hidden = true;
    }
    if (failure) {
      reply.li.dataset.state = 'failed';
      note.replaceWith(message('error', failure));
      history.pop(); // the message can be sent again
      input.value = input.value || text;
      return;
    }
    history.push({ role: 'assistant', content });
    reply.li.dataset.state = 'done';
    const parts = [];
    if (finish === 'length') parts.push('stopped at the max tokens setting');
    if (finish === 'stopped') parts.push('stopped by you');
    if (usage && typeof usage.completion_tokens === 'number') parts.push(`${usage.completion_tokens} tokens`);
    note.textContent = parts.join(' · ');
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (running) return;
    const text = input.value.trim();
    if (text === '') {
      replace(status, message('error', 'Write a message first.'));
      input.focus();
      return;
    }
    input.value = '';
    turn(text);
  });
  // Enter sends, Shift+Enter starts a new line.
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  stop_btn.addEventListener('click', () => running && running.abort());
  reset.addEventListener('click', () => {
    if (running) running.abort();
    history.length = 0;
    replace(log);
    replace(status);
    input.focus();
  });

  return { el: form, stop: () => running && running.abort() };
}
