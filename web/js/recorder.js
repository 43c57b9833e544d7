// Records from the microphone in the page. Where the browser has a
// MediaRecorder for Opus (Chromium and Firefox: WebM/Opus or Ogg/Opus), the
// take is sent in the browser's own format, small and as recorded (the
// agent decodes it with FFmpeg's libraries). Elsewhere it is encoded as a
// WAV file (16-bit PCM, mono, at the audio device's rate; the agent
// resamples), with no library: an AudioWorklet that copies samples out and a
// hand-written RIFF header.

// Mono float samples in [-1, 1] -> a WAV Blob.
export function encode_wav(samples, rate) {
  const data_bytes = samples.length * 2;
  const buf = new ArrayBuffer(44 + data_bytes);
  const v = new DataView(buf);
  const text = (at, s) => { for (let i = 0; i < s.length; i++) v.setUint8(at + i, s.charCodeAt(i)); };
  text(0, 'RIFF'); v.setUint32(4, 36 + data_bytes, true); text(8, 'WAVE');
  text(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  text(36, 'data'); v.setUint32(40, data_bytes, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i] || 0));
    v.setInt16(44 + i * 2, s < 0 ? s * 32768 : s * 32767, true);
  }
  return new Blob([buf], { type: 'audio/wav' });
}

// The Opus recording type this browser's MediaRecorder makes, or null.
export function opus_recording_type() {
  if (typeof MediaRecorder === 'undefined' || !MediaRecorder.isTypeSupported) return null;
  for (const type of ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus']) if (MediaRecorder.isTypeSupported(type)) return type;
  return null;
}

// Records with MediaRecorder in `type`; the same interface as create_recorder.
function create_media_recorder(type, max_seconds) {
  let stream = null;
  let recorder = null;
  let parts = [];
  let started = 0;
  let stopped_at = 0;
  let timer = null;
  const elapsed = () => ((stopped_at || (started ? performance.now() : 0)) - started) / 1000;

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error('This browser cannot record audio here (it needs HTTPS or localhost).');
    stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    parts = [];
    stopped_at = 0;
    recorder = new MediaRecorder(stream, { mimeType: type });
    recorder.ondataavailable = (e) => { if (e.data && e.data.size) parts.push(e.data); };
    recorder.start(250);
    started = performance.now();
    timer = setTimeout(() => { if (recorder && recorder.state === 'recording') recorder.stop(); }, max_seconds * 1000);
  }

  async function stop() {
    clearTimeout(timer);
    const r = recorder;
    if (r && r.state !== 'inactive') await new Promise((resolve) => { r.onstop = resolve; r.stop(); });
    stopped_at = performance.now();
    if (stream) for (const t of stream.getTracks()) t.stop();
    stream = null;
    recorder = null;
    const seconds = Math.min(elapsed(), max_seconds);
    const mime = type.split(';')[0];
    const file = new File(parts, mime === 'audio/ogg' ? 'recording.ogg' : 'recording.webm', { type: mime });
    parts = [];
    return { file, seconds };
  }

  return { start, stop, seconds: () => Math.min(elapsed(), max_seconds), recording: () => stream !== null };
}

// Returns {start(), stop() -> Promise<{file, seconds}>, seconds()}; start()
// rejects with the browser's error when there is no microphone or no
// permission. `options.wav` forces the WAV path.
export function create_recorder(max_seconds = 3600, options = {}) {
  const type = options.wav ? null : opus_recording_type();
  if (type) return create_media_recorder(type, max_seconds);
  return create_wav_recorder(max_seconds);
}

function create_wav_recorder(max_seconds) {
  let stream = null;
  let ctx = null;
  let node = null;
  let chunks = [];
  let frames = 0;
  let rate = 48000;

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error('This browser cannot record audio here (it needs HTTPS or localhost).');
    stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    ctx = new AudioContext();
    rate = ctx.sampleRate;
    await ctx.audioWorklet.addModule('js/recorder_worklet.js');
    const source = ctx.createMediaStreamSource(stream);
    node = new AudioWorkletNode(ctx, 'tether-capture');
    chunks = [];
    frames = 0;
    node.port.onmessage = (e) => {
      if (frames >= max_seconds * rate) return;
      chunks.push(e.data);
      frames += e.data.length;
    };
    // A silent path to the output keeps the graph (and the worklet) running.
    const mute = ctx.createGain();
    mute.gain.value = 0;
    source.connect(node).connect(mute).connect(ctx.destination);
  }

  async function stop() {
    if (stream) for (const t of stream.getTracks()) t.stop();
    if (ctx) await ctx.close();
    stream = null;
    ctx = null;
    node = null;
    const samples = new Float32Array(frames);
    let at = 0;
    for (const c of chunks) { samples.set(c.subarray(0, Math.min(c.length, frames - at)), at); at += c.length; }
    chunks = [];
    const seconds = frames / rate;
    const file = new File([encode_wav(samples, rate)], 'recording.wav', { type: 'audio/wav' });
    return { file, seconds };
  }

  return { start, stop, seconds: () => frames / rate, recording: () => stream !== null };
}
