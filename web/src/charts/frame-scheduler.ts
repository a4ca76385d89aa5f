/**
 * Chart redraws share the animation frame: each frame draws the charts that
 * asked for it, in order of asking, until a time budget is spent, and leaves
 * the rest for the next frame. Twenty charts updating at 10 Hz then cost a
 * few milliseconds per frame instead of one long frame every 100 ms.
 */

const BUDGET_MS = 8;
const pending = new Set<() => void>();
let scheduled = false;

/** Asks for `draw` to run in an upcoming frame (once, however often it is asked). */
export function requestDraw(draw: () => void): void {
  pending.add(draw);
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(flush);
  }
}

export function cancelDraw(draw: () => void): void {
  pending.delete(draw);
}

function flush(): void {
  scheduled = false;
  const start = performance.now();
  for (const draw of pending) {
    pending.delete(draw);
    draw();
    if (performance.now() - start > BUDGET_MS) break;
  }
  if (pending.size > 0) {
    scheduled = true;
    requestAnimationFrame(flush);
  }
}
