/**
 * Let timers and I/O run. Training and decoding await only promises that are already resolved
 * (the CPU engines compute synchronously), so without this a 40-second cell never lets a timer
 * fire: a queue worker could not renew its job's lock, and the job would be taken from it as
 * stalled. One setImmediate per training step or decoding batch costs microseconds.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
