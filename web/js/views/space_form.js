// The fields of a space as an admin edits them (create and edit share it):
// features, description, time limit, queue limit. Reads them back as the JSON
// the admin API takes.

import { checkbox, field, h } from '../dom.js';
import { FEATURES } from '../model.js';

// `space` is a read_space() value or undefined for a new one.
export function space_fields(space) {
  const controls = {};
  const parts = [];
  if (!space) {
    controls.name = h('input', { name: 'name', required: true, maxlength: '64', autocomplete: 'off', dataset: { testid: 'space-name' } });
    parts.push(field('Name', controls.name, 'Letters, digits, _ . - (up to 64). Agents register with this name.'));
  }
  controls.description = h('textarea', { name: 'description', rows: '2', maxlength: '1000', dataset: { testid: 'space-description' } });
  controls.description.defaultValue = space?.description ?? '';
  parts.push(field('Description', controls.description));

  const checks = FEATURES.map((f) => {
    const c = checkbox(f, { name: 'features', value: f, dataset: { testid: `feature-${f}` } });
    c.input.defaultChecked = space ? space.features.has(f) : f === 'prompt';
    controls[`feature_${f}`] = c.input;
    return c.el;
  });
  parts.push(h('fieldset', { class: 'features' }, h('legend', {}, 'Inputs users can send'), checks));

  controls.timeout_s = h('input', { name: 'timeout_s', type: 'number', min: '1', max: '86400', required: true, inputmode: 'numeric', dataset: { testid: 'space-timeout' } });
  controls.timeout_s.defaultValue = String(space?.timeout_s ?? 120);
  parts.push(field('Time limit (seconds)', controls.timeout_s, 'Covers waiting in the queue and running, together.'));

  controls.queue_limit = h('input', { name: 'queue_limit', type: 'number', min: '1', max: '1000000', required: true, inputmode: 'numeric', dataset: { testid: 'space-queue-limit' } });
  controls.queue_limit.defaultValue = String(space?.queue_limit ?? 1000);
  parts.push(field('Queue limit', controls.queue_limit, 'Past this many waiting requests, new ones are refused (429).'));

  return { controls, parts };
}

// Returns the JSON body, or a string describing what is wrong.
export function read_space_fields(controls) {
  const features = FEATURES.filter((f) => controls[`feature_${f}`].checked);
  if (features.length === 0) return 'Choose at least one input.';
  const timeout_s = Number(controls.timeout_s.value);
  const queue_limit = Number(controls.queue_limit.value);
  if (!Number.isInteger(timeout_s) || timeout_s < 1) return 'The time limit must be a whole number of seconds, at least 1.';
  if (!Number.isInteger(queue_limit) || queue_limit < 1) return 'The queue limit must be a whole number, at least 1.';
  const body = { description: controls.description.value.trim(), features, timeout_s, queue_limit };
  if (controls.name) {
    const name = controls.name.value.trim();
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) return 'The name may hold only letters, digits, _ . - (1 to 64).';
    body.name = name;
  }
  return body;
}
