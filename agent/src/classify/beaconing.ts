// Says whether one process's connections to one destination keep a rhythm:
// short connections repeated at a regular interval, the way implants call home
// ("beacon"). Pure: connection start times in, a verdict with its reason out.
//
// The typical gap is the mean of the middle half of the gaps between
// connections. A gap is on the beat when it is near a whole multiple of it, so
// a missed beat (a gap of two intervals) does not break the rhythm. The beat
// is then refined over the gaps on it, and the jitter reported is how far any
// connection strays from a grid at that beat (strays beyond the tolerance left
// out). Order statistics throughout, so a few stray connections cannot drag
// the estimate.

export interface BeaconingOptions {
  /** Fewest connections to call a rhythm at all. */
  minCount?: number;
  /** Gaps shorter than this are a burst, not a beacon. */
  minIntervalMs?: number;
  /** Tolerance around the beat, as a fraction of the interval... */
  jitterRatio?: number;
  /** ...but never tighter than this (clock granularity, scheduling). */
  minJitterMs?: number;
  /** Share of gaps that must be on the beat. */
  minOnBeat?: number;
  /** A connection lasting longer than this fraction of the interval is not "short". */
  maxDurationRatio?: number;
  /** Where the connections go, for the reason: "203.0.113.9:443". */
  destination?: string;
}

export interface BeaconingVerdict {
  beaconing: boolean;
  /** Median gap, ms; 0 with fewer than two connections. */
  intervalMs: number;
  /** Largest deviation from the beat among gaps on it, ms. */
  jitterMs: number;
  count: number;
  spanMs: number;
  /** Beats with no connection (gaps of two or more intervals). */
  missedBeats: number;
  /** Share of gaps on the beat, 0..1. */
  onBeat: number;
  reason: string;
}

const DEFAULTS = { minCount: 6, minIntervalMs: 1000, jitterRatio: 0.1, minJitterMs: 500, minOnBeat: 0.8, maxDurationRatio: 0.5 };

/**
 * @param startsMs connection start times, ms, any order (duplicates are one connection)
 * @param durationsMs optional durations, same order as startsMs
 */
export function detectBeaconing(startsMs: readonly number[], o: BeaconingOptions = {}, durationsMs?: readonly number[]): BeaconingVerdict {
  const opt = { ...DEFAULTS, ...o };
  const to = o.destination ? ` to ${o.destination}` : "";
  const times = [...new Set(startsMs.filter((x) => Number.isFinite(x)))].sort((a, b) => a - b);
  const count = times.length;
  const spanMs = count > 1 ? times[count - 1]! - times[0]! : 0;
  const gaps = times.slice(1).map((x, i) => x - times[i]!);
  let intervalMs = gaps.length ? Math.round(interquartileMean(gaps)) : 0;
  const verdict = (beaconing: boolean, reason: string, extra: Partial<BeaconingVerdict> = {}): BeaconingVerdict => ({
    beaconing,
    intervalMs,
    jitterMs: 0,
    count,
    spanMs,
    missedBeats: 0,
    onBeat: 0,
    reason,
    ...extra,
  });

  if (count < opt.minCount) return verdict(false, `only ${count} connection${count === 1 ? "" : "s"}${to}; at least ${opt.minCount} are needed to call a rhythm`);
  if (intervalMs < opt.minIntervalMs) return verdict(false, `connections${to} ${fmt(intervalMs)} apart are a burst, not a rhythm (floor ${fmt(opt.minIntervalMs)})`);

  // Each connection may be off its beat by the tolerance, so a gap between two by twice that.
  const tolerance = Math.max(intervalMs * opt.jitterRatio, opt.minJitterMs);
  const gapTolerance = 2 * tolerance;
  let on = 0;
  let missed = 0;
  let onSum = 0;
  for (const g of gaps) {
    const beats = Math.round(g / intervalMs);
    if (beats >= 1 && Math.abs(g - beats * intervalMs) <= gapTolerance) {
      on++;
      missed += beats - 1;
      onSum += g;
    }
  }
  // The beat refined over the gaps on it: a connection late then early makes one long
  // gap and one short, and their median is biased, their sum is not.
  const beat = on ? onSum / (on + missed) : intervalMs;
  // Jitter: each connection's distance from the nearest beat of one grid through
  // the first, centred on the median, strays (beyond the tolerance) left out.
  const residuals = times.map((x) => {
    const n = Math.round((x - times[0]!) / beat);
    return x - times[0]! - n * beat;
  });
  const centre = median(residuals);
  let jitter = 0;
  for (const r of residuals) if (Math.abs(r - centre) <= tolerance) jitter = Math.max(jitter, Math.abs(r - centre));
  const onBeat = on / gaps.length;
  if (onBeat < opt.minOnBeat) {
    return verdict(false, `irregular: typical gap ${fmt(intervalMs)}${to}, but only ${pct(onBeat)} of ${gaps.length} gaps within ± ${fmt(gapTolerance)} of a multiple of it`, {
      onBeat,
    });
  }
  intervalMs = Math.round(beat);
  const stats = { jitterMs: Math.round(jitter), missedBeats: missed, onBeat };
  if (durationsMs?.length) {
    const d = median(durationsMs.filter((x) => Number.isFinite(x)));
    if (d > intervalMs * opt.maxDurationRatio) {
      return verdict(false, `regular every ${fmt(intervalMs)}${to}, but connections last ${fmt(d)} (median): a long-lived session, not short calls`, stats);
    }
  }
  const notes = [`${count} connections`];
  if (missed) notes.push(`${missed} beat${missed === 1 ? "" : "s"} missed`);
  if (on < gaps.length) notes.push(`${gaps.length - on} off-beat`);
  return verdict(true, `every ${fmt(intervalMs)} ± ${fmt(stats.jitterMs)} for ${fmt(spanMs)}${to} (${notes.join(", ")})`, stats);
}

/** Mean of the middle half: a typical gap that neither missed beats nor bursts drag, and jitter does not bias. */
function interquartileMean(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const lo = Math.floor(s.length / 4);
  const hi = Math.max(lo + 1, s.length - lo);
  const mid = s.slice(lo, hi);
  return mid.reduce((a, b) => a + b, 0) / mid.length;
}

function median(xs: readonly number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A duration as people say it: 250 ms, 2 s, 1.5 s, 5 min, 5 h. */
export function fmt(ms: number): string {
  const one = (x: number) => String(Math.round(x * 10) / 10);
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${one(ms / 1000)} s`;
  if (ms < 120 * 60_000) return `${one(ms / 60_000)} min`;
  if (ms < 48 * 3_600_000) return `${one(ms / 3_600_000)} h`;
  return `${one(ms / 86_400_000)} d`;
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}
