/**
 * The periodic sweep of expired entries that every backend without native expiry runs: one sweep
 * at a time, on a timer that never keeps the process alive, stopped (and waited for) on dispose.
 */
export interface Sweeper {
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>
}

/**
 * Runs `sweep` about every `seconds`; a failed sweep (the store unreachable) is tried at the next
 * one. Each wait is drawn within ±25 % of `seconds`, so processes started together (the workers of
 * `--workers` on one fs folder) do not all sweep the same data at the same moment.
 */
export function startSweeper(sweep: () => Promise<void>, seconds: number): Sweeper {
  let running: Promise<void> | undefined
  let timer: ReturnType<typeof setTimeout>
  const schedule = () => {
    timer = setTimeout(
      () => {
        running ??= sweep()
          .catch(() => {})
          .finally(() => {
            running = undefined
          })
        schedule()
      },
      seconds * 1000 * (0.75 + Math.random() / 2),
    )
    // Workers' timers are numbers: nothing keeps an isolate alive, and there is nothing to unref.
    ;(timer as { unref?: () => void }).unref?.()
  }
  schedule()
  return {
    async stop() {
      clearTimeout(timer)
      await running
    },
  }
}
