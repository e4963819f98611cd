import { PanelPlugin } from '@grafana/data';
import { DistributionPanel } from './components/DistributionPanel';
import type { DistributionOptions } from './types';

export const plugin = new PanelPlugin<DistributionOptions>(DistributionPanel).setPanelOptions((builder) =>
  builder
    .addRadio({
      path: 'mode',
      name: 'Mode',
      description: 'Histogram of the bins, or the two CDFs with the Kolmogorov–Smirnov gap',
      defaultValue: 'histogram',
      settings: {
        options: [
          { value: 'histogram', label: 'Histogram' },
          { value: 'cdf', label: 'CDF' },
        ],
      },
    })
    .addRadio({
      path: 'barLayout',
      name: 'Bars',
      defaultValue: 'overlaid',
      settings: {
        options: [
          { value: 'overlaid', label: 'Overlaid' },
          { value: 'side-by-side', label: 'Side by side' },
        ],
      },
      showIf: (options) => options.mode === 'histogram',
    })
    .addTextInput({
      path: 'feature',
      name: 'Feature',
      description: 'Feature shown first (a name or a variable such as $feature); empty shows the first one',
      defaultValue: '',
    })
    .addBooleanSwitch({ path: 'showReadouts', name: 'Readouts', defaultValue: true })
);
