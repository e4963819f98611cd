import type { DataSourceJsonData } from '@grafana/data';
import type { DataQuery } from '@grafana/schema';
import type { MonitorJsonData, MonitorQuery } from '../core/query';

/**
 * A query as Grafana stores it: the core query model plus Grafana's DataQuery keys (datasource, key, …) and the
 * editor's `live` toggle (false: never streams; src/core/query/live.ts).
 */
export type MonitorDataQuery = MonitorQuery & DataQuery & { live?: boolean };

/** The datasource's jsonData as Grafana types it. */
export type MonitorOptions = MonitorJsonData & DataSourceJsonData;
