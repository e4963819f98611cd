import { useLayoutEffect, useState } from 'react';

/**
 * The content size of an element, kept current with a ResizeObserver (0 × 0 until it is laid out). Pass `measure`
 * as the element's `ref`; being a callback, it also measures an element that appears later (after a message, say).
 */
export function useElementSize<T extends HTMLElement>() {
  const [element, measure] = useState<T | null>(null);
  const [size, setSize] = useState({ width: 0, height: 0 });
  useLayoutEffect(() => {
    if (!element) {
      return;
    }
    const observer = new ResizeObserver(([entry]) => {
      const { width, height } = entry.contentRect;
      setSize((previous) => (previous.width === width && previous.height === height ? previous : { width, height }));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [element]);
  return [measure, size] as const;
}
