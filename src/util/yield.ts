/**
 * Let the event loop run: a training or evaluation loop that only awaits already-settled promises
 * (tfjs's CPU reads) never reaches it, so signal handlers (SIGINT/SIGTERM releasing a run's lock)
 * would wait for the whole run. One call per step costs microseconds.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
