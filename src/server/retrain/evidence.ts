/**
 * What a retraining request says about the model, read from the store with the datasource's own query handlers:
 * the version that served the drifting traffic and the features that drifted, over the window the alert looked at
 * (the three days before it fired).
 */
import { parseQuery, type DriftQuery } from '../../core/query/queryTypes';
import type { FieldLike, FrameLike } from '../../core/query/frames';
import type { DatasourceInstance } from '../backend/instances';
import { localInstanceSettings, parseSettings } from '../backend/settings';
import { driftQuery } from '../queries/drift';
import type { PredictionStore } from '../store/types';

const DAY_MS = 24 * 3600 * 1000;
/** How far back from the alert's start the request looks: the retrain rule's three daily buckets. */
export const EVIDENCE_WINDOW_MS = 3 * DAY_MS;

export interface DriftingFeature {
  feature: string;
  metric: string;
  value: number;
  noiseFloor: number | null;
  /** 2 warning, 3 critical (noise-floor-aware, as the drift query rates it). */
  level: number;
}

/** The datasource instance of the hook: the handlers read the store the hook opened, with default thresholds. */
export function hookInstance(store: PredictionStore): DatasourceInstance {
  return {
    settings: parseSettings(localInstanceSettings({ storeKind: 'embedded', dataDirectory: '.' }, {}, 'retrain-hook')),
    store: async () => store,
    dispose: async () => undefined,
  };
}

const lastNumber = (frame: FrameLike, name: string): number | null => {
  const field: FieldLike | undefined = frame.fields.find((f) => f.name === name);
  const value = field?.values[field.values.length - 1];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
};

/**
 * The features at warning or above over `range` (one bucket over the whole range, as an alert rule reads it),
 * most drifted first.
 */
export async function driftingFeatures(
  instance: DatasourceInstance,
  model: string,
  range: { from: number; to: number },
  signal: AbortSignal
): Promise<DriftingFeature[]> {
  const query = parseQuery({ refId: 'evidence', queryType: 'drift', model }) as DriftQuery;
  const frames = await driftQuery({
    query,
    range,
    intervalMs: range.to - range.from,
    maxDataPoints: 1,
    alert: true,
    instance,
    signal,
  });
  const drifting: DriftingFeature[] = [];
  for (const frame of frames) {
    const value = lastNumber(frame, 'value');
    const level = lastNumber(frame, 'level');
    if (value !== null && level !== null && level >= 2) {
      drifting.push({
        feature: String(frame.name),
        metric: query.metric ?? 'psi',
        value,
        noiseFloor: lastNumber(frame, 'noise_floor'),
        level,
      });
    }
  }
  return drifting.sort((a, b) => b.level - a.level || b.value - a.value);
}

/** The version named by the alert, else the one whose traffic is newest. */
export async function servingVersion(store: PredictionStore, model: string, named: string | undefined) {
  if (named) {
    return named;
  }
  const versions = await store.listVersions(model);
  return versions.sort((a, b) => b.lastTs - a.lastTs)[0]?.version ?? null;
}
