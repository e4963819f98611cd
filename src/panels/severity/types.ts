export type SeveritySort = 'worst' | 'name';

export interface SeverityOptions {
  sortBy: SeveritySort;
  /**
   * URL opened from a cell. `${__model}`, `${__feature}`, `${__from}` and `${__to}` (the bucket, epoch ms) are
   * filled per cell; dashboard variables are replaced after that.
   */
  drilldownUrl: string;
  showLegend: boolean;
}

export const DEFAULT_DRILLDOWN_URL =
  '/d/mlmon-model-overview/model-overview?var-model=${__model}&var-feature=${__feature}&from=${__from}&to=${__to}';
