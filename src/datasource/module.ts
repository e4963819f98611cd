import { DataSourcePlugin } from '@grafana/data';
import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { MonitorDataSource } from './datasource';
import type { MonitorDataQuery, MonitorOptions } from './types';
import type { MonitorSecureJsonData } from '../core/query';

export const plugin = new DataSourcePlugin<MonitorDataSource, MonitorDataQuery, MonitorOptions, MonitorSecureJsonData>(
  MonitorDataSource
)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
