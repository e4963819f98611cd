/**
 * How the model registry (MLflow) meets the query model: `@alias` version references, `models:/` URIs, and how a
 * registry version maps to the version string of the prediction logs. Isomorphic: no Node imports.
 */

/** The model-version tag that names the prediction logs' version string of a registry version (default: its number). */
export const VERSION_TAG = 'mlmon.version';

/**
 * The query fields that hold a version name and so may hold an `@alias` (resolved through the registry before the
 * handlers run: src/server/registry/resolve.ts). A query type with another version-valued field adds it here.
 */
export const VERSION_FIELDS = ['version', 'champion', 'challenger'] as const;

/** The alias a version reference names (`@champion` → `champion`), or undefined for a plain version name. */
export function aliasOf(version: string): string | undefined {
  return version.startsWith('@') && version.length > 1 ? version.slice(1) : undefined;
}

/** A registry reference: `models:/NAME@ALIAS` or `models:/NAME/VERSION` (MLflow's model URI forms). */
export type RegistryReference = { name: string; alias: string } | { name: string; version: string };

/** Parses a `models:/` URI; throws a message saying the two accepted forms. */
export function parseModelsUri(uri: string): RegistryReference {
  const match = /^models:\/([^/@]+)(?:@([^/@]+)|\/(\d+))$/.exec(uri.trim());
  if (!match) {
    throw new Error(
      `${JSON.stringify(uri)} is not a registry reference: give models:/NAME@ALIAS or models:/NAME/VERSION`
    );
  }
  const name = decodeURIComponent(match[1]);
  return match[2] !== undefined ? { name, alias: match[2] } : { name, version: match[3] };
}

/** The registry version's tags, as MLflow's REST API lists them. */
export interface RegistryTag {
  key: string;
  value: string;
}

/** The version string the prediction logs of a registry version carry: its `mlmon.version` tag, else its number. */
export function logVersionOf(registryVersion: { version: string; tags?: RegistryTag[] }): string {
  const tagged = registryVersion.tags?.find((tag) => tag.key === VERSION_TAG)?.value.trim();
  return tagged || registryVersion.version;
}
