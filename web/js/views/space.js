// One space: its live state and a form with only the inputs the space enables.
// Submitting uploads with a progress bar, then follows the request below the
// form, so the user can watch it and send another. A text space whose agent
// serves a model with a chat template gets a conversation instead (chat.js).

import * as api from '../api.js';
import { field, format_bytes, h, message, replace } from '../dom.js';
import { describe_api_error, read_spaces } from '../model.js';
import { poll } from '../poll.js';
import { create_recorder } from '../recorder.js';
import { create_chat } from './chat.js';
import { create_request_panel } from './request_panel.js';
import { connection_badge } from './spaces.js';

const POLL_MS = 2000;
const FILE_INPUTS = [
  { name: 'audio', label: 'Audio', accept: 'audio/*' },
  { name: 'video', label: 'Video', accept: 'video/*' },
  { name: 'file', label: 'File', accept: '' },
];

// Record from the microphone (WebM/Opus where the browser makes it, else WAV)
// into the file the form sends as the audio input.
function recorder_control() {
  const rec = create_recorder();
  const button = h('button', { type: 'button', class: 'secondary', dataset: { testid: 'record' } }, 'Record');
  const state = h('span', { class: 'muted', dataset: { testid: 'record-status' }, 'aria-live': 'polite' });
  const preview = h('audio', { controls: true, hidden: true, 'aria-label': 'Play the recording' });
  const box = h('div', { class: 'recorder' }, button, ' ', state, preview);
  let timer = null;
  const control = { el: box, file: null };
  button.addEventListener('click', async () => {
    if (!rec.recording()) {
      try {
        await rec.start();
      } catch (err) {
        state.textContent = ` Cannot record: ${err.message || err.name}`;
        return;
      }
      control.file = null;
      preview.hidden = true;
      button.textContent = 'Stop';
      box.dataset.state = 'recording';
      timer = setInterval(() => { state.textContent = ` Recording… ${rec.seconds().toFixed(1)} s`; }, 200);
      return;
    }
    clearInterval(timer);
    const { file, seconds } = await rec.stop();
    control.file = file;
    button.textContent = 'Record again';
    box.dataset.state = 'recorded';
    const kind = file.type === 'audio/webm' ? 'WebM/Opus' : file.type === 'audio/ogg' ? 'Ogg/Opus' : 'WAV';
    state.textContent = ` Recorded ${seconds.toFixed(1)} s (${kind}): sent with the request.`;
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
  });
  control.clear = () => {
    control.file = null;
    preview.hidden = true;
    state.textContent = '';
    button.textContent = 'Record';
    delete box.dataset.state;
  };
  return control;
}

function build_form(space) {
  const controls = {};
  const fields = [];
  if (space.features.has('prompt')) {
    controls.prompt = h('textarea', { name: 'prompt', rows: '5', dataset: { testid: 'prompt' } });
    fields.push(field('Prompt', controls.prompt));
  }
  for (const f of FILE_INPUTS) {
    if (!space.features.has(f.name)) continue;
    controls[f.name] = h('input', { type: 'file', name: f.name, accept: f.accept || null, dataset: { testid: `input-${f.name}` } });
    fields.push(field(f.label, controls[f.name]));
    if (f.name === 'audio') {
      controls.recorder = recorder_control();
      fields.push(h('div', { class: 'field' }, h('span', { class: 'muted' }, 'or record from the microphone: '), controls.recorder.el));
    }
  }
  return { controls, fields };
}

export function render_space(main, ctx, name) {
  document.title = `${name} · Tether`;
  const head = h('div', { class: 'space-head' }, h('h1', {}, name));
  const info = h('div', { class: 'space-info' });
  const form_box = h('div', {});
  const requests_box = h('div', { class: 'requests' });
  replace(main, h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Spaces'), ' / ', name),
    head, info, form_box, requests_box);

  const panels = [];
  let space = null;
  let form_key = '';
  let info_key = '';

  function render_info() {
    replace(head, h('h1', {}, space.name), connection_badge(space));
    replace(info,
      space.description ? h('p', { class: 'description' }, space.description) : null,
      h('p', { class: 'muted' },
        h('span', { dataset: { testid: 'queue-length' } }, `${space.queue_length} waiting`),
        space.timeout_s ? ` · time limit ${space.timeout_s} s` : ''),
      space.connected ? null : message('warn', h('strong', {}, 'Not connected. '),
        'No agent serves this space right now. You can still send a request: it waits in the queue until an agent connects or its time limit runs out.'));
  }

  let chat = null;
  function render_form() {
    if (chat) {
      chat.stop();
      chat = null;
    }
    if (space.features.has('prompt') && space.model && space.model.chat) {
      chat = create_chat(space);
      replace(form_box, chat.el);
      return;
    }
    const { controls, fields } = build_form(space);
    if (fields.length === 0) {
      replace(form_box, message('info', 'This space accepts no inputs yet.'));
      return;
    }
    const progress = h('progress', { max: '100', value: '0', dataset: { testid: 'upload-progress' }, 'aria-label': 'Upload progress' });
    const progress_text = h('span', { class: 'muted' });
    const progress_box = h('div', { class: 'progress', hidden: true }, progress, progress_text);
    const status = h('div', { class: 'form-status', dataset: { testid: 'submit-status' } });
    const button = h('button', { type: 'submit', dataset: { testid: 'submit' } }, 'Send');
    const form = h('form', { class: 'card', 'aria-label': `Send a request to ${space.name}` },
      fields, h('div', { class: 'actions' }, button), progress_box, status);

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      replace(status);
      const data = new FormData();
      let has_input = false;
      if (controls.prompt && controls.prompt.value.trim() !== '') {
        data.append('prompt', controls.prompt.value);
        has_input = true;
      }
      let upload_bytes = 0;
      for (const f of FILE_INPUTS) {
        const input = controls[f.name];
        if (input && input.files && input.files[0]) {
          data.append(f.name, input.files[0], input.files[0].name);
          upload_bytes += input.files[0].size;
          has_input = true;
        } else if (f.name === 'audio' && controls.recorder && controls.recorder.file) {
          data.append('audio', controls.recorder.file, controls.recorder.file.name);
          upload_bytes += controls.recorder.file.size;
          has_input = true;
        }
      }
      if (!has_input) {
        replace(status, message('error', controls.prompt ? 'Write a prompt or choose a file first.'
          : controls.recorder ? 'Choose a file or record first.' : 'Choose a file first.'));
        (controls.prompt || Object.values(controls)[0]).focus();
        return;
      }
      button.disabled = true;
      progress.value = 0;
      progress_box.hidden = upload_bytes === 0;
      try {
        const answer = await api.submit_request(space.name, data, (loaded, total) => {
          if (!total) return;
          progress.value = Math.round((loaded / total) * 100);
          progress_text.textContent = ` ${progress.value} % (${format_bytes(loaded)} of ${format_bytes(total)})`;
        });
        const id = String(answer.request_id ?? answer.id ?? '');
        if (!id) throw new api.api_error(0, 'bad_response', 'The broker did not say which request it accepted.');
        const panel = create_request_panel(id, { timeout_s: space.timeout_s, initial: answer });
        panels.push(panel);
        requests_box.prepend(panel.el);
        form.reset();
        if (controls.recorder) controls.recorder.clear();
      } catch (err) {
        replace(status, message('error', describe_api_error(err, 'upload')));
      } finally {
        button.disabled = false;
        progress_box.hidden = true;
      }
    });
    replace(form_box, form);
  }

  const stop_poll = poll(async () => {
    try {
      const found = read_spaces(await api.list_spaces()).find((s) => s.name === name);
      if (!found) {
        replace(info, message('error', 'This space does not exist (or was deleted).'));
        replace(form_box);
        space = null;
        form_key = '';
        info_key = '';
        return;
      }
      space = found;
      // Redraw only on change, so screen readers do not hear the same news every poll.
      const key = JSON.stringify(space, (k, v) => (v instanceof Set ? [...v] : v));
      if (key !== info_key) {
        info_key = key;
        render_info();
      }
      // Rebuild the form only when the enabled inputs change, never mid-typing otherwise.
      // A chat view needs the model's chat flag, which comes with the agent;
      // a conversation stays while the agent is away (messages then wait in
      // the queue), and goes when an agent without a chat model comes back.
      const wants_chat = space.model ? space.model.chat : chat !== null;
      const features_key = [...space.features].sort().join(',') + (wants_chat ? '|chat' : '');
      if (features_key !== form_key) {
        form_key = features_key;
        render_form();
      }
    } catch (err) {
      info_key = '';
      replace(info, message('error', describe_api_error(err, 'space')));
    }
  }, POLL_MS);

  return () => {
    stop_poll();
    if (chat) chat.stop();
    for (const p of panels) p.stop();
  };
}
