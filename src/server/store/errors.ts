/**
 * Errors a store raises that its callers act on.
 */

/**
 * A file a query named was replaced while the query ran (a compaction merged its day, or retention dropped it).
 * The data is intact: planning the query again reads the files as they are now (the backend does so once).
 */
export class StoreChangedError extends Error {
  constructor(detail: string) {
    super(
      `A file of the store was replaced while the query read it (compaction or retention ran meanwhile): run the query again. ${detail}`
    );
    this.name = 'StoreChangedError';
  }
}
