// Reads the broker's JSON into the shapes the views use, tolerating the small
// variations an evolving API has (a list or an object for features, `status`
// or `state`), and turns error codes into sentences a user can act on.

export const FEATURES = ['prompt', 'audio', 'video', 'file'];
export const TERMINAL = ['completed', 'failed', 'timeout', 'cancelled'];

export function is_terminal(status) {
  return TERMINAL.includes(status);
}

function features_of(value) {
  const set = new Set();
  if (Array.isArray(value)) value.forEach((f) => set.add(String(f)));
  else if (typeof value === 'string') value.split(',').forEach((f) => f.trim() && set.add(f.trim()));
  else if (value && typeof value === 'object') Object.entries(value).forEach(([k, v]) => v && set.add(k));
  return set;
}

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v) => (typeof v === 'string' ? v : undefined);

export function read_space(raw) {
  const r = raw || {};
  const agent = r.agent && typeof r.agent === 'object' ? r.agent : {};
  return {
    name: String(r.name ?? ''),
    description: str(r.description) ?? '',
    features: features_of(r.features),
    connected: Boolean(r.connected),
    agent_name: str(r.agent_name) ?? str(agent.name) ?? '',
    agent_version: str(r.agent_version) ?? str(agent.version) ?? '',
    queue_length: num(r.queue_length) ?? 0,
    timeout_s: num(r.timeout_s),
    queue_limit: num(r.queue_limit),
    // The model folder its agent serves, when it says: {name, context_length, chat}.
    model: r.model && typeof r.model === 'object' && typeof r.model.name === 'string'
      ? { name: r.model.name, context_length: num(r.model.context_length) ?? 0, chat: r.model.chat === true }
      : null,
  };
}

export function read_spaces(body) {
  const list = Array.isArray(body) ? body : Array.isArray(body?.spaces) ? body.spaces : [];
  return list.map(read_space);
}

function ms_between(a, b) {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  return Number.isNaN(ta) || Number.isNaN(tb) ? undefined : tb - ta;
}

// A request record (GET /api/requests/{id}, a history entry, or a terminal event).
export function read_request(raw) {
  const r = raw || {};
  const result = r.result && typeof r.result === 'object' ? r.result : {};
  const timings = r.timings && typeof r.timings === 'object' ? r.timings : {};
  const metrics = r.metrics && typeof r.metrics === 'object' ? r.metrics : result.metrics || {};
  const created = r.created ?? r.created_at ?? timings.created;
  const started = r.started ?? r.started_at ?? timings.started ?? timings.started_at;
  const deadline = r.deadline;
  const finished = r.finished ?? r.finished_at ?? timings.finished ?? timings.finished_at;
  // The broker lists stored output files at the top level (with their url); an
  // agent's result object names them too.
  const files = Array.isArray(r.files) && r.files.length ? r.files
    : Array.isArray(result.files) ? result.files : Array.isArray(r.outputs) ? r.outputs : [];
  const error = r.error && typeof r.error === 'object' ? r.error : undefined;
  // Whatever else the agent put in its result (a model's extra fields), shown as text.
  const extra = Object.fromEntries(Object.entries(result).filter(([k]) => !['output', 'confidence', 'files', 'metrics'].includes(k)));
  return {
    id: String(r.request_id ?? r.id ?? ''),
    space: str(r.space) ?? '',
    status: str(r.status) ?? str(r.state) ?? '',
    position: num(r.position),
    prompt: str(r.prompt),
    created,
    started,
    deadline,
    finished,
    output: str(result.output) ?? str(r.output) ?? str(r.output_text),
    confidence: num(result.confidence) ?? num(r.confidence),
    files: files.map((f) => ({
      blob: f.blob ?? f.id,
      name: str(f.name) ?? `file-${f.blob}`,
      mime: str(f.mime) ?? str(f.content_type) ?? 'application/octet-stream',
      size: num(f.size),
      // Only a same-origin API path is used as a link; anything else is rebuilt from the blob.
      url: typeof f.url === 'string' && f.url.startsWith('/api/requests/') ? f.url : undefined,
    })),
    inputs: (Array.isArray(r.inputs) ? r.inputs : []).map((f) => ({
      field: str(f.field) ?? '', name: str(f.name) ?? '', mime: str(f.mime) ?? '', size: num(f.size),
    })),
    extra: Object.keys(extra).length ? extra : undefined,
    inference_ms: num(metrics.inference_ms) ?? num(r.inference_ms) ?? num(timings.inference_ms),
    total_ms: num(timings.total_ms) ?? ms_between(created, finished),
    error: error ? { code: String(error.code ?? ''), message: String(error.message ?? '') } : undefined,
  };
}

// The signed-in user, from GET /api/me ({"user":{name, admin}, ...}) or a login answer.
export function read_user(body) {
  const u = body && typeof body.user === 'object' && body.user ? body.user : body || {};
  return { username: String(u.username ?? u.name ?? ''), admin: Boolean(u.admin ?? body?.admin) };
}

export function read_requests(body) {
  const list = Array.isArray(body) ? body : Array.isArray(body?.requests) ? body.requests : [];
  return list.map(read_request);
}

// What the page says when a request ends other than `completed`.
export function describe_ending(status, error, timeout_s) {
  const code = error?.code || '';
  const detail = error?.message || '';
  if (status === 'timeout' || code === 'timeout') {
    const limit = timeout_s ? ` of ${timeout_s} s` : '';
    return {
      title: 'Timed out',
      text: `The request did not finish within the space's time limit${limit} (waiting in the queue counts too).`,
    };
  }
  if (status === 'cancelled') {
    return { title: 'Cancelled', text: 'The request was cancelled before it finished.' };
  }
  if (code === 'agent_lost') {
    return {
      title: 'Agent lost',
      text: 'The GPU machine serving this space disconnected while working on the request, too many times. Try again later.',
    };
  }
  return {
    title: 'Failed',
    text: `The request failed${code ? ` (${code})` : ''}${detail ? `: ${detail}` : '.'}`,
  };
}

// What the page says when a call to the broker fails (submit, cancel, load).
export function describe_api_error(err, context) {
  if (!err || typeof err !== 'object') return 'Something went wrong.';
  switch (err.status) {
    case 413:
      return 'The upload is too large for this broker. Send smaller files.';
    case 429: {
      const wait = err.retry_after !== undefined ? ` Try again in ${err.retry_after} s.` : ' Try again later.';
      return `The queue for this space is full.${wait}`;
    }
    case 401:
      return 'You are not signed in (or your session ended). Sign in again.';
    case 403:
      return err.code === 'account_disabled' ? err.message : 'You are not allowed to do that.';
    case 404:
      return context === 'space' ? 'This space does not exist.' : 'Not found.';
    case 410:
      return `This request was removed: ${err.message}`;
    case 503: {
      const wait = err.retry_after !== undefined ? ` Try again in ${err.retry_after} s.` : ' Try again in a moment.';
      if (err.code === 'store_unavailable') return `The broker cannot store new requests right now (its disk may be full); nothing was accepted.${wait}`;
      return `The broker is shutting down or draining.${wait}`;
    }
    default:
      break;
  }
  if (err.code === 'network' && context === 'upload') {
    return 'The upload was interrupted. If the files are large, the broker may have refused them as too large.';
  }
  const code = err.code && !String(err.code).startsWith('http_') ? ` (${err.code})` : '';
  return `${err.message || 'Something went wrong.'}${code}`;
}
