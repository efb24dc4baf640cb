/**
 * The periodic sweep of expired entries that every backend without native expiry runs: one sweep
 * at a time, on a timer that never keeps the process alive, stopped (and waited for) on dispose.
 */
export interface Sweeper {
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>
}

/** Runs `sweep` every `seconds`; a failed sweep (the store unreachable) is tried at the next one. */
export function startSweeper(sweep: () => Promise<void>, seconds: number): Sweeper {
  let running: Promise<void> | undefined
  const timer = setInterval(() => {
    running ??= sweep()
      .catch(() => {})
      .finally(() => {
        running = undefined
      })
  }, seconds * 1000)
  // Workers' timers are numbers: nothing keeps an isolate alive, and there is nothing to unref.
  ;(timer as { unref?: () => void }).unref?.()
  return {
    async stop() {
      clearInterval(timer)
      await running
    },
  }
}
