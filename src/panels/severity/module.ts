import { PanelPlugin } from '@grafana/data';
import { SeverityPanel } from './components/SeverityPanel';
import { DEFAULT_DRILLDOWN_URL, SeverityOptions } from './types';

export const plugin = new PanelPlugin<SeverityOptions>(SeverityPanel).setPanelOptions((builder) =>
  builder
    .addRadio({
      path: 'sortBy',
      name: 'Sort features',
      defaultValue: 'worst',
      settings: {
        options: [
          { value: 'worst', label: 'Worst first' },
          { value: 'name', label: 'By name' },
        ],
      },
    })
    .addTextInput({
      path: 'drilldownUrl',
      name: 'Drill-down URL',
      description:
        'Opened from a cell; ${__model}, ${__feature}, ${__from}, ${__to} (bucket, epoch ms) and dashboard variables are replaced',
      defaultValue: DEFAULT_DRILLDOWN_URL,
    })
    .addBooleanSwitch({ path: 'showLegend', name: 'Legend', defaultValue: true })
);
