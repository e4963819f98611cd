/**
 * Registry events as annotations:
 * - "version registered", from the registry's creation timestamps (exact to the millisecond), read at query time;
 * - "alias moved": MLflow keeps no history of aliases, so the collector (`mlmon serve --registry-url`) polls each
 *   model's aliases every --registry-interval-ms and records every change in the store's event log (kind
 *   ALIAS_EVENT_KIND), stamped with the time it saw the change: at most one interval after the move. The last
 *   recorded assignment of each alias is the state the next poll compares with, so a collector that stopped or
 *   crashed between a change and its record records it on its next poll.
 */
import type { AnnotationEventRow } from '../../core/query/frames';
import { logVersionOf } from '../../core/query/registry-refs';
import type { ModelEvent, PredictionStore } from '../store/types';
import { RegistryError, type RegistryVersion } from './mlflow';
import type { ModelRegistryView } from './resolve';

/** The kind of the recorded "alias moved" events. */
export const ALIAS_EVENT_KIND = 'registry_alias';
/** Tag prefixes of an alias event that hold its state (the alias and the registry version it points at). */
const ALIAS_TAG = 'alias=';
const TARGET_TAG = 'registry_version=';

/** The annotation of one registered version. */
export function versionRegisteredEvent(version: RegistryVersion): AnnotationEventRow {
  const logVersion = logVersionOf(version);
  return {
    time: version.createdAt,
    timeEnd: version.createdAt,
    title: `Registered: ${version.name} version ${version.version}`,
    text:
      `MLflow registered version ${version.version} of ${version.name}` +
      (version.runId ? ` from run ${version.runId}` : '') +
      `; its predictions are logged as version "${logVersion}"`,
    tags: ['registry', 'version_registered', logVersion],
  };
}

/** The versions of a model registered within the range, as annotations. */
export async function registeredVersionEvents(
  registry: ModelRegistryView,
  model: string,
  range: { from: number; to: number },
  signal?: AbortSignal
): Promise<AnnotationEventRow[]> {
  const versions = await registry.versions(model, signal);
  return versions.filter((v) => v.createdAt >= range.from && v.createdAt < range.to).map(versionRegisteredEvent);
}

/** Alias → registry version number (undefined: removed) as the recorded events last left it. */
export function recordedAliases(events: ModelEvent[]): Map<string, string | undefined> {
  const state = new Map<string, string | undefined>();
  for (const event of events) {
    const alias = event.kind === ALIAS_EVENT_KIND && event.tags.find((tag) => tag.startsWith(ALIAS_TAG));
    if (alias) {
      const target = event.tags.find((tag) => tag.startsWith(TARGET_TAG))?.slice(TARGET_TAG.length);
      state.set(alias.slice(ALIAS_TAG.length), target || undefined);
    }
  }
  return state;
}

/** The event recording that `alias` now points at `to` (undefined: was removed), having pointed at `from`. */
export function aliasMovedEvent(
  registeredName: string,
  alias: string,
  from: string | undefined,
  to: RegistryVersion | undefined,
  ts: number,
  firstSeen: boolean
): ModelEvent {
  const target = to ? `version ${to.version} (logged as "${logVersionOf(to)}")` : 'no version (alias removed)';
  const before = firstSeen
    ? 'first seen by the collector, set at or before this time'
    : from === undefined
      ? 'newly set'
      : `was version ${from}`;
  return {
    ts,
    kind: ALIAS_EVENT_KIND,
    title: `@${alias} → ${to ? `${registeredName} version ${to.version}` : 'removed'}`,
    text: `MLflow alias @${alias} of ${registeredName} now points at ${target}; ${before}`,
    tags: [
      'registry',
      'alias_moved',
      `@${alias}`,
      ...(to ? [logVersionOf(to)] : []),
      `${ALIAS_TAG}${alias}`,
      `${TARGET_TAG}${to?.version ?? ''}`,
    ],
  };
}

/**
 * One poll of a model's aliases: records an event for every alias whose registry version differs from the last
 * recorded one. Returns the events recorded. A model that is not registered has no aliases to watch.
 */
export async function recordAliasChanges(
  store: PredictionStore,
  registry: ModelRegistryView,
  model: string,
  now: number,
  signal?: AbortSignal
): Promise<ModelEvent[]> {
  const name = registry.registeredName(model);
  let aliases: Record<string, string>;
  try {
    aliases = (await registry.client.getRegisteredModel(name, signal)).aliases;
  } catch (error) {
    if (error instanceof RegistryError && error.kind === 'not_found') {
      return [];
    }
    throw error;
  }
  const recorded = recordedAliases(await store.getEvents(model));
  const changed = [...new Set([...Object.keys(aliases), ...recorded.keys()])]
    .filter((alias) => aliases[alias] !== recorded.get(alias))
    .sort();
  const events: ModelEvent[] = [];
  for (const alias of changed) {
    const to =
      aliases[alias] === undefined ? undefined : await registry.client.getVersion(name, aliases[alias], signal);
    const event = aliasMovedEvent(name, alias, recorded.get(alias), to, now, !recorded.has(alias));
    await store.recordEvent(model, event);
    events.push(event);
  }
  return events;
}

export interface RegistryWatch {
  /** Stops polling; resolves once a poll under way has finished. */
  stop(): Promise<void>;
}

/**
 * Polls the aliases of every model of the store (and every model the registry mapping names) every `intervalMs`,
 * recording changes (recordAliasChanges). A failed poll is logged and tried again at the next interval.
 */
export function scheduleRegistryWatch(
  store: PredictionStore,
  registry: ModelRegistryView,
  options: { intervalMs: number; mappedModels?: string[]; log: (line: string) => void; now?: () => number }
): RegistryWatch {
  const now = options.now ?? Date.now;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const poll = async () => {
    const models = [...new Set([...(await store.listModels()), ...(options.mappedModels ?? [])])].sort();
    for (const model of models) {
      const events = await recordAliasChanges(store, registry, model, now(), controller.signal);
      for (const event of events) {
        options.log(`registry: ${model}: ${event.title}`);
      }
    }
  };
  const tick = () => {
    running = poll()
      .catch((error: Error) => {
        if (!controller.signal.aborted) {
          options.log(`registry poll failed (tried again in ${options.intervalMs} ms): ${error.message}`);
        }
      })
      .finally(() => {
        if (!controller.signal.aborted) {
          timer = setTimeout(tick, options.intervalMs);
        }
      });
  };
  tick();
  return {
    async stop() {
      controller.abort();
      clearTimeout(timer);
      await running;
    },
  };
}
