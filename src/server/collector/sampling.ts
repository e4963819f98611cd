/**
 * Deterministic sampling by request id: a record is kept when h(id) / 2^32 < rate, where h is the 32-bit FNV-1a hash
 * of the id's UTF-16 code units (Fowler–Noll–Vo, http://www.isthe.com/chongo/tech/comp/fnv/) passed through
 * MurmurHash3's fmix32 finaliser, so that ids differing only in their last characters (req-1, req-2, …) spread
 * over the whole range. The same id is always
 * kept or always dropped, whichever collector replica sees it and however often it is re-sent, and a label is kept
 * exactly when its prediction was, so the join by id survives sampling.
 */
const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a of a string's UTF-16 code units, as an unsigned integer. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/** MurmurHash3's 32-bit finaliser (avalanche): every input bit affects every output bit. */
export function fmix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** True when the record with this id is kept at sampling rate `rate` (0 < rate ≤ 1). */
export function isSampled(id: string, rate: number): boolean {
  return rate >= 1 || fmix32(fnv1a32(id)) / 0x100000000 < rate;
}

/** Checks a sampling rate given on the command line or in options. */
export function validateSamplingRate(rate: number): number {
  if (!Number.isFinite(rate) || rate <= 0 || rate > 1) {
    throw new Error(`sampling rate ${rate} is not in (0, 1]; use e.g. --sample-rate 0.1 to keep 10 % of requests`);
  }
  return rate;
}
