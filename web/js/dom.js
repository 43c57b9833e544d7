// Small DOM helpers. Everything the page shows is built with these, so text
// (including anything an agent or a user wrote) always goes in as a text node:
// there is no innerHTML anywhere in the page.

// h('p', {class: 'x', onclick: fn}, 'text', child, ...) -> element.
// Strings and numbers become text nodes; null/undefined/false are skipped;
// arrays are flattened.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'text') {
      el.textContent = String(value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else if (key === 'value' && 'value' in el) {
      el.value = value;
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

// Replaces all children of `el`.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let id_counter = 0;
export function unique_id(prefix) {
  id_counter += 1;
  return `${prefix}-${id_counter}`;
}

// A labelled form field: <div class="field"><label for>..</label><input id>..</div>.
// `control` is the input/select/textarea element; `hint` optional help text.
export function field(label_text, control, hint) {
  if (!control.id) control.id = unique_id('f');
  const parts = [h('label', { for: control.id }, label_text), control];
  if (hint) {
    const hint_id = `${control.id}-hint`;
    control.setAttribute('aria-describedby', hint_id);
    parts.push(h('p', { class: 'hint', id: hint_id }, hint));
  }
  return h('div', { class: 'field' }, parts);
}

// A checkbox with its label after it.
export function checkbox(label_text, attrs) {
  const input = h('input', { type: 'checkbox', id: unique_id('c'), ...attrs });
  return { input, el: h('div', { class: 'check' }, input, h('label', { for: input.id }, label_text)) };
}

// A message box. kind: 'error' | 'info' | 'ok' | 'warn'.
export function message(kind, ...children) {
  return h('div', { class: `message message-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, children);
}

export function format_bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

export function format_ms(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export function format_time(value) {
  if (value === undefined || value === null || value === '') return '';
  const d = typeof value === 'number' ? new Date(value) : new Date(String(value));
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString();
}
