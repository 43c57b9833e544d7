// Runs an async function now and then every `interval_ms` after it settles,
// until stopped. One call in flight at a time, so a slow broker never piles up
// requests from the page.

export function poll(fn, interval_ms) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    timer = null;
    try {
      await fn();
    } catch {
      // fn shows its own errors; keep polling so the page recovers by itself
    }
    if (!stopped) timer = setTimeout(tick, interval_ms);
  };
  tick();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
