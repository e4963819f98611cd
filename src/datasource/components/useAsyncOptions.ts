import { useEffect, useState } from 'react';
import type { ComboboxOption } from '@grafana/ui';

export interface AsyncOptions {
  options: Array<ComboboxOption<string>>;
  loading: boolean;
  error?: string;
}

/**
 * Options loaded from the backend for a picker, reloaded when `key` changes; `load` is skipped (no options) when
 * `key` is null. A failed load yields no options and the error message, shown under the picker.
 */
export function useAsyncOptions(key: string | null, load: () => Promise<Array<ComboboxOption<string>>>): AsyncOptions {
  const [result, setResult] = useState<{ key: string | null; options: Array<ComboboxOption<string>>; error?: string }>({
    key: null,
    options: [],
  });
  useEffect(() => {
    if (key === null) {
      return;
    }
    let current = true;
    load().then(
      (options) => current && setResult({ key, options }),
      (error: unknown) => current && setResult({ key, options: [], error: errorMessage(error) })
    );
    return () => {
      current = false;
    };
    // `load` is recreated on every render; `key` says when its result changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  if (key === null) {
    return { options: [], loading: false };
  }
  const settled = result.key === key;
  // While a new key loads, the previous options stay on offer.
  return { options: result.options, loading: !settled, error: settled ? result.error : undefined };
}

/** The message of an error from getBackendSrv (which rejects with `{data: {message|error}}`) or a plain Error. */
export function errorMessage(error: unknown): string {
  const data = (error as { data?: { message?: string; error?: string } } | null)?.data;
  return data?.error ?? data?.message ?? (error instanceof Error ? error.message : String(error));
}
