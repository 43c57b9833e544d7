// The audio thread's half of the recorder (recorder.js): hands each block of
// the first input channel to the page. Loaded with audioWorklet.addModule.
class tether_capture extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel && channel.length) this.port.postMessage(channel.slice(0));
    return true;
  }
}
registerProcessor('tether-capture', tether_capture);
