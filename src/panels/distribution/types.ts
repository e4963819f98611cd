export type DistributionMode = 'histogram' | 'cdf';
export type BarLayout = 'overlaid' | 'side-by-side';

export interface DistributionOptions {
  mode: DistributionMode;
  barLayout: BarLayout;
  /** Feature shown first; empty shows the first feature of the data. */
  feature: string;
  showReadouts: boolean;
}
